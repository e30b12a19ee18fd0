import { SupervisorError } from '../../protocol';
import type { TaskContext } from '../operator';
import { attemptStatusFile, runProcess, type ProcessResult } from '../subprocess';

/** A failed task attempt with the exit code of its process. */
export class TaskProcessError extends SupervisorError {
  constructor(
    message: string,
    readonly exitCode: number | null,
    retryable: boolean,
  ) {
    super('SUP_ERR_TASK_FAILED', message, { retryable });
    this.name = 'TaskProcessError';
  }
}

export interface ProcessTaskOptions {
  argv: readonly string[];
  cwd: string;
  env?: Readonly<Record<string, string>>;
  killGraceMs: number;
}

/** Runs argv for a task: output into the task log, pid recorded, cancelled with the task. */
export async function runProcessTask(ctx: TaskContext, options: ProcessTaskOptions): Promise<ProcessResult> {
  ctx.log(`[supervisor] try ${ctx.tryNumber}/${ctx.maxTries}: ${options.argv.map(quoteArg).join(' ')}`);
  const result = await runProcess({
    argv: options.argv,
    cwd: options.cwd,
    env: {
      ...process.env,
      ...options.env,
      SUPERVISOR_RUN_ID: ctx.runId,
      SUPERVISOR_TASK_ID: ctx.taskId,
      SUPERVISOR_TRY_NUMBER: String(ctx.tryNumber),
      SUPERVISOR_LOGICAL_DATE: new Date(ctx.logicalDate).toISOString(),
    },
    signal: ctx.signal,
    killGraceMs: options.killGraceMs,
    onSpawn: (pid) => ctx.setPid(pid),
    onLine: (stream, line) => ctx.log(stream === 'stderr' ? `[stderr] ${line}` : line),
    ...(ctx.statusDir ? { statusFile: attemptStatusFile(ctx.statusDir, ctx.runId, ctx.taskId, ctx.tryNumber) } : {}),
  });
  ctx.setPid(null);
  ctx.log(
    `[supervisor] process ${result.pid} ended: ${result.exitSignal ? `signal ${result.exitSignal}` : `exit code ${result.exitCode}`}` +
      `${result.killed ? ' (SIGKILL after the grace)' : ''} in ${result.durationMs} ms`,
  );
  return result;
}

function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a);
}

export function stringParam(params: Readonly<Record<string, unknown>>, key: string, where: string): string | undefined {
  const v = params[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `param "${key}" must be a string, got ${JSON.stringify(v)}`, { where, retryable: false });
}

export function argvParam(params: Readonly<Record<string, unknown>>, key: string, where: string): string[] | undefined {
  const v = params[key];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.map(String);
  throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `param "${key}" must be a non-empty list of arguments (argv, no shell), got ${JSON.stringify(v)}`, {
    where,
    retryable: false,
  });
}

export function envParam(params: Readonly<Record<string, unknown>>, where: string): Record<string, string> {
  const v = params.env;
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', 'param "env" must be a map of NAME: value', { where, retryable: false });
  }
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]));
}

export function whereOf(ctx: TaskContext): string {
  return `pipelines.${ctx.pipeline}.tasks.${ctx.taskId}.params`;
}
