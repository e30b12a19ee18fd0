import path from 'node:path';
import { durationMsParam } from './durations';
import type { Operator } from '../operator';
import { argvParam, envParam, runProcessTask, stringParam, TaskProcessError, whereOf } from './process-task';

export interface CommandOperatorParams {
  killGraceMs?: number;
}

/**
 * `command`: any program as an argv list (`command: [node, script.js, --flag]`), never a shell.
 * Params: command (required), cwd (relative to the config folder), env, kill_grace.
 * Exit code 0 = success; anything else fails the try (retried per the task's policy).
 */
export function createCommandOperator(options: CommandOperatorParams = {}): Operator {
  return async (ctx) => {
    const where = whereOf(ctx);
    const argv = argvParam(ctx.params, 'command', where);
    if (!argv) throw new TaskProcessError(`param "command" is required (an argv list) at ${where}`, null, false);
    const cwd = path.resolve(ctx.configDir, stringParam(ctx.params, 'cwd', where) ?? '.');
    const result = await runProcessTask(ctx, {
      argv,
      cwd,
      env: envParam(ctx.params, where),
      killGraceMs: durationMsParam(ctx.params, 'kill_grace', where) ?? options.killGraceMs ?? 10_000,
    });
    if (result.exitCode === 0) return { result: result.lastJson ?? { exitCode: 0 }, exitCode: 0 };
    throw new TaskProcessError(result.exitSignal ? `the process was ended by ${result.exitSignal}` : `the process exited with code ${result.exitCode}`, result.exitCode, true);
  };
}
