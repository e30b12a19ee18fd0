import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunEvent } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';
import { systemClock } from '../../../src/shared/clock';
import { createBuiltinOperators } from '../../../src/engine/operators';
import { planIngestion } from '../../../src/engine/operators/ingestion';
import { executeRun } from '../../../src/engine/runner';
import { isProcessGroupAlive, runProcess } from '../../../src/engine/subprocess';
import { memoryStore, pipelineFrom } from '../../unit/engine/helpers';
import { processExists } from '../../helpers/process';

const FIX = path.resolve(__dirname, '../../fixtures/engine');
const NODE = process.execPath;

async function waitFor(predicate: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('runProcess (real processes)', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-engine-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('streams stdout and stderr lines and keeps the last JSON line', async () => {
    const lines: string[] = [];
    const r = await runProcess({ argv: [NODE, path.join(FIX, 'sleep.js'), '10', '0'], onLine: (s, l) => lines.push(`${s}:${l}`) });
    expect(r.exitCode).toBe(0);
    expect(lines[0]).toMatch(/^stdout:sleeping 10 ms/);
    expect(lines).toContain('stderr:a line on stderr');
    expect(r.lastJson).toMatchObject({ ok: true, slept: 10 });
  });

  it('through the task wrapper: a task that ends normally is not reported as abandoned by the supervisor', async () => {
    const lines: string[] = [];
    const statusFile = path.join(os.tmpdir(), `sup-wrapper-${process.pid}-${Date.now()}.json`);
    const r = await runProcess({ argv: [NODE, path.join(FIX, 'sleep.js'), '10', '0'], statusFile, onLine: (s, l) => lines.push(`${s}:${l}`) });
    expect(r.exitCode).toBe(0);
    expect(lines).toContain('stderr:a line on stderr');
    expect(lines.filter((l) => l.includes('[task-wrapper]'))).toEqual([]);
    expect(JSON.parse(fs.readFileSync(statusFile, 'utf8'))).toMatchObject({ code: 0 });
    fs.rmSync(statusFile, { force: true });
  });

  it('never uses a shell: metacharacters are plain arguments', async () => {
    const lines: string[] = [];
    const r = await runProcess({ argv: [NODE, '-e', 'console.log(process.argv[1])', '$(echo pwned); rm -rf /tmp/nothing'], onLine: (_s, l) => lines.push(l) });
    expect(r.exitCode).toBe(0);
    expect(lines).toEqual(['$(echo pwned); rm -rf /tmp/nothing']);
  });

  it('on abort sends SIGTERM, then SIGKILL to the whole group after the grace: no process survives', async () => {
    const pidFile = path.join(tmp, 'pids.json');
    const ac = new AbortController();
    const started = Date.now();
    const done = runProcess({ argv: [NODE, path.join(FIX, 'ignore-term.js'), pidFile], signal: ac.signal, killGraceMs: 500 });
    await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').length > 0);
    const pids = JSON.parse(fs.readFileSync(pidFile, 'utf8')) as { parent: number; child: number };
    expect(processExists(pids.child)).toBe(true);
    ac.abort(new Error('timeout'));
    const r = await done;
    expect(r.aborted).toBe(true);
    expect(r.killed).toBe(true);
    expect(r.exitSignal).toBe('SIGKILL');
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    await waitFor(() => !processExists(pids.child) && !processExists(pids.parent), 3000);
    expect(isProcessGroupAlive(r.pid)).toBe(false);
  });

  it('kills what the leader leaves behind in its group when it exits normally', async () => {
    const r = await runProcess({
      argv: [
        NODE,
        '-e',
        "const c=require('child_process').spawn(process.execPath,['-e','setInterval(()=>{},1000)'],{stdio:'ignore'}); console.log(JSON.stringify({child:c.pid})); process.exit(0)",
      ],
      killGraceMs: 300,
    });
    expect(r.exitCode).toBe(0);
    const child = (r.lastJson as { child: number }).child;
    await waitFor(() => !processExists(child), 4000);
  });

  it('reports a missing executable as a non-retryable error', async () => {
    await expect(runProcess({ argv: ['/no/such/binary'] })).rejects.toMatchObject({ retryable: false, message: expect.stringMatching(/no such executable/) });
  });
});

describe('subprocess operators in a run', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-engine-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  function run(raw: unknown, operatorsParams: Parameters<typeof createBuiltinOperators>[0] = {}, maxLogBytes?: number) {
    const { store, close } = memoryStore();
    const events: RunEvent[] = [];
    const pipeline = pipelineFrom('p', raw);
    const { run: rec } = store.insertRun({ pipeline: 'p', logicalDate: Date.UTC(2025, 9, 5), kind: 'manual', firedAt: Date.now(), queuedAt: Date.now() });
    store.claimRun(rec.id, process.pid, Date.now());
    const params = {
      store,
      operators: createBuiltinOperators({ killGraceMs: 300, ...operatorsParams }),
      clock: systemClock,
      logger: silentLogger,
      emit: (e: RunEvent) => events.push(e),
      configDir: tmp,
      statusDir: path.join(tmp, 'status'),
      ...(maxLogBytes ? { maxLogBytes } : {}),
    };
    return { store, close, events, done: executeRun(params, pipeline, rec.id, new AbortController().signal) };
  }

  it('execution timeout kills the whole process group and the task ends timed_out', async () => {
    const pidFile = path.join(tmp, 'pids.json');
    const t = run({ tasks: [{ id: 'hang', operator: 'command', execution_timeout: '1s', params: { command: [NODE, path.join(FIX, 'ignore-term.js'), pidFile] } }] });
    const r = await t.done;
    expect(r.state).toBe('failed');
    const ti = t.store.getTask(r.id, 'hang')!;
    expect(ti.state).toBe('timed_out');
    const pids = JSON.parse(fs.readFileSync(pidFile, 'utf8')) as { parent: number; child: number };
    await waitFor(() => !processExists(pids.parent) && !processExists(pids.child), 3000);
    const log = t.store.getLogs(r.id, 'hang')[0]!.content;
    expect(log).toContain('parent ignoring SIGTERM');
    expect(log).toMatch(/signal SIGKILL \(SIGKILL after the grace\)/);
    t.close();
  });

  it('caps a 10 MB output, keeping the tail', async () => {
    const t = run({ tasks: [{ id: 'loud', operator: 'command', params: { command: [NODE, path.join(FIX, 'big-output.js'), '10'] } }] }, {}, 256 * 1024);
    const r = await t.done;
    expect(r.state).toBe('success');
    const [log] = t.store.getLogs(r.id, 'loud');
    expect(log!.content.length).toBeLessThanOrEqual(256 * 1024 + 200);
    expect(log!.truncatedBytes).toBeGreaterThan(9 * 1024 * 1024);
    expect(log!.content).toContain('LAST LINE');
    expect(log!.content.startsWith('[… ')).toBe(true);
    t.close();
  });

  it('a non-zero exit is retried, then the task fails', async () => {
    const counter = path.join(tmp, 'count');
    const t = run({
      tasks: [{ id: 'flaky', operator: 'command', retries: 2, retry_delay: '50ms', retry_jitter: false, params: { command: [NODE, path.join(FIX, 'flaky.js'), counter, '99'] } }],
    });
    const r = await t.done;
    expect(r.state).toBe('failed');
    expect(fs.readFileSync(counter, 'utf8')).toBe('3');
    const attempts = t.store.listAttempts(r.id, 'flaky');
    expect(attempts.map((a) => [a.state, a.exitCode])).toEqual([
      ['failed', 1],
      ['failed', 1],
      ['failed', 1],
    ]);
    expect(t.store.getLogs(r.id, 'flaky').map((l) => l.tryNumber)).toEqual([1, 2, 3]);
    t.close();
  });

  it('a flaky command succeeds on its second try', async () => {
    const counter = path.join(tmp, 'count');
    const t = run({ tasks: [{ id: 'flaky', operator: 'command', retries: 2, retry_delay: '50ms', params: { command: [NODE, path.join(FIX, 'flaky.js'), counter, '2'] } }] });
    const r = await t.done;
    expect(r.state).toBe('success');
    expect(t.store.getTask(r.id, 'flaky')!.tryNumber).toBe(2);
    t.close();
  });

  const sources = () => {
    const file = path.join(tmp, 'sources.yaml');
    fs.writeFileSync(file, 'topic: t\nsources:\n  alpha: {format: domains, path: a.txt, category: x}\n  beta: {format: domains, path: b.txt, category: y}\n');
    return file;
  };

  it('ingestion: runs the configured command with the seed parameters and stores the JSON summary', async () => {
    sources();
    const t = run({
      tasks: [
        {
          id: 'run_full_ingestion',
          operator: 'ingestion',
          params: {
            source_name: 'beta',
            config_path: 'sources.yaml',
            kafka_servers: '127.0.0.1:9092',
            execution_mode: 'subprocess',
            command: [NODE, path.join(FIX, 'fake-ingestion.js')],
          },
        },
      ],
    });
    const r = await t.done;
    expect(r.state).toBe('success');
    const result = t.store.getTask(r.id, 'run_full_ingestion')!.result as { args: string[]; source: string; runId: string };
    expect(result.source).toBe('beta');
    expect(result.runId).toBe(r.id);
    expect(result.args).toEqual([
      '--config',
      path.join(tmp, 'sources.yaml'),
      '--source',
      'beta',
      '--kafka-servers',
      '127.0.0.1:9092',
      '--run-id',
      r.id,
      '--logical-date',
      '2025-10-05T00:00:00.000Z',
    ]);
    t.close();
  });

  it('ingestion: an unknown source is rejected before spawning, with the valid names, and not retried', async () => {
    sources();
    const ledger = path.join(tmp, 'ledger');
    const t = run({
      tasks: [
        {
          id: 'ingest',
          operator: 'ingestion',
          retries: 3,
          params: {
            source_name: 'gamma',
            config_path: 'sources.yaml',
            kafka_servers: 'k:9092',
            command: [NODE, path.join(FIX, 'fake-ingestion.js')],
            env: { FAKE_INGESTION_LEDGER: ledger },
          },
        },
      ],
    });
    const r = await t.done;
    expect(r.state).toBe('failed');
    expect(t.store.getTask(r.id, 'ingest')!.reason).toMatch(/unknown source "gamma": .*sources\.yaml defines alpha, beta/);
    expect(t.store.listAttempts(r.id, 'ingest')).toHaveLength(1);
    expect(fs.existsSync(ledger)).toBe(false);
    t.close();
  });

  it('ingestion: docker mode runs the equivalent docker run --rm argv (fake docker on PATH)', async () => {
    const cfg = sources();
    const log = path.join(tmp, 'docker-argv.json');
    const oldPath = process.env.PATH;
    process.env.PATH = `${path.join(FIX, 'bin')}:${oldPath}`;
    process.env.FAKE_DOCKER_LOG = log;
    try {
      const t = run({
        tasks: [
          {
            id: 'ingest',
            operator: 'ingestion',
            params: { source_name: null, config_path: 'sources.yaml', kafka_servers: '127.0.0.1:9092', execution_mode: 'docker', image: 'ingest:1.2' },
          },
        ],
      });
      const r = await t.done;
      expect(r.state).toBe('success');
      const argv = JSON.parse(fs.readFileSync(log, 'utf8')) as string[];
      expect(argv.slice(0, 2)).toEqual(['run', '--rm']);
      expect(argv).toContain('ingest:1.2');
      expect(argv).toContain(`${path.dirname(cfg)}:/config:ro`);
      const afterImage = argv.slice(argv.indexOf('ingest:1.2') + 1);
      expect(afterImage).toEqual(['--config', '/config/sources.yaml', '--kafka-servers', '127.0.0.1:9092', '--run-id', r.id, '--logical-date', '2025-10-05T00:00:00.000Z']);
      expect(t.store.getTask(r.id, 'ingest')!.result).toMatchObject({ via: 'docker' });
      t.close();
    } finally {
      process.env.PATH = oldPath;
      delete process.env.FAKE_DOCKER_LOG;
    }
  });

  it('ingestion plan uses the reference CLI through tsx by default', () => {
    const cfg = sources();
    const plan = planIngestion(
      { params: { config_path: cfg, kafka_servers: 'k:1', source_name: 'alpha' }, conf: {}, configDir: tmp, runId: 'r1', logicalDate: 0, pipeline: 'p', taskId: 't' },
      '/repo',
    );
    expect(plan.argv.slice(0, 2)).toEqual(['/repo/node_modules/.bin/tsx', '/repo/stack/pipeline/ingestion/cli.ts']);
    expect(plan.cwd).toBe('/repo');
  });
});
