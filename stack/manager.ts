/**
 * The stack manager: installs (first time), starts, probes and stops the services of
 * `stack/services/`. Idempotent: a running service that we recorded is reused; a port held by
 * anything else is refused with the port, the service and (when visible) the other process.
 * Only one manager acts at a time (a lock directory in `.stack/run/`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { consoleLog, type StackLog } from './log';
import { dirs, ensureDir, logFile } from './paths';
import { describeListener, isListening, liveRecord, startDetached, stopRecorded, treeRssBytes, type ProcessRecord } from './proc';
import { tailFile } from './install';
import { services, serviceByName } from './services';
import type { ServiceContext, ServiceDef } from './services/types';

export class StackError extends Error {
  override name = 'StackError';
}

export interface UpOptions {
  /** recorded with each process we start; `down --owner` / the jest teardown stop only theirs */
  owner?: string;
  log?: StackLog;
  /** multiplies every service's readiness timeout (slow machines) */
  timeoutFactor?: number;
}

export interface UpResult {
  started: string[];
  reused: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The named services plus everything they depend on, dependencies first. Unknown names are an error. */
export function resolveServices(names: readonly string[] | undefined): ServiceDef[] {
  const wanted = names && names.length > 0 ? names : services.filter((s) => !s.optional).map((s) => s.name);
  const out: ServiceDef[] = [];
  const visit = (name: string, chain: string[]) => {
    const svc = serviceByName(name);
    if (!svc) throw new StackError(`unknown service "${name}"; known: ${services.map((s) => s.name).join(', ')}`);
    if (out.includes(svc)) return;
    if (chain.includes(name)) throw new StackError(`dependency cycle: ${[...chain, name].join(' → ')}`);
    for (const dep of svc.dependsOn ?? []) visit(dep, [...chain, name]);
    out.push(svc);
  };
  for (const n of wanted) visit(n, []);
  return out;
}

/** Cross-process lock so two `up`s (e.g. parallel jest workers) never start the same service twice. */
export async function withLock<T>(log: StackLog, fn: () => Promise<T>): Promise<T> {
  const lockDir = path.join(ensureDir(dirs.run), 'manager.lock');
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(fs.readFileSync(path.join(lockDir, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      let alive = holder === process.pid;
      if (holder > 0 && !alive) {
        try {
          process.kill(holder, 0);
          alive = true;
        } catch {
          alive = false;
        }
      }
      if (!alive) {
        // A holder that died (or never wrote its pid for 5 s) leaves a stale lock.
        const age = Date.now() - fs.statSync(lockDir).mtimeMs;
        if (holder > 0 || age > 5000) {
          fs.rmSync(lockDir, { recursive: true, force: true });
          continue;
        }
      }
      if (!announced) log.info(`waiting for another stack manager (pid ${holder}) to finish…`);
      announced = true;
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

function context(log: StackLog, signal: AbortSignal): ServiceContext {
  return { log, signal };
}

async function waitReady(svc: ServiceDef, ctx: ServiceContext, rec: ProcessRecord, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  let lastNote = t0;
  for (;;) {
    if (await svc.ready(ctx)) return;
    if (!liveRecord(svc.name)) {
      throw new StackError(`${svc.name} exited during start-up; log ${logFile(svc.name)}:\n${tailFile(logFile(svc.name), 30)}`);
    }
    const now = Date.now();
    if (now - t0 > timeoutMs) {
      throw new StackError(`${svc.name} (pid ${rec.pid}) not ready after ${Math.round(timeoutMs / 1000)} s; log ${logFile(svc.name)}:\n${tailFile(logFile(svc.name), 30)}`);
    }
    if (now - lastNote > 15000) {
      ctx.log.info(`still waiting for readiness (${Math.round((now - t0) / 1000)} s)…`);
      lastNote = now;
    }
    await sleep(500);
  }
}

async function startOne(svc: ServiceDef, opts: Required<Pick<UpOptions, 'owner' | 'timeoutFactor'>>, ctx: ServiceContext): Promise<'started' | 'reused'> {
  const existing = liveRecord(svc.name);
  const timeoutMs = svc.readyTimeoutMs * opts.timeoutFactor;
  if (existing) {
    await waitReady(svc, ctx, existing, timeoutMs);
    await svc.afterReady?.(ctx);
    return 'reused';
  }
  for (const p of svc.ports()) {
    if (await isListening(p.port)) {
      throw new StackError(
        `port ${p.port} (${svc.name} ${p.name}) is already in use by ${describeListener(p.port)}, which this stack did not start; ` +
          `stop it or move ${svc.name} to another port (see stack/endpoints.ts for the STACK_*_PORT variables)`,
      );
    }
  }
  const spec = await svc.command(ctx);
  const rec = startDetached(svc.name, spec, opts.owner);
  try {
    await waitReady(svc, ctx, rec, timeoutMs);
    await svc.afterReady?.(ctx);
  } catch (err) {
    await stopRecorded(svc.name, 5000, svc.stopSignal); // undo what we started
    throw err;
  }
  return 'started';
}

/** Installs (first time) and starts the services with their dependencies; reuses running ones. */
export async function up(names?: readonly string[], options: UpOptions = {}): Promise<UpResult> {
  const log = options.log ?? consoleLog();
  const opts = {
    owner: options.owner ?? process.env.STACK_OWNER ?? 'cli',
    timeoutFactor: options.timeoutFactor ?? Number(process.env.STACK_TIMEOUT_FACTOR ?? 1),
  };
  const list = resolveServices(names);
  const abort = new AbortController();
  return withLock(log, async () => {
    const result: UpResult = { started: [], reused: [] };
    // Installs one after another (they share the Maven cache and the CPU), then starts in dependency waves.
    for (const svc of list) {
      const ctx = context(prefixed(log, svc.name), abort.signal);
      try {
        await svc.install(ctx);
      } catch (err) {
        throw new StackError(`${svc.name}: install failed: ${(err as Error).message}`);
      }
    }
    const done = new Map<string, Promise<void>>();
    for (const svc of list) {
      const deps = (svc.dependsOn ?? []).map((d) => done.get(d)!);
      done.set(
        svc.name,
        (async () => {
          await Promise.all(deps);
          const ctx = context(prefixed(log, svc.name), abort.signal);
          const t0 = Date.now();
          const how = await startOne(svc, opts, ctx);
          result[how === 'started' ? 'started' : 'reused'].push(svc.name);
          ctx.log.info(`${how === 'started' ? 'ready' : 'already running, ready'} in ${((Date.now() - t0) / 1000).toFixed(1)} s — ${formatEndpoints(svc)}`);
        })(),
      );
    }
    const outcomes = await Promise.allSettled(done.values());
    const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failures.length > 0) {
      abort.abort();
      throw new StackError([...new Set(failures.map((f) => (f.reason as Error).message))].join('\n\n'));
    }
    return result;
  });
}

export interface DownOptions {
  log?: StackLog;
  /** stop only processes recorded with this owner */
  owner?: string;
}

/** Stops recorded processes (dependents first). Never touches a process it did not start. */
export async function down(names?: readonly string[], options: DownOptions = {}): Promise<string[]> {
  const log = options.log ?? consoleLog();
  const list = names && names.length > 0 ? names.map((n) => resolveServices([n]).pop()!) : services.slice();
  const stopped: string[] = [];
  await withLock(log, async () => {
    for (const svc of list.reverse()) {
      const rec = liveRecord(svc.name);
      if (!rec) continue;
      if (options.owner !== undefined && rec.owner !== options.owner) continue;
      log.info(`stopping ${svc.name} (pid ${rec.pid})…`);
      if ((await stopRecorded(svc.name, undefined, svc.stopSignal)) === 'stopped') stopped.push(svc.name);
    }
  });
  return stopped;
}

export interface ServiceStatus {
  name: string;
  state: 'up' | 'starting' | 'down' | 'foreign';
  pid?: number;
  owner?: string;
  rssBytes?: number;
  endpoints: Record<string, string>;
  detail?: string;
}

export async function status(names?: readonly string[]): Promise<ServiceStatus[]> {
  const list = names && names.length > 0 ? resolveServices(names) : services.slice();
  const ctx = context(consoleLog(), new AbortController().signal);
  return Promise.all(
    list.map(async (svc): Promise<ServiceStatus> => {
      const rec = liveRecord(svc.name);
      const endpoints = svc.endpoints();
      if (rec) {
        const ok = await svc.ready(ctx);
        return { name: svc.name, state: ok ? 'up' : 'starting', pid: rec.pid, owner: rec.owner, rssBytes: treeRssBytes(rec.pid), endpoints };
      }
      for (const p of svc.ports()) {
        if (await isListening(p.port)) {
          return { name: svc.name, state: 'foreign', endpoints, detail: `port ${p.port} held by ${describeListener(p.port)}` };
        }
      }
      return { name: svc.name, state: 'down', endpoints };
    }),
  );
}

export function formatEndpoints(svc: ServiceDef): string {
  return Object.entries(svc.endpoints())
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

function prefixed(log: StackLog, name: string): StackLog {
  return { info: (m) => log.info(`${name}: ${m}`), warn: (m) => log.warn(`${name}: ${m}`) };
}
