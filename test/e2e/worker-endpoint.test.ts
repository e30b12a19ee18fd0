/**
 * E2E (issue 19, task workers operable like the daemon): `bin/supervisor.js worker --listen
 * 127.0.0.1:PORT` as a real process on a fresh database of the stack's PostgreSQL, beside a
 * daemon in `executor.mode: workers`.
 *
 * - a bad `--listen` (or `executor.worker_listen`) exits 2 naming the flag (or the key); an
 *   address in use exits 2 naming `--listen`, with nothing claimed;
 * - /metrics while a try runs (running 1, claimed, a failed try counted by outcome) and after
 *   the run (running 0, done and failed); /readyz 200 naming the store and the worker;
 * - SIGTERM with a try running: /readyz 503 "draining" until the try has finished, then the
 *   process exits 0 and the port is closed;
 * - the worker's database refusing connections (ALLOW_CONNECTIONS false and its sessions
 *   ended, on this test's database only; the shared server keeps running): /readyz 503 with
 *   the store's reason, /healthz and /metrics 200 with claim poll errors counted; connections
 *   allowed again → ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { createFreshPostgres, type FreshPostgres } from '../helpers/postgres-store';
import { stackTls } from '../../stack/tls';
import { ensureServices, postgresConfig } from '../helpers/stack';
import {
  Api,
  cli,
  createToken,
  e2eConfig,
  ensureBuilt,
  freePort,
  REPO,
  startSupervisor,
  SUPERVISOR_BIN,
  tempDir,
  waitFor,
  writeConfig,
  type SupervisorProcess,
} from '../helpers/e2e-supervisor';

interface WorkerProcess {
  name: string;
  url: string;
  child: ChildProcess;
  exited: Promise<unknown>;
  logFile: string;
}

/** A task that runs `ms`, then prints a result line. */
const sleepTask = (ms: number): string[] => [process.execPath, '-e', `setTimeout(() => console.log(JSON.stringify({ slept: ${ms} })), ${ms})`];

/** The samples of a Prometheus text exposition: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe('supervisor worker --listen (PostgreSQL store)', () => {
  const tmp = tempDir('e2e-worker-endpoint-');
  const workers: WorkerProcess[] = [];
  let daemon: SupervisorProcess | undefined;
  let api: Api;
  let configFile: string;
  let pg: FreshPostgres | undefined;
  let admin: Client | undefined;
  let connectionsRefused = false;

  const alive = (w: WorkerProcess): boolean => w.child.exitCode === null && w.child.signalCode === null;
  const diagnose = (): string =>
    [
      daemon?.tail(20) ?? '',
      ...workers.map((w) => `worker ${w.name} log:\n${fs.existsSync(w.logFile) ? fs.readFileSync(w.logFile, 'utf8').split('\n').slice(-15).join('\n') : ''}`),
    ].join('\n');

  async function startWorker(name: string, extra: string[] = []): Promise<WorkerProcess> {
    const port = await freePort();
    const logFile = path.join(tmp.dir, `worker-${name}.log`);
    const fd = fs.openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [SUPERVISOR_BIN, '--config', configFile, 'worker', '--name', name, '--concurrency', '2', '--listen', `127.0.0.1:${port}`, ...extra], {
        cwd: REPO,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      fs.closeSync(fd);
    }
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const w = { name, url: `http://127.0.0.1:${port}`, child, exited, logFile };
    workers.push(w);
    await waitFor(`worker ${name} to answer /healthz`, async () => (await fetch(`${w.url}/healthz`)).status === 200, { timeoutMs: 60_000, diagnose });
    return w;
  }
  const scrape = async (w: WorkerProcess): Promise<Map<string, number>> => {
    const res = await fetch(`${w.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return samples(await res.text());
  };
  const readyz = async (w: WorkerProcess): Promise<{ status: number; body: { status: string; components: Record<string, true | string> } }> => {
    const res = await fetch(`${w.url}/readyz`);
    return { status: res.status, body: (await res.json()) as { status: string; components: Record<string, true | string> } };
  };
  /** ALLOW_CONNECTIONS of this test's database, set by its owner from another database (not the one it changes). */
  const setConnections = async (allow: boolean): Promise<void> => {
    const owner = new Client(postgresConfig());
    owner.on('error', () => undefined);
    await owner.connect();
    try {
      await owner.query(`ALTER DATABASE ${owner.escapeIdentifier(pg!.database)} ALLOW_CONNECTIONS ${allow ? 'true' : 'false'}`);
      connectionsRefused = !allow;
      // the sessions open on it (the daemon's and the workers', same role) end: their next call must reconnect, and is refused
      if (!allow) await owner.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND usename = current_user`, [pg!.database]);
    } finally {
      await owner.end();
    }
  };

  beforeAll(async () => {
    ensureBuilt();
    await ensureServices(['postgres']);
    pg = await createFreshPostgres('wendpoint');
    admin = await pg.admin();
    const port = await freePort();
    const config = e2eConfig({
      port,
      hookUrl: 'http://127.0.0.1:9/unused',
      mailTo: 'unused@example.test',
      pipelines: {
        mixed: {
          tasks: [
            { id: 'long', operator: 'command', params: { command: sleepTask(5_000) } },
            { id: 'boom', operator: 'command', params: { command: [process.execPath, '-e', 'process.exit(3)'] } },
          ],
        },
        drain: { tasks: [{ id: 'long', operator: 'command', params: { command: sleepTask(4_000) } }] },
      },
    });
    config.executor = { mode: 'workers', heartbeat_timeout: '3s' };
    const alerts = config.alerts as { sinks: Record<string, unknown>; route: { sinks: string[] } };
    delete alerts.sinks.mail;
    alerts.route.sinks = ['hook'];
    fs.writeFileSync(path.join(tmp.dir, 'pg-password'), pg.settings.password ?? '');
    config.store = { url: pg.url, password_file: path.join(tmp.dir, 'pg-password'), ssl: { ca_file: stackTls().caFile }, timeout: '2s' };
    configFile = writeConfig(tmp.dir, config);
    const token = await createToken(configFile);
    daemon = await startSupervisor(configFile, port);
    api = new Api(daemon.url, token);
  }, 180_000);

  afterAll(async () => {
    if (connectionsRefused) await setConnections(true).catch(() => undefined);
    for (const w of workers) if (alive(w)) w.child.kill('SIGTERM');
    await Promise.all(
      workers.map(async (w) => {
        const t = setTimeout(() => w.child.kill('SIGKILL'), 30_000);
        await w.exited;
        clearTimeout(t);
      }),
    );
    await daemon?.stop();
    await pg?.drop();
    tmp.cleanup();
  }, 90_000);

  it('a bad --listen exits 2 naming the flag; a bad executor.worker_listen names the key; an address in use names --listen', async () => {
    const bads = ['nope', '127.0.0.1:65536', ':9464', 'bad host:80', '[::1]'];
    const results = await Promise.all(bads.map((bad) => cli(configFile, ['worker', '--listen', bad])));
    results.forEach((r, i) => {
      expect({ bad: bads[i], code: r.code }).toEqual({ bad: bads[i], code: 2 });
      expect(r.stderr).toContain(`option '--listen <host:port>' argument '${bads[i]}' is invalid.`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
    const other = path.join(tmp.dir, 'bad-listen');
    fs.mkdirSync(other, { recursive: true });
    const text = fs.readFileSync(configFile, 'utf8').replace(/^executor:\n/m, 'executor:\n  worker_listen: "localhost:http"\n');
    expect(text).toContain('worker_listen');
    const badConfig = path.join(other, 'supervisor.yaml');
    fs.writeFileSync(badConfig, text);
    const r = await cli(badConfig, ['worker']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('executor.worker_listen: "localhost:http": "http" is not a port');

    const w = await startWorker('busy-port-owner');
    const inUse = await cli(configFile, ['worker', '--name', 'never-claims', '--listen', w.url.replace('http://', '')]);
    expect(inUse.code).toBe(2);
    expect(inUse.stderr).toMatch(/SUP_ERR_CONFIG_INVALID: cannot listen on 127\.0\.0\.1:\d+: the address is in use by another process \(at --listen\)/);
    w.child.kill('SIGTERM');
    await w.exited;
    expect(w.child.exitCode).toBe(0);
  }, 120_000);

  it('/metrics while a try runs and after its run ended; /readyz names the store and the worker', async () => {
    const w = await startWorker('w1');
    const ready = await readyz(w);
    expect(ready).toEqual({ status: 200, body: { status: 'ready', components: { store: true, worker: true } } });
    const before = await scrape(w);
    expect(before.get('supervisor_worker_concurrency')).toBe(2);
    expect(before.get('supervisor_worker_tries_running')).toBe(0);
    expect(before.get('supervisor_worker_tries_claimed_total')).toBe(0);
    expect(before.get('supervisor_worker_draining')).toBe(0);
    // the default process metrics, on the worker's own registry
    expect(before.get('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect([...before.keys()].some((k) => k.startsWith('supervisor_build_info{'))).toBe(true);
    // nothing of the daemon's registry
    expect([...before.keys()].some((k) => k.startsWith('supervisor_pipeline_') || k.startsWith('supervisor_leader'))).toBe(false);

    const { json } = await api.trigger('mixed');
    // boom has failed, long still runs
    const during = await waitFor(
      'one try running and one failed on the worker',
      async () => {
        const m = await scrape(w);
        return m.get('supervisor_worker_tries_running') === 1 && m.get('supervisor_worker_tries_finished_total{outcome="failed"}') === 1 ? m : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, diagnose },
    );
    expect(during.get('supervisor_worker_tries_claimed_total')).toBe(2);
    expect(during.get('supervisor_worker_tries_finished_total{outcome="done"}')).toBe(0);
    expect(during.get('supervisor_worker_heartbeat_failures_total')).toBe(0);
    expect((await readyz(w)).status).toBe(200);

    const run = await api.waitForRun(json.runId, 60_000, diagnose);
    expect(run.state).toBe('failed');
    const after = await scrape(w);
    expect(after.get('supervisor_worker_tries_running')).toBe(0);
    expect(after.get('supervisor_worker_tries_claimed_total')).toBe(2);
    expect(after.get('supervisor_worker_tries_finished_total{outcome="done"}')).toBe(1);
    expect(after.get('supervisor_worker_tries_finished_total{outcome="failed"}')).toBe(1);
    expect(after.get('supervisor_worker_tries_finished_total{outcome="lost"}')).toBe(0);
    expect(after.get('supervisor_worker_claim_errors_total')).toBe(0);
    // the store agrees: both tries ran on w1
    const rows = (await admin!.query(`SELECT task_id, state, claimed_by FROM task_queue WHERE run_id = $1 ORDER BY task_id`, [json.runId])).rows;
    expect(rows).toEqual([
      { task_id: 'boom', state: 'failed', claimed_by: 'w1' },
      { task_id: 'long', state: 'done', claimed_by: 'w1' },
    ]);
  }, 120_000);

  it('SIGTERM with a try running: /readyz 503 draining until it has finished, then exit 0 and the port closed', async () => {
    const w = workers.find((x) => x.name === 'w1' && alive(x)) ?? (await startWorker('w1b'));
    const { json } = await api.trigger('drain');
    await waitFor('the try to run on the worker', async () => (await scrape(w)).get('supervisor_worker_tries_running') === 1, { timeoutMs: 60_000, intervalMs: 200, diagnose });
    w.child.kill('SIGTERM');
    const draining = await waitFor(
      '/readyz to say draining',
      async () => {
        const r = await readyz(w);
        return r.status === 503 ? r : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100, diagnose },
    );
    expect(draining.body).toEqual({ status: 'not ready', components: { store: true, worker: 'draining: shutting down, no new claims (1 running tries finishing)' } });
    expect((await scrape(w)).get('supervisor_worker_draining')).toBe(1);
    expect((await fetch(`${w.url}/healthz`)).status).toBe(200);
    await w.exited;
    expect(w.child.exitCode).toBe(0);
    await expect(fetch(`${w.url}/healthz`)).rejects.toThrow();
    // the try finished within the grace: done, on this worker
    const run = await api.waitForRun(json.runId, 60_000, diagnose);
    expect(run.state).toBe('success');
    const rows = (await admin!.query(`SELECT state, claimed_by FROM task_queue WHERE run_id = $1`, [json.runId])).rows;
    expect(rows).toEqual([{ state: 'done', claimed_by: w.name }]);
  }, 120_000);

  it('the store refusing connections: /readyz 503 with the reason, /healthz and /metrics 200 with claim errors counted; then ready again', async () => {
    const w = await startWorker('w2');
    expect((await readyz(w)).status).toBe(200);
    await setConnections(false);
    // the first failure may be the ended session's; the next reconnect's names the refusal
    const down = await waitFor(
      '/readyz 503 naming the refused connection',
      async () => {
        const r = await readyz(w);
        return r.status === 503 && /not currently accepting connections/.test(String(r.body.components.store)) ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, diagnose },
    );
    expect(down.body.status).toBe('not ready');
    expect(down.body.components.worker).toBe(true);
    // the server's own words (through the breaker: "the PostgreSQL store at host:port is unavailable: …")
    expect(down.body.components.store).toMatch(/database "sup_wendpoint_[a-z0-9_]+" is not currently accepting connections/);
    if (pg!.settings.password) expect(JSON.stringify(down.body)).not.toContain(pg!.settings.password);
    expect((await fetch(`${w.url}/healthz`)).status).toBe(200);
    const m = await waitFor(
      'claim poll errors on /metrics',
      async () => {
        const s = await scrape(w);
        return (s.get('supervisor_worker_claim_errors_total') ?? 0) > 0 ? s : undefined;
      },
      { timeoutMs: 30_000, diagnose },
    );
    expect(m.get('supervisor_worker_claim_errors_total')).toBeGreaterThan(0);

    await setConnections(true);
    const back = await waitFor(
      '/readyz 200 again',
      async () => {
        const r = await readyz(w);
        return r.status === 200 ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, diagnose },
    );
    expect(back.body.components).toEqual({ store: true, worker: true });
    expect(alive(w)).toBe(true);
  }, 120_000);
});
