import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSparkCheck, masterUiUrl, parseMasterJson, parseSparkOptions, sparkJobTask, sparkOptionsSchema, type SparkCheck } from '../../../checks/spark';
import { parseDropwizardJson, parsePrometheusText, parseStreamingMetrics } from '../../../checks/spark-metrics';
import type { ProbeContext, Signal, SparkFacts } from '../../../src/protocol';

const NOW = 1_736_942_400_000;

/** Shape of a Spark 4 standalone master's /json/ answer (one worker, one streaming app). */
function masterDoc(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    url: 'spark://127.0.0.1:7077',
    workers: [
      {
        id: 'worker-20250115120000-127.0.0.1-40001',
        host: '127.0.0.1',
        port: 40001,
        webuiaddress: 'http://127.0.0.1:8082',
        cores: 2,
        coresused: 1,
        coresfree: 1,
        memory: 2048,
        memoryused: 1024,
        memoryfree: 1024,
        resources: {},
        resourcesused: {},
        resourcesfree: {},
        state: 'ALIVE',
        lastheartbeat: NOW - 5000,
      },
    ],
    aliveworkers: 1,
    cores: 2,
    coresused: 1,
    memory: 2048,
    memoryused: 1024,
    resources: [],
    resourcesused: [],
    activeapps: [
      {
        id: 'app-20250115115000-0000',
        starttime: NOW - 600_000,
        name: 'bronze_ingest',
        cores: 1,
        user: 'spark',
        memoryperexecutor: 1024,
        memoryperslave: 1024,
        resourcesperexecutor: [],
        resourcesperslave: [],
        submitdate: 'Wed Jan 15 11:50:00 UTC 2025',
        state: 'RUNNING',
        duration: 600_000,
      },
    ],
    completedapps: [],
    activedrivers: [],
    completeddrivers: [],
    status: 'ALIVE',
    ...over,
  };
}

interface Route {
  status?: number;
  body: string;
  delayMs?: number;
}

let server: http.Server;
let baseUrl: string;
const routes = new Map<string, Route>();
let check: SparkCheck | undefined;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/metrics/prometheus' && routes.has('/metrics/prometheus/')) {
      res.writeHead(302, { location: `${baseUrl}/metrics/prometheus/` }).end();
      return;
    }
    const route = routes.get(req.url ?? '');
    if (!route) {
      res.writeHead(404).end('not found');
      return;
    }
    const send = (): void => {
      res.writeHead(route.status ?? 200, { 'content-type': route.body.startsWith('{') ? 'application/json' : 'text/plain' }).end(route.body);
    };
    if (route.delayMs) setTimeout(send, route.delayMs).unref();
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => routes.clear());
afterEach(async () => {
  await check?.close();
  check = undefined;
});

function ctx(now = NOW, signal = new AbortController().signal): ProbeContext {
  return { signal, now: () => now };
}

function make(options: Record<string, unknown> = {}): SparkCheck {
  check = createSparkCheck({ name: 'spark', options: { masterUrl: baseUrl, ...options } });
  return check;
}

async function run(c: SparkCheck, now = NOW): Promise<{ signal: Signal; facts: SparkFacts }> {
  const [signal] = await c.probe(ctx(now));
  return { signal: signal!, facts: signal!.facts as SparkFacts };
}

function master(doc: unknown): void {
  routes.set('/json/', { body: typeof doc === 'string' ? doc : JSON.stringify(doc) });
}

describe('spark master', () => {
  test('healthy master, worker and expected app', async () => {
    master(masterDoc());
    const { signal, facts } = await run(make({ apps: ['bronze_ingest'] }));
    expect(signal.status).toBe('ok');
    expect(signal.target).toBe(baseUrl);
    expect(signal.value).toBe(1);
    expect(facts).toEqual({
      kind: 'spark',
      masterStatus: 'ALIVE',
      aliveWorkers: 1,
      expectedWorkers: 1,
      apps: [{ id: 'app-20250115115000-0000', name: 'bronze_ingest', state: 'RUNNING', durationSeconds: 600, cores: 1 }],
      expectedApps: [{ name: 'bronze_ingest', running: true }],
    });
    expect(signal.summary).toBe('master ALIVE, 1/1 workers, bronze_ingest RUNNING 10m');
  });

  test('a missing expected app is crit and named', async () => {
    master(masterDoc());
    const { signal, facts } = await run(make({ apps: ['bronze_ingest', 'silver_refine'] }));
    expect(signal.status).toBe('crit');
    expect(facts.expectedApps).toEqual([
      { name: 'bronze_ingest', running: true },
      { name: 'silver_refine', running: false },
    ]);
    expect(signal.summary).toContain('app "silver_refine" is not running');
  });

  test('an expected app WAITING is crit with its state', async () => {
    const doc = masterDoc();
    (doc.activeapps as Array<Record<string, unknown>>)[0]!.state = 'WAITING';
    master(doc);
    const { signal } = await run(make({ apps: ['bronze_ingest'] }));
    expect(signal.status).toBe('crit');
    expect(signal.summary).toContain('app "bronze_ingest" is WAITING');
  });

  test('no names configured: every active app must be RUNNING; none at all is noAppsStatus', async () => {
    const doc = masterDoc();
    (doc.activeapps as unknown[]).push({ id: 'app-2', name: 'adhoc', state: 'WAITING', starttime: NOW - 1000 });
    master(doc);
    const a = await run(make());
    expect(a.signal.status).toBe('warn');
    expect(a.facts.apps[1]).toMatchObject({ name: 'adhoc', durationSeconds: 1 });
    await check!.close();
    master(masterDoc({ activeapps: [] }));
    expect((await run(make())).signal.status).toBe('warn');
    await check!.close();
    expect((await run(make({ noAppsStatus: 'ok' }))).signal.status).toBe('ok');
  });

  test('workers: fewer than expected warn, none crit; counted from workers[] without aliveworkers', async () => {
    master(masterDoc());
    expect((await run(make({ expectedWorkers: 2 }))).signal.status).toBe('warn');
    await check!.close();
    const doc = masterDoc({ aliveworkers: undefined });
    (doc.workers as Array<Record<string, unknown>>)[0]!.state = 'DEAD';
    master(doc);
    const { signal, facts } = await run(make());
    expect(facts.aliveWorkers).toBe(0);
    expect(signal.status).toBe('crit');
    expect(signal.summary).toContain('0/1 workers alive');
  });

  test('master STANDBY warns, anything else not ALIVE is crit', async () => {
    master(masterDoc({ status: 'STANDBY' }));
    expect((await run(make())).signal.status).toBe('warn');
    master(masterDoc({ status: 'BROKEN' }));
    expect((await run(check!)).signal.status).toBe('crit');
  });

  test('JSON missing fields is unknown naming them', async () => {
    const doc = masterDoc({ status: undefined });
    delete (doc.activeapps as Array<Record<string, unknown>>)[0]!.name;
    master(doc);
    const { signal } = await run(make());
    expect(signal.status).toBe('unknown');
    expect(signal.error?.code).toBe('SUP_ERR_SPARK_BAD_RESPONSE');
    expect(signal.error?.message).toContain('missing field status');
    expect(signal.error?.message).toContain('missing field activeapps[0].name');
    expect(signal.error?.message).toContain(`${baseUrl}/json/`);
  });

  test('wrong types, malformed JSON, HTML and HTTP errors are unknown', async () => {
    master(masterDoc({ workers: 'none' }));
    const a = await run(make());
    expect(a.signal.status).toBe('unknown');
    expect(a.signal.error?.message).toMatch(/workers: .*expected array/);
    master('{"status": "ALIVE", "workers": [');
    const b = await run(check!);
    expect(b.signal.status).toBe('unknown');
    expect(b.signal.error?.message).toContain('invalid JSON');
    master('<html>Spark Master</html>');
    expect((await run(check!)).signal.error?.code).toBe('SUP_ERR_SPARK_BAD_RESPONSE');
    routes.set('/json/', { status: 500, body: 'boom' });
    const d = await run(check!);
    expect(d.signal.status).toBe('unknown');
    expect(d.signal.error?.message).toContain('HTTP 500');
  });

  test('nothing listening is crit (connection refused), naming the URL', async () => {
    const closedServer = http.createServer();
    await new Promise<void>((resolve) => closedServer.listen(0, '127.0.0.1', resolve));
    const port = (closedServer.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closedServer.close(() => resolve()));
    check = createSparkCheck({ name: 'spark', options: { masterUrl: `http://127.0.0.1:${port}` } });
    const { signal } = await run(check);
    expect(signal.status).toBe('crit');
    expect(signal.error?.code).toBe('SUP_ERR_SPARK_UNREACHABLE');
    expect(signal.error?.message).toContain(`http://127.0.0.1:${port}/json/`);
  });

  test('a slow master hits requestTimeout and is unknown', async () => {
    routes.set('/json/', { body: JSON.stringify(masterDoc()), delayMs: 3000 });
    const { signal } = await run(make({ requestTimeout: 0.3 }));
    expect(signal.status).toBe('unknown');
    expect(signal.error?.message).toMatch(/Timeout/i);
  });

  test('an aborted probe is unknown with SUP_ERR_PROBE_TIMEOUT', async () => {
    routes.set('/json/', { body: JSON.stringify(masterDoc()), delayMs: 3000 });
    const c = make();
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('probe timeout 200ms')), 200);
    const [signal] = await c.probe(ctx(NOW, ac.signal));
    expect(signal!.status).toBe('unknown');
    expect(signal!.error?.code).toBe('SUP_ERR_PROBE_TIMEOUT');
  });

  test('close() is idempotent', async () => {
    master(masterDoc());
    const c = make();
    await run(c);
    const p = c.close();
    expect(c.close()).toBe(p);
    await p;
    expect((await run(c)).signal.status).toBe('unknown');
  });

  test('sparkJobTask: job_name null = all apps, a name must be RUNNING; spark:// maps to the UI port', async () => {
    master(masterDoc());
    const sig = await sparkJobTask({ spark_master: baseUrl, job_name: null }, ctx());
    expect(sig.status).toBe('ok');
    expect(sig.check).toBe('spark_job');
    const crit = await sparkJobTask({ spark_master: baseUrl, job_name: 'gold_agg', name: 'check_spark' }, ctx());
    expect(crit.status).toBe('crit');
    expect(crit.check).toBe('check_spark');
    check = createSparkCheck({ name: 's', options: { masterUrl: 'spark://10.0.0.7:7077' } });
    expect(check.masterUiUrl).toBe('http://10.0.0.7:8080');
  });
});

describe('streaming queries from driver metrics', () => {
  const prom = (input: number, processed: number, latency: number, name = 'bronze_domains'): string =>
    [
      `metrics_app_20250115115000_0000_driver_BlockManager_memory_maxMem_MB_Number{type="gauges"} 434`,
      `metrics_app_20250115115000_0000_driver_BlockManager_memory_maxMem_MB_Value{type="gauges"} 434`,
      `metrics_app_20250115115000_0000_driver_spark_streaming_${name}_eventTime_watermark_Number{type="gauges"} 0`,
      `metrics_app_20250115115000_0000_driver_spark_streaming_${name}_eventTime_watermark_Value{type="gauges"} 0`,
      `metrics_app_20250115115000_0000_driver_spark_streaming_${name}_inputRate_total_Number{type="gauges"} ${input}`,
      `metrics_app_20250115115000_0000_driver_spark_streaming_${name}_inputRate_total_Value{type="gauges"} ${input}`,
      `metrics_app_20250115115000_0000_driver_spark_streaming_${name}_latency_Number{type="gauges"} ${latency}`,
      `metrics_app_20250115115000_0000_driver_spark_streaming_${name}_latency_Value{type="gauges"} ${latency}`,
      `metrics_app_20250115115000_0000_driver_spark_streaming_${name}_processingRate_total_Number{type="gauges"} ${processed}`,
      `metrics_app_20250115115000_0000_driver_spark_streaming_${name}_processingRate_total_Value{type="gauges"} ${processed}`,
      `metrics_app_20250115115000_0000_driver_DAGScheduler_job_allJobs_Number{type="gauges"} 12`,
      `metrics_app_20250115115000_0000_driver_ExecutorMetrics_JVMHeapMemory_Count{type="counters"} 3`,
      '',
    ].join('\n');

  test('Prometheus servlet: rates, progress age from changing gauges, falling behind', async () => {
    master(masterDoc());
    // Like Spark's servlet: /metrics/prometheus redirects to /metrics/prometheus/.
    routes.set('/metrics/prometheus/', { body: prom(10, 50, 120) });
    const c = make({ driverMetricsUrl: `${baseUrl}/metrics/prometheus`, streaming: { queries: ['bronze-domains'], maxProgressAge: 60 } });
    const first = await run(c, NOW);
    expect(first.signal.status).toBe('ok');
    expect(first.facts.queries).toEqual([{ name: 'bronze_domains', inputRowsPerSecond: 10, processedRowsPerSecond: 50, lastProgressAgeSeconds: null, latencyMs: 120 }]);
    // Values changed: progress happened since the last probe.
    routes.set('/metrics/prometheus/', { body: prom(11, 45, 130) });
    const second = await run(c, NOW + 30_000);
    expect(second.facts.queries?.[0]?.lastProgressAgeSeconds).toBe(0);
    // Unchanged for 90 s with rows coming in: stalled.
    const third = await run(c, NOW + 120_000);
    expect(third.facts.queries?.[0]?.lastProgressAgeSeconds).toBe(90);
    expect(third.signal.status).toBe('warn');
    expect(third.signal.summary).toContain('made no progress for 1m30s');
    // Processing slower than input.
    routes.set('/metrics/prometheus/', { body: prom(100, 40, 2500) });
    const fourth = await run(c, NOW + 150_000);
    expect(fourth.signal.status).toBe('warn');
    expect(fourth.signal.summary).toContain('falls behind: processed 40 rows/s < input 100 rows/s');
  });

  test('an idle query (no input) is not stalled', async () => {
    master(masterDoc());
    routes.set('/metrics/prometheus', { body: prom(0, 0, 3) });
    const c = make({ driverMetricsUrl: `${baseUrl}/metrics/prometheus`, streaming: { maxProgressAge: 10 } });
    await run(c, NOW);
    const later = await run(c, NOW + 600_000);
    expect(later.facts.queries?.[0]?.lastProgressAgeSeconds).toBe(600);
    expect(later.signal.status).toBe('ok');
  });

  test('an expected query without metrics is crit', async () => {
    master(masterDoc());
    routes.set('/metrics/prometheus', { body: prom(1, 1, 1, 'other') });
    const { signal, facts } = await run(make({ driverMetricsUrl: `${baseUrl}/metrics/prometheus`, streaming: { queries: ['bronze_domains'] } }));
    expect(signal.status).toBe('crit');
    expect(signal.summary).toContain('query "bronze_domains" reports no metrics');
    expect(facts.queries?.map((q) => q.name)).toEqual(['other', 'bronze_domains']);
  });

  test('Dropwizard JSON servlet (/metrics/json)', async () => {
    master(masterDoc());
    routes.set('/metrics/json/', {
      body: JSON.stringify({
        version: '4.0.0',
        gauges: {
          'app-20250115115000-0000.driver.spark.streaming.bronze-domains.inputRate-total': { value: 12.5 },
          'app-20250115115000-0000.driver.spark.streaming.bronze-domains.processingRate-total': { value: 80.25 },
          'app-20250115115000-0000.driver.spark.streaming.bronze-domains.latency': { value: 150 },
          'app-20250115115000-0000.driver.spark.streaming.bronze-domains.eventTime-watermark': { value: NOW - 60_000 },
          'app-20250115115000-0000.driver.BlockManager.memory.maxMem_MB': { value: 434 },
        },
        counters: {},
      }),
    });
    const { signal, facts } = await run(make({ driverMetricsUrl: `${baseUrl}/metrics/json/`, streaming: { queries: ['bronze-domains'] } }));
    expect(signal.status).toBe('ok');
    expect(facts.queries).toEqual([
      { name: 'bronze-domains', inputRowsPerSecond: 12.5, processedRowsPerSecond: 80.25, lastProgressAgeSeconds: null, latencyMs: 150, watermarkAgeSeconds: 60 },
    ]);
  });

  test('unreadable driver metrics make the signal unknown but keep the master facts', async () => {
    master(masterDoc());
    routes.set('/metrics/prometheus', { body: 'this is { not prometheus' });
    const { signal, facts } = await run(make({ driverMetricsUrl: `${baseUrl}/metrics/prometheus` }));
    expect(signal.status).toBe('unknown');
    expect(signal.error?.code).toBe('SUP_ERR_SPARK_BAD_RESPONSE');
    expect(signal.summary).toContain('driver metrics');
    expect(facts.masterStatus).toBe('ALIVE');
  });

  test('parsers', () => {
    expect(parseStreamingMetrics(prom(1, 2, 3), 'u').format).toBe('prometheus');
    expect(parsePrometheusText('# HELP x\n\n', 'u')).toEqual([]);
    expect(() => parsePrometheusText('garbage here now', 'u')).toThrow(/not Prometheus text/);
    expect(() => parseDropwizardJson('{"nope": 1}', 'u')).toThrow(/no "gauges"/);
    expect(() => parseDropwizardJson('{', 'u')).toThrow(/not valid JSON/);
  });
});

describe('options', () => {
  test('defaults and strictness', () => {
    const o = sparkOptionsSchema.parse({ masterUrl: 'spark://127.0.0.1:7077' });
    expect(o).toMatchObject({ expectedWorkers: 1, apps: [], noAppsStatus: 'warn', requestTimeout: 10, streaming: { queries: [], maxProgressAge: 300, minProcessedRatio: 1 } });
    expect(sparkOptionsSchema.safeParse({ masterUrl: 'http://x:8080', expected_workers: 2 }).success).toBe(false);
    expect(sparkOptionsSchema.safeParse({ masterUrl: 'http://x:8080', streaming: { querys: [] } }).success).toBe(false);
    expect(() => parseSparkOptions('spark', { masterUrl: 'ftp://x', streaming: { queries: ['q'] } })).toThrow(
      expect.objectContaining({
        where: 'checks.spark',
        problems: expect.arrayContaining([expect.stringMatching(/^masterUrl: unsupported/), 'streaming.queries: needs driverMetricsUrl']),
      }),
    );
  });

  test('master URL mapping', () => {
    expect(masterUiUrl('spark://127.0.0.1:7077')).toBe('http://127.0.0.1:8080');
    expect(masterUiUrl('spark://m1:7077,m2:7077', 18080)).toBe('http://m1:18080');
    expect(masterUiUrl('http://127.0.0.1:8080/json/')).toBe('http://127.0.0.1:8080');
    expect(() => masterUiUrl('not a url')).toThrow(/not a URL/);
  });

  test('parseMasterJson names the field', () => {
    expect(() => parseMasterJson({ status: 'ALIVE', workers: [], activeapps: [{ id: 'a', name: 'n', state: 'RUNNING' }] }, 'u')).toThrow(
      /missing field activeapps\[0\]\.starttime/,
    );
    expect(() => parseMasterJson(null, 'u')).toThrow(/\(document\)/);
  });
});
