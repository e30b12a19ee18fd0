/**
 * Task containers through a docker-compatible CLI (`docker`, or `podman` with its global
 * arguments such as `--runtime runc --cgroup-manager=cgroupfs`): the `docker` execution mode of
 * the ingestion operator.
 *
 * A container is labelled with the run, task, try and the supervisor that owns it (pid and
 * host), and a record of it (CLI and name) is written beside the attempt's status file before it
 * starts. Timeout and cancellation stop it (`<cli> stop -t N`) and remove it (`rm -f`); every
 * attempt ends with an `rm -f`, so no container outlives its attempt. Crash recovery
 * (src/engine/recovery.ts) removes the containers of interrupted attempts from those records and
 * sweeps the labelled containers of owners that are gone.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../../protocol';
import type { TaskContext } from '../operator';
import { attemptStatusFile, type ProcessResult } from '../subprocess';
import { runProcessTask } from './process-task';

export const LABEL_PREFIX = 'io.pipeline-supervisor';
export const LABELS = {
  managed: `${LABEL_PREFIX}.managed`,
  pipeline: `${LABEL_PREFIX}.pipeline`,
  run: `${LABEL_PREFIX}.run`,
  task: `${LABEL_PREFIX}.task`,
  try: `${LABEL_PREFIX}.try`,
  ownerPid: `${LABEL_PREFIX}.owner-pid`,
  ownerHost: `${LABEL_PREFIX}.owner-host`,
} as const;

/** What a recovery needs to remove a task's container: the CLI (argv prefix) and the name. */
export interface ContainerRecord {
  cli: string[];
  name: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  startedAt: number;
}

export function containerRecordFile(statusDir: string, runId: string, taskId: string, tryNumber: number): string {
  return attemptStatusFile(statusDir, runId, taskId, tryNumber).replace(/\.json$/, '.container.json');
}

export function readContainerRecord(file: string): ContainerRecord | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as ContainerRecord;
    return v && Array.isArray(v.cli) && v.cli.length > 0 && typeof v.name === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** A container name for one attempt (the engines accept [a-zA-Z0-9][a-zA-Z0-9_.-]*). */
export function containerName(pipeline: string, taskId: string, runId: string, tryNumber: number): string {
  const base = `supervisor-${pipeline}-${taskId}-${runId}`.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 110);
  return `${base}-try${tryNumber}`;
}

export function containerLabels(ctx: { pipeline: string; taskId: string; runId: string; tryNumber: number }): Record<string, string> {
  return {
    [LABELS.managed]: 'true',
    [LABELS.pipeline]: ctx.pipeline,
    [LABELS.run]: ctx.runId,
    [LABELS.task]: ctx.taskId,
    [LABELS.try]: String(ctx.tryNumber),
    [LABELS.ownerPid]: String(process.pid),
    [LABELS.ownerHost]: os.hostname(),
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cli… args` (argv, never a shell) to completion; never rejects for an exit code. */
export function runCli(cli: readonly string[], args: readonly string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      cli[0]!,
      [...cli.slice(1), ...args],
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, killSignal: 'SIGKILL', maxBuffer: 8 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: string }) | null;
        const code = !e ? 0 : typeof e.code === 'number' ? e.code : null;
        const why = e && code === null ? (typeof e.code === 'string' ? e.code : (e.signal ?? e.message)) : '';
        resolve({ code, stdout: String(stdout), stderr: why ? `${String(stderr)}${why}` : String(stderr) });
      },
    );
  });
}

/**
 * `<cli> stop -t N NAME` then `<cli> rm -f NAME`. Resolves with whether a container was there;
 * a container that is already gone is not an error.
 */
export async function stopAndRemoveContainer(
  cli: readonly string[],
  name: string,
  stopSeconds: number,
  env?: NodeJS.ProcessEnv,
): Promise<{ existed: boolean; error: string | null }> {
  const stop = await runCli(cli, ['stop', '-t', String(Math.max(0, Math.ceil(stopSeconds))), name], { timeoutMs: (stopSeconds + 30) * 1000, ...(env ? { env } : {}) });
  const rm = await runCli(cli, ['rm', '-f', name], { timeoutMs: 60_000, ...(env ? { env } : {}) });
  const gone = (r: CliResult): boolean => /no such container|no container with name or id/i.test(r.stderr);
  const existed = stop.code === 0 || (rm.code === 0 && !gone(stop));
  const error = rm.code === 0 || gone(rm) ? null : `${cli[0]} rm -f ${name} exited with ${rm.code}: ${rm.stderr.trim().slice(0, 500)}`;
  return { existed, error };
}

export interface ContainerTaskOptions {
  /** The full `<cli> run …` argv. */
  argv: readonly string[];
  /** The CLI's argv prefix (binary and global arguments), for stop and rm. */
  cli: readonly string[];
  name: string;
  cwd: string;
  env?: Readonly<Record<string, string>>;
  /** Grace of `stop -t` on timeout or cancellation. */
  killGraceMs: number;
}

/**
 * Runs a task container to its end. The CLI process runs like any task process (output into the
 * task log, its process group recorded); the task's signal stops and removes the container
 * instead of signalling the CLI, which then ends by itself (and is terminated should it not).
 */
export async function runContainerTask(ctx: TaskContext, options: ContainerTaskOptions): Promise<ProcessResult> {
  if (ctx.signal.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('aborted');
  const env = { ...process.env, ...options.env };
  const record = ctx.statusDir ? containerRecordFile(ctx.statusDir, ctx.runId, ctx.taskId, ctx.tryNumber) : null;
  if (record) {
    const body: ContainerRecord = { cli: [...options.cli], name: options.name, runId: ctx.runId, taskId: ctx.taskId, tryNumber: ctx.tryNumber, startedAt: ctx.now() };
    fs.mkdirSync(path.dirname(record), { recursive: true });
    fs.writeFileSync(record, JSON.stringify(body));
  }
  const cliSignal = new AbortController();
  const pending: { stop: Promise<void> | null } = { stop: null };
  const onAbort = (): void => {
    const why = ctx.signal.reason instanceof Error ? ctx.signal.reason.message : 'aborted';
    ctx.log(`[supervisor] stopping container ${options.name} (${why}): ${options.cli[0]} stop -t ${Math.ceil(options.killGraceMs / 1000)}, then rm -f`);
    pending.stop = stopAndRemoveContainer(options.cli, options.name, options.killGraceMs / 1000, env).then(
      (r) => {
        if (r.error) ctx.log(`[supervisor] ${r.error}`);
        // the container is gone: the CLI ends by itself; if it does not, it is terminated
        setTimeout(() => cliSignal.abort(ctx.signal.reason), 5_000).unref();
      },
      () => cliSignal.abort(ctx.signal.reason),
    );
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await runProcessTask({ ...ctx, signal: cliSignal.signal }, { argv: options.argv, cwd: options.cwd, env: options.env ?? {}, killGraceMs: options.killGraceMs });
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    if (pending.stop) await pending.stop;
    // `run --rm` removes a container that exited; this covers a CLI that died before it could
    const rm = await runCli(options.cli, ['rm', '-f', options.name], { env, timeoutMs: 60_000 });
    if (rm.code !== 0 && !/no such container|no container with name or id/i.test(rm.stderr)) {
      ctx.log(`[supervisor] could not remove container ${options.name}: ${rm.stderr.trim().slice(0, 500)}`);
    }
    if (record) fs.rmSync(record, { force: true });
  }
}

export interface SweepParams {
  cli: readonly string[];
  logger: Logger;
  /** Whether a pid is a live process on this host. */
  isAlive: (pid: number) => boolean;
  selfPid?: number;
  hostname?: string;
  /** Runs being recovered: their containers go even when labelled with our own pid (a recycled pid). */
  runIds?: ReadonlySet<string>;
  stopSeconds?: number;
  env?: NodeJS.ProcessEnv;
}

export interface SweepResult {
  removed: string[];
  /** Set when the CLI could not list containers (no engine there): nothing was removed. */
  error: string | null;
}

/**
 * Removes the labelled containers whose owning supervisor is gone: owner on this host and its
 * pid not alive (or our own pid, for a run being recovered). Containers of live supervisors and
 * of other hosts are left alone.
 */
export async function sweepOrphanedContainers(params: SweepParams): Promise<SweepResult> {
  const env = params.env ?? process.env;
  const host = params.hostname ?? os.hostname();
  const self = params.selfPid ?? process.pid;
  const ps = await runCli(params.cli, ['ps', '-a', '--filter', `label=${LABELS.managed}=true`, '--format', '{{.ID}}'], { env, timeoutMs: 60_000 });
  if (ps.code !== 0) return { removed: [], error: `${params.cli[0]} ps failed (${ps.code}): ${ps.stderr.trim().slice(0, 300)}` };
  const removed: string[] = [];
  for (const id of ps.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const inspect = await runCli(params.cli, ['inspect', '--format', '{{json .Config.Labels}}', id], { env, timeoutMs: 30_000 });
    if (inspect.code !== 0) continue; // gone meanwhile
    let labels: Record<string, string>;
    try {
      labels = (JSON.parse(inspect.stdout.trim()) as Record<string, string> | null) ?? {};
    } catch {
      continue;
    }
    if (labels[LABELS.ownerHost] !== host) continue;
    const owner = Number(labels[LABELS.ownerPid]);
    const ours = owner === self;
    const dead = !Number.isInteger(owner) || owner <= 0 || (!ours && !params.isAlive(owner));
    const recovering = ours && params.runIds?.has(labels[LABELS.run] ?? '') === true;
    if (!dead && !recovering) continue;
    await stopAndRemoveContainer(params.cli, id, params.stopSeconds ?? 5, env);
    removed.push(id);
    params.logger.warn({ container: id, run: labels[LABELS.run], task: labels[LABELS.task], ownerPid: owner }, 'removed a container left by a dead supervisor');
  }
  return { removed, error: null };
}
