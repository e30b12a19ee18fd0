/**
 * Runs one external program for a task: argv only (never a shell), in its own process group
 * (so the whole tree can be signalled), stdout/stderr split into lines for the task log.
 * Cancellation (timeout, shutdown) sends SIGTERM to the group, then SIGKILL after a grace.
 * When the leader exits, whatever it left behind in its group is terminated too: no orphans.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SupervisorError } from '../protocol';
import { findTaskWrapper } from './paths';

/** The wrapper that ties a task process to the supervisor's life and records its exit status. */
export const TASK_WRAPPER = findTaskWrapper();

export interface AttemptStatus {
  code: number | null;
  signal: string | null;
  lastJson: Record<string, unknown> | null;
  error?: string;
  endedAt: number;
}

/** Where the wrapper records the exit status of one attempt. */
export function attemptStatusFile(statusDir: string, runId: string, taskId: string, tryNumber: number): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');
  return path.join(statusDir, safe(runId), `${safe(taskId)}.${tryNumber}.json`);
}

export function readAttemptStatus(file: string): AttemptStatus | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as AttemptStatus;
    return v && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}

export interface RunProcessParams {
  argv: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** SIGTERM → SIGKILL grace on cancellation. Default 10 s. */
  killGraceMs?: number;
  /** Called once per output line (without the newline). */
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
  /** Called with the process group id (= the leader's pid) right after spawning. */
  onSpawn?: (pid: number) => void;
  /** Longest line passed to onLine; longer ones are cut (with a marker). Default 64 KiB. */
  maxLineBytes?: number;
  /**
   * Run through the task wrapper, which records the exit status in this file and terminates
   * the task if the supervisor dies (crash recovery relies on both).
   */
  statusFile?: string;
}

export interface ProcessResult {
  pid: number;
  exitCode: number | null;
  /** Signal that ended the leader, if any. */
  exitSignal: NodeJS.Signals | null;
  /** True when `signal` aborted the process. */
  aborted: boolean;
  /** True when SIGKILL was needed. */
  killed: boolean;
  /** Last stdout line that parsed as a JSON object (the ingestion CLI's summary). */
  lastJson: Record<string, unknown> | null;
  /** The wrapper's record, when run through it. */
  status: AttemptStatus | null;
  durationMs: number;
}

/** True while any process of the group is alive. */
export function isProcessGroupAlive(pgid: number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalGroup(pgid: number, sig: NodeJS.Signals): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGTERM to the group, SIGKILL after `graceMs` if anything is left. Resolves when the group is
 * gone (or 2 s after SIGKILL). Used on cancellation and by crash recovery for orphans.
 */
export async function killProcessGroup(pgid: number, graceMs = 10_000): Promise<{ wasAlive: boolean; killed: boolean }> {
  if (!isProcessGroupAlive(pgid)) return { wasAlive: false, killed: false };
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isProcessGroupAlive(pgid)) return { wasAlive: true, killed: false };
    await delay(50);
  }
  signalGroup(pgid, 'SIGKILL');
  const hard = Date.now() + 2_000;
  while (Date.now() < hard && isProcessGroupAlive(pgid)) await delay(20);
  return { wasAlive: true, killed: true };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function createLineSplitter(maxLineBytes: number, emit: (line: string) => void): { push(chunk: Buffer): void; end(): void } {
  let partial: Buffer[] = [];
  let partialLen = 0;
  let cut = false;
  const flush = (): void => {
    if (partialLen === 0 && !cut) return;
    const text = Buffer.concat(partial).toString('utf8').replace(/\r$/, '');
    emit(cut ? `${text} [… line cut at ${maxLineBytes} bytes]` : text);
    partial = [];
    partialLen = 0;
    cut = false;
  };
  return {
    push(chunk) {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(10, start);
        const piece = nl === -1 ? chunk.subarray(start) : chunk.subarray(start, nl);
        if (!cut) {
          const room = maxLineBytes - partialLen;
          if (piece.length > room) {
            partial.push(piece.subarray(0, Math.max(0, room)));
            partialLen += Math.max(0, room);
            cut = true;
          } else {
            partial.push(piece);
            partialLen += piece.length;
          }
        }
        if (nl === -1) break;
        flush();
        start = nl + 1;
      }
    },
    end: flush,
  };
}

export function runProcess(params: RunProcessParams): Promise<ProcessResult> {
  const { argv, signal } = params;
  const graceMs = params.killGraceMs ?? 10_000;
  const maxLine = params.maxLineBytes ?? 64 * 1024;
  if (argv.length === 0 || typeof argv[0] !== 'string' || argv[0] === '') {
    return Promise.reject(new SupervisorError('SUP_ERR_CONFIG_INVALID', 'the command is empty: give an argv list such as ["node", "script.js"]', { retryable: false }));
  }
  if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  const started = Date.now();

  // Without the wrapper file (a broken install) tasks still run, only without crash bookkeeping.
  const wrapped = params.statusFile !== undefined && TASK_WRAPPER !== null;
  if (wrapped) {
    fs.mkdirSync(path.dirname(params.statusFile!), { recursive: true });
    fs.rmSync(params.statusFile!, { force: true });
  }
  const command = wrapped ? [process.execPath, TASK_WRAPPER!, params.statusFile!, String(graceMs), '--', ...argv] : [...argv];

  return new Promise<ProcessResult>((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), {
      cwd: params.cwd,
      env: params.env ?? process.env,
      detached: true,
      shell: false,
      stdio: wrapped ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    });
    let aborted = false;
    let killed = false;
    let exited = false;
    let lastJson: Record<string, unknown> | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    const onLine = (stream: 'stdout' | 'stderr') => (line: string) => {
      if (stream === 'stdout' && line.startsWith('{')) {
        try {
          const parsed = JSON.parse(line) as unknown;
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) lastJson = parsed as Record<string, unknown>;
        } catch {
          /* not JSON: an ordinary log line */
        }
      }
      params.onLine?.(stream, line);
    };
    const out = createLineSplitter(maxLine, onLine('stdout'));
    const err = createLineSplitter(maxLine, onLine('stderr'));
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));

    const pid = child.pid;
    const onAbort = (): void => {
      if (exited || pid === undefined) return;
      aborted = true;
      signalGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => {
        killed = signalGroup(pid, 'SIGKILL') || killed;
      }, graceMs);
    };

    child.once('error', (e: NodeJS.ErrnoException) => {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      const notFound = e.code === 'ENOENT' || e.code === 'EACCES';
      reject(
        new SupervisorError(
          'SUP_ERR_TASK_FAILED',
          notFound
            ? `cannot run "${argv[0]}": ${e.code === 'ENOENT' ? 'no such executable (check the path and PATH)' : 'permission denied'}`
            : `cannot start "${argv[0]}": ${e.message}`,
          { retryable: !notFound, cause: e },
        ),
      );
    });
    if (pid === undefined) return; // 'error' follows
    params.onSpawn?.(pid);
    signal?.addEventListener('abort', onAbort, { once: true });

    let leader: { code: number | null; sig: NodeJS.Signals | null } | null = null;
    let streamsClosed = 0;
    const finish = (): void => {
      if (!leader || streamsClosed < 2) return;
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      out.end();
      err.end();
      const status = wrapped ? readAttemptStatus(params.statusFile!) : null;
      if (status?.error !== undefined && status.code === 127) {
        reject(new SupervisorError('SUP_ERR_TASK_FAILED', `cannot run "${argv[0]}": ${status.error}`, { retryable: false }));
        return;
      }
      resolve({
        pid,
        // Through the wrapper, report the task's own exit (a signal it died of, not 128+n).
        exitCode: status ? status.code : leader.code,
        exitSignal: status ? ((status.signal as NodeJS.Signals | null) ?? null) : leader.sig,
        aborted,
        killed,
        lastJson,
        status,
        durationMs: Date.now() - started,
      });
    };
    child.stdout!.once('close', () => {
      streamsClosed += 1;
      finish();
    });
    child.stderr!.once('close', () => {
      streamsClosed += 1;
      finish();
    });
    child.once('exit', (code, sig) => {
      exited = true;
      leader = { code, sig };
      // Anything the leader left in its group (which may also hold our pipes open) goes too.
      const groupAlive = isProcessGroupAlive(pid);
      const wait = aborted ? graceMs : Math.min(graceMs, 2_000);
      if (groupAlive) {
        void killProcessGroup(pid, wait).then((r) => {
          if (r.killed) killed = true;
        });
      }
      // A descendant that escaped the group may keep the pipes open: stop waiting for them.
      setTimeout(
        () => {
          if (streamsClosed < 2) {
            child.stdout!.destroy();
            child.stderr!.destroy();
          }
        },
        (groupAlive ? wait : 0) + 5_000,
      ).unref();
      finish();
    });
  });
}
