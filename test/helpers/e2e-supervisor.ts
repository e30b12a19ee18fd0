/**
 * End-to-end helpers: the supervisor as a real process (`node bin/supervisor.js --config FILE
 * start`), a test config written into a temp dir against the local stack's endpoints, a local
 * webhook receiver, the stack's SMTP sink read back over its API, the HTTP API with a token
 * created by the CLI, and polling with diagnostics (the supervisor's log tail on timeout).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { endpoints } from '../../stack/endpoints';

export const REPO = path.resolve(__dirname, '../..');
export const SUPERVISOR_BIN = path.join(REPO, 'bin', 'supervisor.js');
export const SOURCES_YAML = path.join(REPO, 'stack', 'pipeline', 'sources.yaml');
export const INGESTION_CLI = path.join(REPO, 'stack', 'pipeline', 'ingestion', 'cli.ts');
export const TSX = path.join(REPO, 'node_modules', '.bin', 'tsx');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ build

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * `bin/supervisor.js` runs the compiled `dist/`; rebuild it (tsc, as `npm run build`) when any
 * source it is built from is newer, so the processes under test run the current code.
 */
export function ensureBuilt(): void {
  const entry = path.join(REPO, 'dist', 'src', 'cli', 'main.js');
  const built = fs.existsSync(entry) ? fs.statSync(entry).mtimeMs : 0;
  const sources = Math.max(...['src', 'alerts', 'checks', 'streams'].map((d) => newestMtime(path.join(REPO, d))));
  if (built >= sources) return;
  const res = spawnSync(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 240_000,
  });
  if (!fs.existsSync(entry)) throw new Error(`npm run build produced no ${entry}:\n${res.stdout}\n${res.stderr}`);
  // tsc emits even with type errors; the typecheck step of `npm test` reports those.
  if (res.status !== 0) process.stderr.write(`e2e: tsc reported errors (dist emitted anyway):\n${res.stdout.slice(-2000)}\n`);
  const now = new Date();
  fs.utimesSync(entry, now, now);
}

// ------------------------------------------------------------------ small utilities

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

let timeouts = 0;

/** A temp dir for a test's config, store and logs; kept (path on stderr) after a waitFor timed out, or always with E2E_KEEP=1. */
export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    dir,
    cleanup: () => {
      if (process.env.E2E_KEEP === '1' || timeouts > 0) process.stderr.write(`e2e: kept ${dir} for inspection\n`);
      else fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `fn` until it returns something other than undefined/false; on timeout the error names `what` and adds `diagnose()`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; intervalMs?: number; diagnose?: () => string } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const end = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > end) {
      timeouts += 1;
      const detail = lastError ? ` (last error: ${(lastError as Error).message})` : '';
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${detail}${options.diagnose ? `\n${options.diagnose()}` : ''}`);
    }
    await sleep(options.intervalMs ?? 250);
  }
}

/** True while any process of the group exists (ESRCH = gone). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // a zombie is gone for our purposes
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------ webhook receiver

export interface Hook {
  at: number;
  headers: IncomingMessage['headers'];
  body: string;
  json: { dedupKey?: string; kind?: string; rule?: string; title?: string; text?: string; labels?: Record<string, string>; [k: string]: unknown };
  dedupKey: string;
}

/** A local HTTP endpoint for the supervisor's webhook sink; answers 200 and records every request. */
export class WebhookReceiver {
  readonly requests: Hook[] = [];
  url = '';
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: Hook['json'] = {};
        try {
          json = JSON.parse(body) as Hook['json'];
        } catch {
          /* kept as text */
        }
        this.requests.push({ at: Date.now(), headers: req.headers, body, json, dedupKey: String(req.headers['x-supervisor-dedup-key'] ?? '') });
        res.statusCode = 200;
        res.end('ok');
      });
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  matching(re: RegExp): Hook[] {
    return this.requests.filter((r) => re.test(r.dedupKey));
  }

  summary(): string {
    return `webhook received ${this.requests.length}: ${this.requests.map((r) => r.dedupKey).join(', ') || 'nothing'}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ------------------------------------------------------------------ SMTP sink

export interface Mail {
  subject: string;
  text: string;
  to: string[];
  headers: Record<string, string>;
}

export async function mailsTo(address: string): Promise<Mail[]> {
  const res = await fetch(`${endpoints.smtpApiUrl}/api/messages?to=${encodeURIComponent(address)}`);
  if (res.status !== 200) throw new Error(`SMTP sink API answered ${res.status}`);
  return (await res.json()) as Mail[];
}

// ------------------------------------------------------------------ config

export interface E2eConfigParams {
  port: number;
  hookUrl: string;
  /** Recipient of the email sink (a fresh address per test). */
  mailTo: string;
  checks?: Record<string, unknown>;
  pipelines?: Record<string, unknown>;
  rules?: unknown[];
  variables?: Record<string, string>;
}

/** A supervisor config against the local stack: webhook (signed) + email sinks, short alert timings, store in the config's folder. */
export function e2eConfig(p: E2eConfigParams): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: p.port },
    store: { path: 'state.db' },
    logging: { level: 'info', format: 'json' },
    variables: {
      kafka_servers: endpoints.kafkaBrokers.join(','),
      spark_master: endpoints.sparkMaster,
      spark_master_ui: endpoints.sparkMasterUi,
      schema_registry_url: endpoints.schemaRegistryUrl,
      bronze_path: `s3a://${endpoints.s3Bucket}/bronze`,
      silver_path: `s3a://${endpoints.s3Bucket}/silver`,
      gold_path: `s3a://${endpoints.s3Bucket}/gold`,
      ...p.variables,
    },
    connections: {
      kafka: { brokers: endpoints.kafkaBrokers.join(','), client_id: 'supervisor-e2e' },
      schema_registry: { url: endpoints.schemaRegistryUrl },
      s3: { endpoint: endpoints.s3Endpoint, region: endpoints.s3Region, access_key_id: endpoints.s3AccessKeyId, secret_access_key: endpoints.s3SecretAccessKey },
      spark: { master_ui: endpoints.sparkMasterUi },
    },
    checks: p.checks ?? {},
    pipelines: p.pipelines ?? {},
    alerts: {
      sinks: {
        hook: { type: 'webhook', url: p.hookUrl, secret: 'e2e-secret', timeout: '5s' },
        mail: { type: 'email', host: endpoints.smtpHost, port: endpoints.smtpPort, from: 'supervisor-e2e@localhost', to: [p.mailTo], timeout: '10s' },
      },
      route: { sinks: ['hook', 'mail'], group_by: ['alertname', 'check', 'pipeline'], group_wait: '0s', group_interval: '1s', repeat_interval: '4h' },
      rules: p.rules ?? [],
    },
  };
}

export function writeConfig(dir: string, config: Record<string, unknown>): string {
  const file = path.join(dir, 'supervisor.yaml');
  fs.writeFileSync(file, `# written by an e2e test\n${stringify(config)}`);
  return file;
}

// ------------------------------------------------------------------ CLI and daemon processes

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node bin/supervisor.js --config FILE ...args` (asynchronously: the test's receivers keep answering meanwhile). */
export function cli(configFile: string, args: readonly string[], timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [SUPERVISOR_BIN, '--config', configFile, ...args],
      { cwd: REPO, timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Creates an API token with the CLI (before the daemon starts; only its hash is stored). */
export async function createToken(configFile: string, name = 'e2e'): Promise<string> {
  const res = await cli(configFile, ['--json', 'tokens', 'create', '--name', name]);
  if (res.code !== 0) throw new Error(`tokens create failed (${res.code}): ${res.stderr}`);
  return (JSON.parse(res.stdout.trim()) as { token: string }).token;
}

export interface SupervisorProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  logFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines of its log (JSON lines), without the Kafka client's connection chatter. */
  tail(lines?: number): string;
  /** SIGTERM, wait for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `node bin/supervisor.js --config FILE start`, output appended to `<dir>/supervisor.log`; resolves once /readyz answers 200. */
export async function startSupervisor(configFile: string, port: number, options: { env?: NodeJS.ProcessEnv; readyTimeoutMs?: number } = {}): Promise<SupervisorProcess> {
  const logFile = path.join(path.dirname(configFile), 'supervisor.log');
  const fd = fs.openSync(logFile, 'a');
  fs.writeSync(fd, `\n===== ${new Date().toISOString()} e2e: starting the supervisor\n`);
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [SUPERVISOR_BIN, '--config', configFile, 'start'], { cwd: REPO, env: { ...process.env, ...options.env }, stdio: ['ignore', fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error('the supervisor did not spawn');
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const tail = (lines = 40): string => {
    try {
      const all = fs
        .readFileSync(logFile, 'utf8')
        .trimEnd()
        .split('\n')
        .filter((l) => !l.includes('"component":"kafkajs"'));
      return `supervisor log ${logFile} (last ${lines} lines, kafkajs lines left out):\n${all.slice(-lines).join('\n')}`;
    } catch {
      return `no supervisor log at ${logFile}`;
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const proc: SupervisorProcess = {
    child,
    pid,
    url,
    logFile,
    exited,
    tail,
    async stop(graceMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const r = await exited;
        clearTimeout(timer);
        return r;
      }
      return exited;
    },
  };
  try {
    await waitFor(
      'the supervisor to be ready (/readyz 200)',
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the supervisor exited (${child.exitCode ?? child.signalCode}) during start-up\n${tail()}`);
        const res = await fetch(`${url}/readyz`).catch(() => undefined);
        return res?.status === 200;
      },
      { timeoutMs: options.readyTimeoutMs ?? 90_000, intervalMs: 200, diagnose: tail },
    );
  } catch (err) {
    await proc.stop(2_000);
    throw err;
  }
  return proc;
}

// ------------------------------------------------------------------ API

export interface ApiRun {
  id: string;
  pipeline: string;
  logicalDate: number;
  kind: string;
  state: string;
  reason: string | null;
  startedAt: number | null;
  endedAt: number | null;
}

export interface ApiTask {
  runId?: string;
  taskId: string;
  state: string;
  tryNumber: number;
  maxTries: number;
  pid: number | null;
  reason: string | null;
  result: unknown;
}

export interface ApiAttempt {
  taskId: string;
  tryNumber: number;
  state: string;
  pid: number | null;
  exitCode: number | null;
  error: string | null;
}

export interface ApiSignal {
  check: string;
  kind: string;
  target: string;
  status: 'ok' | 'warn' | 'unknown' | 'crit';
  summary: string;
  value?: number;
  observedAt: number;
  /** Check-specific measurements (the Signal's facts). */
  facts?: Record<string, unknown>;
}

/** The supervisor's /api/v1 with a bearer token. */
export class Api {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async request<T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<{ status: number; json: T }> {
    const res = await fetch(`${this.baseUrl}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, json: json as T };
  }

  async get<T>(route: string): Promise<T> {
    const r = await this.request<T>('GET', route);
    if (r.status !== 200) throw new Error(`GET ${route} → ${r.status}: ${JSON.stringify(r.json)}`);
    return r.json;
  }

  async trigger(
    pipeline: string,
    body: { logical_date?: string | number; conf?: Record<string, unknown>; rerun?: boolean } = {},
  ): Promise<{ status: number; json: { runId: string; created: boolean; state: string; [k: string]: unknown } }> {
    return this.request('POST', `/pipelines/${pipeline}/trigger`, body);
  }

  async runs(pipeline: string): Promise<ApiRun[]> {
    return (await this.get<{ runs: ApiRun[] }>(`/runs?pipeline=${encodeURIComponent(pipeline)}&limit=500`)).runs;
  }

  async run(
    runId: string,
  ): Promise<{ runId: string; state: string; reason: string | null; logicalDate: number; tasks: { taskId: string; state: string; tryNumber: number; reason: string | null }[] }> {
    return this.get(`/runs/${encodeURIComponent(runId)}`);
  }

  async tasks(runId: string): Promise<{ tasks: ApiTask[]; attempts: ApiAttempt[] }> {
    return this.get(`/runs/${encodeURIComponent(runId)}/tasks`);
  }

  async signals(check?: string): Promise<ApiSignal[]> {
    return (await this.get<{ signals: ApiSignal[] }>(`/health${check ? `?check=${encodeURIComponent(check)}` : ''}`)).signals;
  }

  /** Waits until the run reached a final state; returns it. */
  async waitForRun(runId: string, timeoutMs: number, diagnose?: () => string): Promise<Awaited<ReturnType<Api['run']>>> {
    return waitFor(
      `run ${runId} to finish`,
      async () => {
        const r = await this.run(runId);
        return ['success', 'failed', 'skipped', 'timed_out', 'upstream_failed'].includes(r.state) ? r : undefined;
      },
      { timeoutMs, intervalMs: 500, ...(diagnose ? { diagnose } : {}) },
    );
  }
}
