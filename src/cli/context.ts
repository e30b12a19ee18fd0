import { loadConfig, readStorePath, resolveConfigFile, type LoadedConfig } from '../config/load';
import { createLogger } from '../logging';
import type { Logger } from '../protocol';
import { openDatabase, type SqliteDatabase } from '../store/database';
import { createVariableStore } from '../store/variables';

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
  const logger = createLogger({ level: params.logLevel ?? env.LOG_LEVEL ?? 'warn', format: 'auto' });
  const ctx: CliContext = {
    configFile: () => file,
    openStore() {
      if (!db) {
        db = openDatabase({ file: readStorePath(file, env) });
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
    close() {
      db?.close();
      db = undefined;
    },
  };
  return ctx;
}
