/**
 * The Spark check against the local stack's real standalone master and worker, with a real
 * PySpark Structured Streaming application (rate source → noop sink) submitted by this test
 * under a fresh name, its driver UI on a free port with the Prometheus servlet and streaming
 * metrics enabled.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createSparkCheck, sparkJobTask, type SparkCheck } from '../../../checks/spark';
import type { ProbeContext, Signal, SparkFacts } from '../../../src/protocol';
import { startRateApp, stopRateApp } from '../../helpers/spark-rate-app';
import { freshName } from '../../helpers/names';
import { endpoints, ensureServices, STACK_TIMEOUT_MS } from '../../helpers/stack';

const appName = freshName('it-spark-check');
const queryName = freshName('q').replace(/-/g, '_');
let driverUi = '';
let child: ChildProcess | undefined;
let workDir = '';
const checks: SparkCheck[] = [];

function ctx(): ProbeContext {
  return { signal: new AbortController().signal, now: () => Date.now() };
}

async function getText(url: string): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return res.ok ? await res.text() : null;
  } catch {
    return null;
  }
}

async function waitFor(what: string, timeoutMs: number, test: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await test()) return;
    if (child?.exitCode !== null && child?.exitCode !== undefined) throw new Error(`spark-submit exited (${child.exitCode}) while waiting for ${what}; see ${workDir}/submit.log`);
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`timed out waiting for ${what}; see ${workDir}/submit.log`);
}

function make(options: Record<string, unknown>): SparkCheck {
  const c = createSparkCheck({ name: 'spark', options: { masterUrl: endpoints.sparkMasterUi, ...options } });
  checks.push(c);
  return c;
}

async function run(c: SparkCheck): Promise<{ signal: Signal; facts: SparkFacts }> {
  const [signal] = await c.probe(ctx());
  return { signal: signal!, facts: signal!.facts as SparkFacts };
}

const stopApp = (): Promise<void> => stopRateApp(child);

beforeAll(async () => {
  await ensureServices(['spark-master', 'spark-worker']);
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-it-'));
  const app = await startRateApp({ workDir, appName, queryName, rowsPerSecond: 20 });
  child = app.child;
  driverUi = app.driverUi;
  // RUNNING on the master and the query reporting rows through the driver's servlet.
  await waitFor(`${appName} RUNNING with streaming metrics`, 240_000, async () => {
    const master = await getText(`${endpoints.sparkMasterUi}/json/`);
    const running =
      master !== null && (JSON.parse(master) as { activeapps: Array<{ name: string; state: string }> }).activeapps.some((a) => a.name === appName && a.state === 'RUNNING');
    const metrics = running ? await getText(`${driverUi}/metrics/prometheus/`) : null;
    return metrics !== null && new RegExp(`_driver_spark_streaming_${queryName}_inputRate_total_Value\\S* [1-9]`).test(metrics);
  });
}, STACK_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(checks.splice(0).map((c) => c.close()));
  await stopApp();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
}, 60_000);

describe('spark check against the local standalone master', () => {
  test('master ALIVE, worker alive, the submitted app RUNNING with its duration; query rates from the Prometheus servlet', async () => {
    const c = make({
      apps: [appName],
      expectedWorkers: 1,
      driverMetricsUrl: `${driverUi}/metrics/prometheus`,
      streaming: { queries: [queryName], minProcessedRatio: 0 },
    });
    const { signal, facts } = await run(c);
    expect(signal.error).toBeUndefined();
    expect(signal.status).toBe('ok');
    expect(facts.masterStatus).toBe('ALIVE');
    expect(facts.aliveWorkers).toBeGreaterThanOrEqual(1);
    expect(facts.expectedApps).toEqual([{ name: appName, running: true }]);
    const app = facts.apps.find((a) => a.name === appName)!;
    expect(app.state).toBe('RUNNING');
    expect(app.id).toMatch(/^app-/);
    expect(app.durationSeconds).toBeGreaterThan(0);
    const q = facts.queries!.find((x) => x.name === queryName)!;
    expect(q.inputRowsPerSecond).toBeGreaterThan(0);
    expect(q.processedRowsPerSecond).toBeGreaterThan(0);
    expect(q.lastProgressAgeSeconds).toBeNull(); // first observation
    expect(signal.summary).toContain(`${appName} RUNNING`);

    // New batches change the gauges: progress seen since the previous probe.
    let age: number | null = null;
    for (let i = 0; i < 20 && age !== 0; i++) {
      await new Promise((r) => setTimeout(r, 2500));
      const again = await run(c);
      age = again.facts.queries!.find((x) => x.name === queryName)!.lastProgressAgeSeconds;
    }
    expect(age).toBe(0);
  });

  test('the Dropwizard JSON servlet (/metrics/json, on by default) gives the same query', async () => {
    const { facts } = await run(make({ apps: [appName], driverMetricsUrl: `${driverUi}/metrics/json/`, streaming: { queries: [queryName], minProcessedRatio: 0 } }));
    const q = facts.queries!.find((x) => x.name === queryName)!;
    expect(q.inputRowsPerSecond).toBeGreaterThan(0);
    expect(q.latencyMs).toBeGreaterThan(0);
  });

  test('an expected app that is not running is crit and named', async () => {
    const { signal, facts } = await run(make({ apps: [appName, 'no-such-app-for-sure'] }));
    expect(signal.status).toBe('crit');
    expect(facts.expectedApps).toEqual([
      { name: appName, running: true },
      { name: 'no-such-app-for-sure', running: false },
    ]);
    expect(signal.summary).toContain('app "no-such-app-for-sure" is not running');
  });

  test("sparkJobTask with the seed's spark:// master URL and job_name", async () => {
    const signal = await sparkJobTask({ spark_master: endpoints.sparkMaster, job_name: appName, name: 'check_spark' }, ctx());
    expect(signal.target).toBe(endpoints.sparkMasterUi);
    expect(signal.status).toBe('ok');
    expect((signal.facts as SparkFacts).expectedApps).toEqual([{ name: appName, running: true }]);
  });

  test('after the app stops: crit, the query is missing and the driver is unreachable', async () => {
    const c = make({ apps: [appName], driverMetricsUrl: `${driverUi}/metrics/prometheus`, streaming: { queries: [queryName] }, requestTimeout: 3 });
    await stopApp();
    let last: { signal: Signal; facts: SparkFacts } | undefined;
    for (let i = 0; i < 30; i++) {
      last = await run(c);
      if (!last.facts.expectedApps[0]!.running) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    expect(last!.signal.status).toBe('crit');
    expect(last!.facts.expectedApps).toEqual([{ name: appName, running: false }]);
    expect(last!.signal.summary).toContain(`app "${appName}" is not running`);
    expect(last!.signal.summary).toContain('driver metrics');
    expect(last!.signal.error?.code).toBe('SUP_ERR_SPARK_UNREACHABLE');
  }, 120_000);
});
