/**
 * The container image and the ingestion's `docker` execution mode against the real podman of
 * this machine (podman + runc, the locally made base image, `--network host` to the stack's
 * Kafka and schema registry; stack/container-base.ts). One build of the two images serves every
 * test; both tags are removed in afterAll (the cached base and podman's layer cache stay).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sweepOrphanedContainers, LABELS } from '../../../src/engine/operators/container';
import { silentLogger } from '../../../src/shared/logger';
import Database from 'better-sqlite3';
import { openDatabase } from '../../../src/store/database';
import { createRunStore } from '../../../src/store/runs';
import { BASE_IMAGE, buildImage, PODMAN_GLOBAL_ARGS, podman, podmanEnv } from '../../../stack/container-base';
import { endpoints, ensureServices, kafkaClient, STACK_TIMEOUT_MS } from '../../helpers/stack';
import { freshName } from '../../helpers/names';

const ROOT = path.resolve(__dirname, '../../..');
const BIN = path.join(ROOT, 'bin/supervisor.js');
const TAG = `localhost/pipeline-supervisor:jest-${process.pid}`;
const INGESTION_TAG = `localhost/domain-ingestion:jest-${process.pid}`;
const CLI = ['podman', ...PODMAN_GLOBAL_ARGS];
const REGISTRY = endpoints.schemaRegistryUrl;

const tmpDirs: string[] = [];
const containers: string[] = [];
const children: ChildProcess[] = [];

function tmp(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor<T>(fn: () => Promise<T | null | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function httpStatus(url: string): Promise<{ status: number; body: string } | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return null;
  }
}

/** Containers (any state) carrying a label=value. */
async function containersWith(label: string, value: string): Promise<string[]> {
  const r = await podman(['ps', '-a', '--filter', `label=${label}=${value}`, '--format', '{{.ID}}']);
  if (r.code !== 0) throw new Error(`podman ps failed: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}
function runSupervisor(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...podmanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * What the supervisor recorded, read with plain SQL from its store: the daemon (dist/) may carry a
 * newer schema migration than the sources this test imports, and a read must not migrate.
 */
function readStore(file: string): {
  lastRun(): { id: string; state: string };
  task(runId: string, taskId: string): { state: string; result: unknown; reason: string | null } | null;
  log(runId: string, taskId: string): string;
  close(): void;
} {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  return {
    lastRun: () => db.prepare('SELECT id, state FROM runs ORDER BY queued_at DESC LIMIT 1').get() as { id: string; state: string },
    task: (runId, taskId) => {
      const row = db.prepare('SELECT state, result, reason FROM task_instances WHERE run_id = ? AND task_id = ?').get(runId, taskId) as
        { state: string; result: string | null; reason: string | null } | undefined;
      return row ? { state: row.state, reason: row.reason, result: row.result === null ? null : (JSON.parse(row.result) as unknown) } : null;
    },
    log: (runId, taskId) =>
      (db.prepare('SELECT content FROM task_logs WHERE run_id = ? AND task_id = ? ORDER BY try_number').all(runId, taskId) as { content: string }[])
        .map((r) => r.content)
        .join('\n'),
    close: () => db.close(),
  };
}

/** A pipeline config running the reference ingestion in a container (the shipped one's task, execution_mode: docker). */
function dockerModeConfig(dir: string, opts: { sources: string; topic: string; extraTask?: string; retries?: number }): string {
  const file = path.join(dir, 'supervisor.yaml');
  fs.writeFileSync(
    file,
    `server:
  host: 127.0.0.1
  port: 0
store:
  path: ${JSON.stringify(path.join(dir, 'state.db'))}
logging:
  level: warn
pipelines:
  domain_ingestion:
    aliases: [domain_ingestion_dag]
    tasks:
      - id: run_full_ingestion
        operator: ingestion
        retries: ${opts.retries ?? 0}
${opts.extraTask ?? ''}        params:
          source_name: null
          config_path: ${JSON.stringify(opts.sources)}
          kafka_servers: ${JSON.stringify(endpoints.kafkaBrokers.join(','))}
          schema_registry: ${JSON.stringify(REGISTRY)}
          topic: ${opts.topic}
          execution_mode: docker
          docker_binary: podman
          docker_global_args: ${JSON.stringify(PODMAN_GLOBAL_ARGS)}
          image: ${INGESTION_TAG}
          kill_grace: 3s
`,
  );
  return file;
}

/** An HTTP feed that accepts and never answers: an ingestion reading it runs until stopped. */
async function stallingFeed(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = http.createServer(() => undefined);
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/feed.txt`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

beforeAll(
  async () => {
    await ensureServices(['kafka', 'schema-registry']);
    // a fresh clone: debootstrap + Node for the base, then npm ci and a native build (minutes); later: podman's layer cache
    await buildImage({ tag: TAG, target: 'supervisor' });
    await buildImage({ tag: INGESTION_TAG, target: 'ingestion' });
  },
  STACK_TIMEOUT_MS + 20 * 60_000,
);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const name of containers) await podman(['rm', '-f', '-v', name]);
  await podman(['rmi', '-f', TAG, INGESTION_TAG]);
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
}, 120_000);

describe('container image (podman, locally made base)', () => {
  it('is built from the local base: non-root, the launcher as entrypoint, config and state volumes, a HEALTHCHECK on /healthz, production dependencies only', async () => {
    const r = await podman(['image', 'inspect', TAG]);
    expect(r.code).toBe(0);
    const image = (
      JSON.parse(r.stdout) as { Config: { User: string; Entrypoint: string[]; Cmd: string[]; Volumes: Record<string, object> }; Healthcheck?: { Test: string[] } }[]
    )[0]!;
    const cfg = { ...image.Config, Healthcheck: image.Healthcheck };
    expect(cfg.User).toBe('10001:10001');
    expect(cfg.Entrypoint).toEqual(['/app/bin/supervisor.js']);
    expect(cfg.Cmd).toEqual(['start']);
    expect(Object.keys(cfg.Volumes).sort()).toEqual(['/etc/supervisor', '/var/lib/supervisor']);
    // the script that GETs /healthz of the container's process (bin/healthcheck.cjs; run below)
    expect(cfg.Healthcheck?.Test.join(' ')).toContain('node /app/bin/healthcheck.cjs');
    const base = await podman(['image', 'inspect', BASE_IMAGE, '--format', '{{json .RootFS.Layers}}']);
    const layers = await podman(['image', 'inspect', TAG, '--format', '{{json .RootFS.Layers}}']);
    expect((JSON.parse(layers.stdout) as string[])[0]).toBe((JSON.parse(base.stdout) as string[])[0]);
    // better-sqlite3's native module loads; dev dependencies and the compiler are absent
    const probe = await podman([
      'run',
      '--rm',
      '--no-healthcheck',
      '--network',
      'none',
      '--entrypoint',
      'node',
      TAG,
      '-e',
      `const D=require('better-sqlite3');new D(':memory:').prepare('select 1').get();let dev=[];for(const m of ['typescript','jest','tsx']){try{require.resolve(m);dev.push(m)}catch{}}process.stdout.write(JSON.stringify({dev,uid:process.getuid()}))`,
    ]);
    expect(probe.stderr).toBe('');
    expect(JSON.parse(probe.stdout)).toEqual({ dev: [], uid: 10001 });
    const gxx = await podman(['run', '--rm', '--no-healthcheck', '--network', 'none', '--entrypoint', 'sh', TAG, '-c', 'command -v g++ || echo none']);
    expect(gxx.stdout.trim()).toBe('none');
  });

  it('starts on a read-only root filesystem, gets ready, serves /metrics and /healthz (HEALTHCHECK), and stops cleanly on podman stop', async () => {
    const port = await freePort();
    const dir = tmp('sup-container-');
    fs.writeFileSync(
      path.join(dir, 'supervisor.yaml'),
      `server:\n  host: 0.0.0.0\n  port: \${SUPERVISOR_PORT}\nstore:\n  path: /var/lib/supervisor/supervisor.db\nlogging:\n  level: info\n  format: json\nconnections:\n  kafka:\n    brokers: ${JSON.stringify(endpoints.kafkaBrokers.join(','))}\nchecks:\n  kafka:\n    kind: kafka_cluster\n    interval: 5s\n    expected_brokers: 1\n`,
    );
    fs.chmodSync(dir, 0o755);
    const name = freshName('sup-container');
    containers.push(name);
    // the HEALTHCHECK has no timer here (podman schedules those through systemd): `healthcheck run` below runs it
    const run = await podman([
      'run',
      '-d',
      '--name',
      name,
      '--health-interval',
      'disable',
      '--network',
      'host',
      '--read-only',
      '--tmpfs',
      '/tmp',
      '-e',
      `SUPERVISOR_PORT=${port}`,
      '-v',
      `${dir}:/etc/supervisor:ro`,
      TAG,
    ]);
    expect(run.code).toBe(0);
    const ready = await waitFor(
      async () => {
        const r = await httpStatus(`http://127.0.0.1:${port}/readyz`);
        if (r?.status === 200) return r;
        const state = await podman(['inspect', name, '--format', '{{.State.Status}}']);
        if (state.stdout.trim() === 'exited') throw new Error(`the container exited: ${(await podman(['logs', name])).stderr.slice(-3000)}`);
        return null;
      },
      60_000,
      'the container to get ready',
    );
    expect(ready.status).toBe(200);
    // ready means started; the kafka check's first result (a metadata request) may land just after
    const metrics = await waitFor(
      async () => {
        const r = await httpStatus(`http://127.0.0.1:${port}/metrics`);
        return r?.status === 200 && /^supervisor_check_up\{[^}]*check="kafka"[^}]*\} [01]$/m.test(r.body) ? r : null;
      },
      30_000,
      'the kafka check’s first result on /metrics',
    );
    expect(metrics.body).toMatch(/^# TYPE supervisor_check_up gauge$/m);
    const health = await podman(['healthcheck', 'run', name]);
    expect(health.code).toBe(0);

    const stop = await podman(['stop', '-t', '10', name], { timeoutMs: 30_000 });
    expect(stop.code).toBe(0);
    const state = JSON.parse((await podman(['inspect', name, '--format', '{{json .State}}'])).stdout) as { Status: string; ExitCode: number; OOMKilled: boolean };
    // exit 0: the daemon handled SIGTERM and stopped by itself (a SIGKILL after the 10 s would be 137)
    expect(state).toMatchObject({ Status: 'exited', ExitCode: 0, OOMKilled: false });
    const logs = await podman(['logs', name]);
    expect(logs.stdout + logs.stderr).toContain('supervisor started');
  });

  it('as `supervisor worker`, its HEALTHCHECK probes the worker’s --listen port (not SUPERVISOR_PORT), and passes for a worker without an endpoint', async () => {
    const port = await freePort();
    const dir = tmp('sup-container-worker-');
    fs.writeFileSync(path.join(dir, 'supervisor.yaml'), `store:\n  path: /var/lib/supervisor/supervisor.db\nlogging:\n  level: info\n  format: json\n`);
    fs.chmodSync(dir, 0o755);
    const withEndpoint = freshName('sup-worker');
    const withoutEndpoint = freshName('sup-worker-bare');
    containers.push(withEndpoint, withoutEndpoint);
    const common = ['run', '-d', '--health-interval', 'disable', '--network', 'host', '--read-only', '--tmpfs', '/tmp', '-v', `${dir}:/etc/supervisor:ro`];
    // SUPERVISOR_PORT stays the image's 8090, where nothing listens: the old check probed it and failed
    expect((await podman([...common, '--name', withEndpoint, TAG, 'worker', '--concurrency', '1', '--listen', `0.0.0.0:${port}`])).code).toBe(0);
    expect((await podman([...common, '--name', withoutEndpoint, TAG, 'worker', '--concurrency', '1'])).code).toBe(0);
    await waitFor(
      async () => {
        const r = await httpStatus(`http://127.0.0.1:${port}/readyz`);
        if (r?.status === 200) return r;
        const state = await podman(['inspect', withEndpoint, '--format', '{{.State.Status}}']);
        if (state.stdout.trim() === 'exited') throw new Error(`the worker container exited: ${(await podman(['logs', withEndpoint])).stderr.slice(-3000)}`);
        return null;
      },
      60_000,
      'the worker container to get ready',
    );
    const health = await podman(['healthcheck', 'run', withEndpoint]);
    expect(health).toMatchObject({ code: 0 });
    const bare = await podman(['healthcheck', 'run', withoutEndpoint]);
    expect(bare).toMatchObject({ code: 0 });
    expect((await podman(['inspect', withoutEndpoint, '--format', '{{.State.Status}}'])).stdout.trim()).toBe('running');

    // the probe is real: the same script in the container, pointed at a port where nothing answers, fails
    const closed = await freePort();
    const refused = await podman(['exec', '-e', `SUPERVISOR_HEALTH_URL=http://127.0.0.1:${closed}/healthz`, withEndpoint, 'node', '/app/bin/healthcheck.cjs']);
    expect(refused.code).toBe(1);
    for (const name of [withEndpoint, withoutEndpoint]) expect((await podman(['stop', '-t', '10', name], { timeoutMs: 30_000 })).code).toBe(0);
  });
});

describe('ingestion operator, execution_mode: docker (podman)', () => {
  it('`dags test domain_ingestion_dag DATE` runs the ingestion container against the stack’s Kafka and records the produced count', async () => {
    const dir = tmp('sup-docker-mode-');
    const topic = freshName('harmful-domains-docker');
    const config = dockerModeConfig(dir, { sources: path.join(ROOT, 'stack/pipeline/sources.yaml'), topic });
    const res = await runSupervisor(['--config', config, 'dags', 'test', 'domain_ingestion_dag', '2025-03-01'], {});
    expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/Error:|at .*\.js:\d+/) as unknown });

    const store = readStore(path.join(dir, 'state.db'));
    try {
      const run = store.lastRun();
      expect(run.state).toBe('success');
      const task = store.task(run.id, 'run_full_ingestion')!;
      expect(task.state).toBe('success');
      const summary = task.result as { ok: boolean; topic: string; sources: Record<string, { produced: number }> };
      expect(summary.ok).toBe(true);
      expect(summary.topic).toBe(topic);
      const produced = Object.values(summary.sources).reduce((n, s) => n + s.produced, 0);
      expect(Object.keys(summary.sources).sort()).toEqual(['malware-hosts', 'malware-urls-csv', 'phishing-urls', 'scam-domains']);
      expect(produced).toBeGreaterThan(0);
      // the count is what Kafka holds
      const admin = kafkaClient('docker-mode-test').admin();
      await admin.connect();
      try {
        const offsets = await admin.fetchTopicOffsets(topic);
        expect(offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0)).toBe(produced);
      } finally {
        await admin.disconnect();
      }
      // the container's output is in the task log; the container is gone
      const log = store.log(run.id, 'run_full_ingestion');
      expect(log).toContain('podman --runtime runc --cgroup-manager=cgroupfs run --rm');
      expect(log).toContain(`--label ${LABELS.run}=${run.id}`);
      expect(log).toMatch(/ingestion finished/);
      expect(await containersWith(LABELS.run, run.id)).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('an execution timeout stops and removes the container (podman stop, then rm -f); the task fails as timed out', async () => {
    const feed = await stallingFeed();
    try {
      const dir = tmp('sup-docker-timeout-');
      fs.writeFileSync(path.join(dir, 'sources.yaml'), `topic: t\nsources:\n  stall:\n    format: domains\n    url: ${feed.url}\n    category: test\n    timeoutMs: 120000\n`);
      const config = dockerModeConfig(dir, { sources: path.join(dir, 'sources.yaml'), topic: freshName('docker-timeout'), extraTask: '        execution_timeout: 4s\n' });
      const res = await runSupervisor(['--config', config, 'dags', 'test', 'domain_ingestion_dag', '2025-03-02'], {});
      expect(res.code).not.toBe(0);
      const store = readStore(path.join(dir, 'state.db'));
      try {
        const run = store.lastRun();
        const task = store.task(run.id, 'run_full_ingestion')!;
        expect(['timed_out', 'failed']).toContain(task.state);
        expect(task.reason ?? '').toMatch(/execution timeout/);
        const log = store.log(run.id, 'run_full_ingestion');
        expect(log).toMatch(/stopping container supervisor-domain_ingestion-run_full_ingestion-.*: podman stop -t 3, then rm -f/);
        expect(await containersWith(LABELS.run, run.id)).toEqual([]);
      } finally {
        store.close();
      }
    } finally {
      await feed.close();
    }
  });

  it('SIGKILL of the supervisor mid-run leaves no container behind after the restart (crash recovery)', async () => {
    const feed = await stallingFeed();
    try {
      const dir = tmp('sup-docker-crash-');
      fs.writeFileSync(path.join(dir, 'sources.yaml'), `topic: t\nsources:\n  stall:\n    format: domains\n    url: ${feed.url}\n    category: test\n    timeoutMs: 120000\n`);
      const config = dockerModeConfig(dir, { sources: path.join(dir, 'sources.yaml'), topic: freshName('docker-crash') });
      const dbFile = path.join(dir, 'state.db');
      let runId: string;
      {
        const db = openDatabase({ file: dbFile });
        runId = createRunStore(db).insertRun({
          pipeline: 'domain_ingestion',
          logicalDate: Date.parse('2025-03-03T00:00:00Z'),
          kind: 'manual',
          firedAt: Date.now(),
          queuedAt: Date.now(),
        }).run.id;
        db.close();
      }
      const start = (): ChildProcess => {
        const child = spawn(process.execPath, [BIN, '--config', config, 'start'], { cwd: ROOT, env: podmanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
        children.push(child);
        return child;
      };
      const first = start();
      const started = await waitFor(
        async () => {
          const ids = await containersWith(LABELS.run, runId);
          return ids.length > 0 ? ids : null;
        },
        60_000,
        'the ingestion container to start',
      );
      expect(started).toHaveLength(1);
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));

      const second = start();
      const recovered = await waitFor(
        async () => {
          const store = readStore(dbFile);
          try {
            const t = store.task(runId, 'run_full_ingestion');
            return t && t.state === 'failed' ? t : null;
          } finally {
            store.close();
          }
        },
        60_000,
        'the restarted supervisor to recover the run',
      );
      expect(recovered.reason).toMatch(/SUP_ERR_ORPHANED/);
      await waitFor(async () => (await containersWith(LABELS.run, runId)).length === 0, 30_000, 'no container of the run');
      second.kill('SIGTERM');
      const code = await new Promise((r) => second.once('exit', (c) => r(c)));
      expect(code).toBe(0);
      expect(await containersWith(LABELS.run, runId)).toEqual([]);
    } finally {
      await feed.close();
    }
  });

  it('the recovery sweep removes labelled containers of a dead supervisor of this host and keeps those of a live one', async () => {
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.once('exit', r));
    const live = spawn('sleep', ['120']);
    children.push(live);
    const run = freshName('sweep');
    const start = async (owner: number): Promise<string> => {
      const name = freshName(`sweep-${owner}`);
      containers.push(name);
      const labels = { [LABELS.managed]: 'true', [LABELS.run]: run, [LABELS.ownerPid]: String(owner), [LABELS.ownerHost]: os.hostname() };
      const r = await podman([
        'run',
        '-d',
        '--name',
        name,
        '--network',
        'none',
        ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
        BASE_IMAGE,
        'sleep',
        '300',
      ]);
      expect(r.code).toBe(0);
      return name;
    };
    const orphan = await start(dead.pid!);
    const kept = await start(live.pid!);
    const isAlive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const swept = await sweepOrphanedContainers({ cli: CLI, logger: silentLogger, isAlive, stopSeconds: 1, env: podmanEnv() });
    expect(swept.error).toBeNull();
    const names = async (): Promise<string[]> => {
      const r = await podman(['ps', '-a', '--filter', `label=${LABELS.run}=${run}`, '--format', '{{.Names}}']);
      return r.stdout.split('\n').filter(Boolean);
    };
    expect(await names()).toEqual([kept]);
    expect(swept.removed.length).toBeGreaterThanOrEqual(1);
    expect(orphan).not.toBe(kept);
    live.kill('SIGKILL');
  });
});
