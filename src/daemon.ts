import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { loadConfig, readStorePath, type LoadedConfig } from './config/load';
import { createLifecycle, type Component } from './lifecycle';
import { createLogger } from './logging';
import { createMetricsRegistry } from './metrics/registry';
import { systemClock, type Clock, type Logger } from './protocol';
import { buildApp } from './server/app';
import { healthRoutes } from './server/routes/health';
import { openDatabase, type SqliteDatabase } from './store/database';
import { createTokenStore } from './store/tokens';
import { createVariableStore } from './store/variables';
import { VERSION } from './version';

export interface CreateDaemonParams {
  configFile: string;
  env?: Readonly<Record<string, string | undefined>>;
  clock?: Clock;
  /** Use this logger instead of one built from the config (tests). */
  logger?: Logger;
  /** Listen on this port instead of the configured one (0 = any free port). */
  port?: number;
}

export interface Daemon {
  config: LoadedConfig;
  db: SqliteDatabase;
  app: FastifyInstance;
  registry: Registry;
  logger: Logger;
  start(): Promise<void>;
  /** Idempotent; stops components in reverse order and closes the store. */
  stop(): Promise<void>;
  /** Base URL once listening. */
  url(): string;
}

/**
 * The composition root: loads the config, opens the store and wires the components. Nothing
 * connects to anything until `start()`.
 */
export async function createDaemon(params: CreateDaemonParams): Promise<Daemon> {
  const env = params.env ?? process.env;
  const clock = params.clock ?? systemClock;
  const db = openDatabase({ file: readStorePath(params.configFile, env) });
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig({ file: params.configFile, env, storedVariables: createVariableStore(db).asRecord() });
  } catch (err) {
    db.close();
    throw err;
  }
  const { config } = loaded;
  const logger = params.logger ?? createLogger({ level: config.logging.level, format: config.logging.format });
  const registry = createMetricsRegistry({ version: VERSION });
  void clock;
  void path;

  let listeningUrl = '';
  const lifecycle = createLifecycle(
    [
      {
        name: 'http',
        start: async () => {
          listeningUrl = await app.listen({ host: config.server.host, port: params.port ?? config.server.port });
          logger.info({ component: 'http', url: listeningUrl }, 'listening');
        },
        stop: () => app.close(),
      } satisfies Component,
    ],
    logger,
  );

  const app = await buildApp({
    logger,
    registry,
    version: VERSION,
    tokens: createTokenStore(db),
    api: [healthRoutes(() => [])],
    authFailuresPerMinute: config.server.auth_failures_per_minute,
    readiness: () => {
      const components: Record<string, true | string> = { store: db.open ? true : 'closed' };
      for (const name of lifecycle.names()) components[name] = lifecycle.isStarted(name) ? true : 'not started';
      return { ready: Object.values(components).every((v) => v === true), components };
    },
  });

  let stopped: Promise<void> | undefined;
  return {
    config: loaded,
    db,
    app,
    registry,
    logger,
    start: () => lifecycle.start(),
    stop() {
      stopped ??= (async () => {
        await lifecycle.stop();
        await app.close().catch(() => undefined);
        if (db.open) db.close();
      })();
      return stopped;
    },
    url: () => listeningUrl,
  };
}
