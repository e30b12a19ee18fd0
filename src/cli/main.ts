// first: rxjs from its one-file build for everything imported below (see rxjs-bundle.ts)
import './rxjs-bundle';
// zod without its JIT: schemas parse a few documents each in this process (see zod-jitless.ts)
import './zod-jitless';
import { Command, CommanderError, Option } from 'commander';
import { isSupervisorError, type ErrorCode } from '../protocol';
import { DateParseError } from '../shared/dates';
import { DurationError } from '../shared/duration';
import { escapeControl } from '../shared/limits';
import { VERSION } from '../version';
import { registerConfigCommands } from './commands/config';
import { registerStartCommand } from './commands/start';
import { registerTokenCommands } from './commands/tokens';
import { registerVariableCommands } from './commands/variables';
import { createCliContext, LOG_LEVELS, type CliContext } from './context';
import { registerExtraCommands } from './extra-commands';

export interface MainOptions {
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The `supervisor` command. Returns the exit code: 0 success, 1 the thing checked or run
 * failed, 2 usage or configuration error.
 */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  let exitCode = 0;
  const setExit = (code: number): void => {
    exitCode = Math.max(exitCode, code);
  };
  const stderr = options.stderr ?? ((s: string) => process.stderr.write(s.endsWith('\n') ? s : s + '\n'));
  let ctx: CliContext | undefined;
  const context = (): CliContext => {
    if (!ctx) {
      const g = program.opts<{ config?: string; json?: boolean; logLevel?: string }>();
      ctx = createCliContext({
        ...(g.config !== undefined ? { configFile: g.config } : {}),
        json: g.json ?? false,
        ...(g.logLevel !== undefined ? { logLevel: g.logLevel } : {}),
        ...(options.env ? { env: options.env } : {}),
        ...(options.stdout ? { stdout: options.stdout } : {}),
        stderr,
      });
    }
    return ctx;
  };
  // Commands receive a proxy so the context (and the config file) is resolved after option parsing.
  const lazy = new Proxy({} as CliContext, { get: (_t, key): unknown => Reflect.get(context(), key) });

  const program = new Command('supervisor')
    .description('Pipeline Supervisor: schedules, health checks, metrics and alerts for a Kafka → Spark → Delta pipeline')
    .version(VERSION)
    .option('-c, --config <file>', 'configuration file (default: $SUPERVISOR_CONFIG or config/supervisor.yaml)')
    .option('--json', 'machine-readable output')
    .addOption(new Option('--log-level <level>', 'log level for this command (default warn)').choices(LOG_LEVELS))
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => (options.stdout ?? ((t: string) => process.stdout.write(t)))(s),
      writeErr: (s) => stderr(s),
    });

  registerStartCommand(program, lazy, setExit);
  registerConfigCommands(program, lazy, setExit);
  registerVariableCommands(program, lazy, setExit);
  registerTokenCommands(program, lazy, setExit);
  registerExtraCommands(program, lazy, setExit);

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0; // --help, --version
      return 2;
    }
    setExit(reportError(err, stderr, options.env ?? process.env, program.opts<{ logLevel?: string }>().logLevel));
  } finally {
    ctx?.close();
  }
  return exitCode;
}

/** Codes that are the user's to fix (exit 2); anything else that reaches here failed (exit 1). */
const USER_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['SUP_ERR_USAGE', 'SUP_ERR_NOT_FOUND', 'SUP_ERR_CONFLICT', 'SUP_ERR_BAD_REQUEST']);

/**
 * The catch-all: one short line per error, never a stack trace (unless the log level asks for
 * debug), control characters escaped. Returns the exit code.
 */
export function reportError(err: unknown, stderr: (s: string) => void, env: Readonly<Record<string, string | undefined>>, logLevel?: string): number {
  if (isSupervisorError(err)) {
    stderr(escapeControl(err.format()));
    return USER_ERRORS.has(err.code) || err.code.startsWith('SUP_ERR_CONFIG') ? 2 : 1;
  }
  if (err instanceof DateParseError || err instanceof DurationError) {
    stderr(escapeControl(`SUP_ERR_USAGE: ${err.message}`));
    return 2;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const level = logLevel ?? env.LOG_LEVEL;
  const verbose = level === 'debug' || level === 'trace';
  stderr(escapeControl(`SUP_ERR_INTERNAL: ${e.message || e.name}${verbose ? `\n${e.stack ?? ''}` : ' (run with --log-level debug for details)'}`));
  return 1;
}
