import { loadConfig, readStoreSettings, resolveConfigFile, type LoadedConfig } from '../config/load';
import { createLogger } from '../logging';
import { SupervisorError, type Logger } from '../protocol';
import { openDatabase, type SqliteDatabase } from '../store/database';
import { createVariableStore } from '../store/variables';

/** The levels `--log-level` and LOG_LEVEL accept (pino's). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** What every CLI command gets: lazy config and store, a logger, and output functions. */
export interface CliContext {
  /** Loads (once) and returns the validated config, with stored variables applied. */
  loadConfig(): LoadedConfig;
  /** Opens (once) the state store named by the config. */
  openStore(): SqliteDatabase;
  /** The config file path in use. */
  configFile(): string;
  logger: Logger;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** --json: machine-readable output. */
  json: boolean;
  /** The environment the config is interpolated with. */
  env: Readonly<Record<string, string | undefined>>;
  /** Closes what was opened. */
  close(): void;
}

export interface CreateCliContextParams {
  configFile?: string;
  json?: boolean;
  env?: Readonly<Record<string, string | undefined>>;
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
  logLevel?: string;
}

export function createCliContext(params: CreateCliContextParams = {}): CliContext {
  const env = params.env ?? process.env;
  const file = resolveConfigFile(params.configFile, env);
  let db: SqliteDatabase | undefined;
  let loaded: LoadedConfig | undefined;
  const level = params.logLevel ?? env.LOG_LEVEL ?? 'warn';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    const source = params.logLevel !== undefined ? '--log-level' : 'LOG_LEVEL';
    throw new SupervisorError('SUP_ERR_USAGE', `${source} ${JSON.stringify(level)} is not a log level; use one of ${LOG_LEVELS.join(', ')}`);
  }
  const logger = createLogger({ level, format: 'auto' });
  const ctx: CliContext = {
    configFile: () => file,
    openStore() {
      if (!db) {
        db = openDatabase({ store: readStoreSettings(file, env) });
      }
      return db;
    },
    loadConfig() {
      if (!loaded) {
        const stored = createVariableStore(ctx.openStore()).asRecord();
        loaded = loadConfig({ file, env, storedVariables: stored });
      }
      return loaded;
    },
    logger,
    stdout: params.stdout ?? ((s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n')),
    stderr: params.stderr ?? ((s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n')),
    json: params.json ?? false,
    env,
    close() {
      db?.close();
      db = undefined;
    },
  };
  return ctx;
}
