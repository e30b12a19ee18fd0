/**
 * Process bookkeeping for the stack: start a service detached with its own log file, record
 * its pid (plus the kernel's start time, so a recycled pid is never mistaken for ours), tell
 * whether it still runs, stop it (process group, SIGTERM then SIGKILL), and probe ports.
 */
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { dirs, ensureDir, logFile } from './paths';

export interface ProcessRecord {
  service: string;
  pid: number;
  /** field 22 of /proc/<pid>/stat: distinguishes our process from a later one with the same pid */
  startTicks: string;
  startedAt: string;
  command: string[];
  /** who started it: `cli`, or `jest:<session>` for a test run (its teardown stops only those) */
  owner: string;
}

function recordPath(service: string): string {
  return path.join(dirs.run, `${service}.json`);
}

function procStartTicks(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = rest[0];
    if (state === 'Z' || state === 'X') return undefined; // zombie: gone for our purposes
    return rest[19]; // field 22 overall = index 19 after (pid, comm)
  } catch {
    return undefined;
  }
}

export function readRecord(service: string): ProcessRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(recordPath(service), 'utf8')) as ProcessRecord;
  } catch {
    return undefined;
  }
}

export function removeRecord(service: string): void {
  fs.rmSync(recordPath(service), { force: true });
}

/** The record of a service whose recorded process is still the one we started, else undefined (stale records are removed). */
export function liveRecord(service: string): ProcessRecord | undefined {
  const rec = readRecord(service);
  if (!rec) return undefined;
  if (procStartTicks(rec.pid) === rec.startTicks) return rec;
  removeRecord(service);
  return undefined;
}

export interface SpawnSpec {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Starts a service detached (own session and process group), output appended to `.stack/logs/<service>.log`. */
export function startDetached(service: string, spec: SpawnSpec, owner: string): ProcessRecord {
  ensureDir(dirs.logs);
  ensureDir(dirs.run);
  const file = logFile(service);
  rotateIfLarge(file);
  const fd = fs.openSync(file, 'a');
  fs.writeSync(fd, `\n===== ${new Date().toISOString()} starting ${service}: ${[spec.command, ...spec.args].join(' ')}\n`);
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    if (child.pid === undefined) throw new Error(`could not start ${service}: ${spec.command} did not spawn`);
    child.unref();
    const startTicks = procStartTicks(child.pid);
    if (startTicks === undefined) throw new Error(`${service} exited immediately; see ${file}`);
    const rec: ProcessRecord = {
      service,
      pid: child.pid,
      startTicks,
      startedAt: new Date().toISOString(),
      command: [spec.command, ...spec.args],
      owner,
    };
    fs.writeFileSync(recordPath(service), JSON.stringify(rec, null, 2) + '\n');
    return rec;
  } finally {
    fs.closeSync(fd);
  }
}

function rotateIfLarge(file: string): void {
  try {
    if (fs.statSync(file).size > 50 * 1024 * 1024) fs.renameSync(file, `${file}.1`);
  } catch {
    /* no log yet */
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    /* group gone or not a leader */
  }
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Stops the recorded process of a service (and its process group): SIGTERM (or `signal`), then SIGKILL after the grace period. */
export async function stopRecorded(service: string, graceMs = 15000, signal: NodeJS.Signals = 'SIGTERM'): Promise<'stopped' | 'not-running'> {
  const rec = liveRecord(service);
  if (!rec) return 'not-running';
  signalGroup(rec.pid, signal);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (procStartTicks(rec.pid) !== rec.startTicks) break;
    await sleep(200);
  }
  if (procStartTicks(rec.pid) === rec.startTicks) {
    signalGroup(rec.pid, 'SIGKILL');
    for (let i = 0; i < 25 && procStartTicks(rec.pid) === rec.startTicks; i++) await sleep(200);
  } else {
    // The leader is gone; make sure helpers it left in its group go too.
    signalGroup(rec.pid, 'SIGKILL');
  }
  removeRecord(service);
  return 'stopped';
}

/** True when something accepts TCP connections on host:port. */
export function isListening(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    const done = (v: boolean) => {
      sock.removeAllListeners();
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Best effort: who listens on a port (from `ss -ltnp`), for error messages. */
export function describeListener(port: number): string {
  try {
    const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(out);
    if (m) return `${m[1]} (pid ${m[2]})`;
  } catch {
    /* ss missing */
  }
  return 'another process';
}

/** Pids of a process and all its descendants (for RSS accounting). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Resident set size in bytes of a process tree. */
export function treeRssBytes(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      /* exited */
    }
  }
  return total;
}
