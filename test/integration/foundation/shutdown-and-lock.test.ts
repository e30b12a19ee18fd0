/**
 * Issue 13 items 2 and 4, against real processes (`bin/supervisor.js`, i.e. dist/):
 * - SIGTERM always wins: a daemon whose every Kafka client faces a dead broker stops on
 *   SIGTERM with exit 0 (its own stop, not the hard timer), and a stop that hangs or busy-loops
 *   still ends the process through the hard timer / its worker-thread backstop;
 * - one daemon per store: a second `start` on the same store refuses at once with exit 2,
 *   naming the holder's pid and the store, while the first keeps serving; a SIGKILLed holder's
 *   lock does not block the next start.
 * Time bounds here are about correctness (the 10 s hard bound), not speed (bench/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBuilt, freePort, REPO, SUPERVISOR_BIN, waitFor } from '../../helpers/e2e-supervisor';

interface Proc {
  child: ChildProcess;
  out(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

function run(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { child, out: () => out, exited };
}

async function ready(port: number, proc: Proc): Promise<void> {
  await waitFor(
    `http://127.0.0.1:${port}/readyz`,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`the supervisor exited (${proc.child.exitCode}):\n${proc.out().slice(-3000)}`);
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      return r.status === 200;
    },
    { timeoutMs: 30_000, diagnose: () => proc.out().slice(-3000) },
  );
}

const procs: Proc[] = [];
const dirs: string[] = [];
afterAll(() => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** The shipped configuration with every Kafka connection on a port nothing listens on. */
async function deadBrokerConfig(dir: string): Promise<{ file: string; port: number }> {
  const dead = await freePort();
  const port = await freePort();
  const shipped = fs.readFileSync(path.join(REPO, 'config', 'supervisor.yaml'), 'utf8');
  const text = shipped
    .replace(/kafka_servers: 127\.0\.0\.1:9092/, `kafka_servers: 127.0.0.1:${dead}`)
    .replace(/store:\n {2}path: .*\n/, `store:\n  path: ${path.join(dir, 'state.db')}\n`)
    .replace(/server:\n {2}host: .*\n {2}port: .*\n/, `server:\n  host: 127.0.0.1\n  port: ${port}\n`)
    .replace(/logging:\n {2}level: .*\n/, 'logging:\n  level: info\n  format: json\n');
  // every kind of Kafka client the daemon opens: the consumer-offsets stream (lag check), the
  // gate's admin, an offsets-trigger consumer
  const extra = `
  gated_every_minute:
    schedule: "* * * * *"
    gate: { kafka_healthy: true }
    tasks:
      - id: noop
        operator: collect_metrics
  on_requests:
    triggers:
      - type: offsets
        topic: ingest-requests
        decode: json
    tasks:
      - id: noop
        operator: collect_metrics
`;
  const file = path.join(dir, 'supervisor.yaml');
  fs.writeFileSync(file, text.replace(/\npipelines:\n/, `\npipelines:${extra}`));
  return { file, port };
}

beforeAll(() => ensureBuilt());

describe('SIGTERM always wins', () => {
  it('a daemon facing a dead broker everywhere stops on SIGTERM by its own stop (exit 0), well within the hard bound', async () => {
    const dir = tmp('sup-dead-broker-');
    const { file, port } = await deadBrokerConfig(dir);
    const proc = run([SUPERVISOR_BIN, '--config', file, 'start']);
    procs.push(proc);
    await ready(port, proc);
    // let the Kafka clients get into their connect retries
    await waitFor('a Kafka connection error in the log', () => /ECONNREFUSED/.test(proc.out()), { timeoutMs: 20_000 });
    const t0 = Date.now();
    proc.child.kill('SIGTERM');
    const { code, signal, at } = await proc.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(at - t0).toBeLessThan(10_000);
    expect(proc.out()).toContain('"msg":"shutting down"');
    expect(proc.out()).toMatch(/"code":0,"msg":"stopped"/);
    expect(proc.out()).not.toContain('did not finish within');
  });

  const controllerScript = (mode: 'hang' | 'busy'): string => `
    const { createShutdownController, armKillBackstop } = require(${JSON.stringify(path.join(REPO, 'dist', 'src', 'shutdown.js'))});
    const log = (o, m) => process.stderr.write(JSON.stringify({ ...(typeof o === 'object' ? o : {}), msg: m ?? o }) + '\\n');
    const logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
    const c = createShutdownController({
      stop: ${mode === 'busy' ? 'async () => { for (;;); }' : '() => new Promise(() => {})'},
      logger,
      exit: (code) => process.exit(code),
      armBackstop: armKillBackstop,
      hardMs: 1000,
      backstopMs: 500,
    });
    process.on('SIGTERM', (s) => c.onSignal(s));
    setInterval(() => {}, 1000);
    process.stderr.write('ready\\n');
  `;

  it('a stop that hangs: the hard timer ends the process with exit 1', async () => {
    const proc = run(['-e', controllerScript('hang')]);
    procs.push(proc);
    await waitFor('the script to be ready', () => proc.out().includes('ready'), { timeoutMs: 10_000 });
    proc.child.kill('SIGTERM');
    const { code, signal } = await proc.exited;
    expect({ code, signal }).toEqual({ code: 1, signal: null });
    expect(proc.out()).toContain('the stop did not finish within 1000 ms of SIGTERM; exiting');
  });

  it('a stop that busy-loops on the main thread: the worker-thread backstop kills the process', async () => {
    const proc = run(['-e', controllerScript('busy')]);
    procs.push(proc);
    await waitFor('the script to be ready', () => proc.out().includes('ready'), { timeoutMs: 10_000 });
    const t0 = Date.now();
    proc.child.kill('SIGTERM');
    const { signal, at } = await proc.exited;
    expect(signal).toBe('SIGKILL');
    expect(at - t0).toBeLessThan(10_000);
    expect(proc.out()).toContain('the main thread is blocked; killing the process');
  });
});

describe('one daemon per store', () => {
  it('a second start on the same store exits 2 naming the holder pid and the store; the first keeps serving; a SIGKILLed holder does not block a restart', async () => {
    const dir = tmp('sup-lock-');
    const port = await freePort();
    const file = path.join(dir, 'supervisor.yaml');
    fs.writeFileSync(file, `server:\n  port: ${port}\nstore:\n  path: state.db\nlogging:\n  format: json\n`);
    const first = run([SUPERVISOR_BIN, '--config', file, 'start']);
    procs.push(first);
    await ready(port, first);

    const otherPort = await freePort();
    const second = run([SUPERVISOR_BIN, '--config', file, 'start', '--port', String(otherPort)]);
    procs.push(second);
    const refused = await second.exited;
    expect(refused).toMatchObject({ code: 2, signal: null });
    const message = second.out();
    expect(message).toContain('SUP_ERR_STORE_LOCKED');
    expect(message).toContain(`process ${first.child.pid}`);
    expect(message).toContain(path.join(fs.realpathSync(dir), 'state.db'));
    expect(message).not.toMatch(/\n\s+at /); // no stack trace
    // it started nothing: no listener, no checks line
    expect(message).not.toContain('checks scheduled');
    await expect(fetch(`http://127.0.0.1:${otherPort}/healthz`)).rejects.toThrow();
    // the first one is untouched
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

    first.child.kill('SIGKILL');
    await first.exited;
    const third = run([SUPERVISOR_BIN, '--config', file, 'start']);
    procs.push(third);
    await ready(port, third);
    third.child.kill('SIGTERM');
    expect(await third.exited).toMatchObject({ code: 0, signal: null });
  });

  it('start --port abc is a usage error: exit 2, a message naming the flag, no stack trace', async () => {
    const dir = tmp('sup-port-');
    const file = path.join(dir, 'supervisor.yaml');
    fs.writeFileSync(file, `store:\n  path: state.db\n`);
    const proc = run([SUPERVISOR_BIN, '--config', file, 'start', '--port', 'abc']);
    procs.push(proc);
    expect(await proc.exited).toMatchObject({ code: 2, signal: null });
    expect(proc.out()).toContain("option '--port <port>' argument 'abc' is invalid");
    expect(proc.out()).not.toMatch(/\n\s+at /);
    // nothing was opened
    expect(fs.existsSync(path.join(dir, 'state.db'))).toBe(false);
  });
});
