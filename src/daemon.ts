import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { concat, connectable, defer, from, Subject, takeUntil, type Observable, type Subscription } from 'rxjs';
import { createAlertEngine, createOutboxWorker, createSinks, closeSinks, resendIntervalsOf, resolveAlertRules, wakeOnEnqueue, type AlertEngine } from '../alerts';
import { createCheckProbes, createCommitStore, needsOffsetsStream } from './wiring/probes';
import { createBrokerKicks } from './wiring/broker-kicks';
import { createOperators } from './wiring/operators';
import { kafkaConnectionSettings, schemaRegistryConnection } from './wiring/check-options';
import { resolveKafkaConnection } from './shared/kafka-connection';
import { loadConfig, readStorePath, type LoadedConfig } from './config/load';
import { createEngine, type Engine } from './engine/engine';
import { createLifecycle, type Component } from './lifecycle';
import { createLogger } from './logging';
import { registerSignalMetrics } from './metrics/signal-metrics';
import { registerAlertMetrics } from './metrics/alerts';
import { registerOutboxMetrics } from './metrics/outbox';
import { createMetricsRegistry } from './metrics/registry';
import { SupervisorError, type Clock, type Logger, type Notification, type Signal } from './protocol';
import { systemClock } from './shared/clock';
import { buildApp } from './server/app';
import { healthRoutes } from './server/routes/health';
import { apiRoutes } from './server/routes/api';
import { lockStore, openDatabase, type SqliteDatabase } from './store/database';
import { createSqliteAlertStateStore } from './store/alert-state';
import { createSqliteOutboxStore } from './store/outbox';
import { createSqliteSilenceStore } from './store/silences';
import { createTokenStore } from './store/tokens';
import { createVariableStore } from './store/variables';
import { VERSION } from './version';
import { createConsumerOffsets$ } from '../streams/consumer-offsets';
import { createSignals$ } from '../streams/check-scheduler';
import { createSignalState$, type SignalState } from '../streams/signal-state';

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
  engine: Engine;
  alerts: AlertEngine;
  /** The latest signal per key. */
  signals(): Signal[];
  start(): Promise<void>;
  /** Idempotent; stops components in reverse order and closes the store. */
  stop(): Promise<void>;
  /** Base URL once listening. */
  url(): string;
}

/**
 * The composition root: loads the config, opens the store and wires checks → signals →
 * state → metrics/health/alerts, and triggers → engine → run events → alerts. Nothing
 * connects to anything until `start()`.
 */
export async function createDaemon(params: CreateDaemonParams): Promise<Daemon> {
  const env = params.env ?? process.env;
  const clock = params.clock ?? systemClock;
  const storePath = readStorePath(params.configFile, env);
  // The store's exclusive lock comes before anything else: a second daemon on this store
  // refuses here, before its outbox, checks or engine exist.
  const lock = lockStore(storePath);
  let db: SqliteDatabase;
  let loaded: LoadedConfig;
  try {
    db = openDatabase({ file: storePath });
  } catch (err) {
    lock?.release();
    throw err;
  }
  try {
    loaded = loadConfig({ file: params.configFile, env, storedVariables: createVariableStore(db).asRecord() });
  } catch (err) {
    db.close();
    lock?.release();
    throw err;
  }
  try {
    const { config } = loaded;
    const logger = params.logger ?? createLogger({ level: config.logging.level, format: config.logging.format });
    const registry = createMetricsRegistry({ version: VERSION });
    const stop$ = new Subject<void>();
    const publicUrl = config.server.public_url ?? `http://${config.server.host}:${params.port ?? config.server.port}`;

    // --- checks → signals$ → state
    // The probes run once the checks component connects the signal stream (after the state
    // subscriber is in place); consumers started later get the latest signal of every key first
    // (`signals$` replays the state), so nobody misses the first results.
    const commitStore = needsOffsetsStream(config) ? createCommitStore() : undefined;
    const probes = createCheckProbes({ config, logger, clock, ...(commitStore ? { commitStore } : {}) });
    const brokerKicks = createBrokerKicks({ config, logger });
    const liveSignals$ = connectable(createSignals$({ probes, logger, clock, stop$, kicks$: brokerKicks.kicks$ }), {
      connector: () => new Subject<Signal>(),
      resetOnDisconnect: false,
    });
    let state: SignalState | undefined;
    const latestSignals = (): Signal[] => (state ? [...state.signals.values()] : []);
    const signals$: Observable<Signal> = defer(() => concat(from(latestSignals()), liveSignals$));
    registerSignalMetrics({ registry, latest: latestSignals, now: () => clock.now() });

    // --- alerts: policy (engine) and delivery (outbox worker)
    const alertsConfig = config.alerts;
    const { rules, inhibit } = resolveAlertRules(alertsConfig);
    const sinks = createSinks(alertsConfig.sinks, logger);
    const outboxStore = createSqliteOutboxStore(db);
    const worker = createOutboxWorker({ outbox: outboxStore, sinks, clock, logger });
    registerOutboxMetrics({ registry, outbox: worker });
    const outbox = wakeOnEnqueue(outboxStore, () => worker.wake());
    const notify = (n: Notification): void => {
      outbox.enqueue(n, alertsConfig.route.sinks, clock.now());
    };

    // --- pipelines
    // the one Kafka connection (TLS, SASL) of the stream, triggers and gates: files read once, one OAUTHBEARER token cache
    const kafkaConnection = resolveKafkaConnection(kafkaConnectionSettings(config.connections));
    const engine = createEngine({
      config: loaded,
      db,
      clock,
      logger,
      registry,
      operators: createOperators({ config, notify, latestSignals }),
      kafka: { brokers: [...kafkaConnection.brokers], clientId: kafkaConnection.clientId, schemaRegistryUrl: config.connections.schema_registry.url, schemaRegistry: schemaRegistryConnection(config.connections), connection: kafkaConnection },
      latestSignals,
      configDir: path.dirname(loaded.file),
    });

    const alerts = createAlertEngine({
      rules,
      inhibit,
      route: alertsConfig.route,
      signals$,
      runEvents$: engine.runEvents$,
      alertStore: createSqliteAlertStateStore(db),
      silenceStore: createSqliteSilenceStore(db),
      outbox,
      clock,
      logger,
      publicUrl,
      resendIntervals: resendIntervalsOf(alertsConfig.sinks),
    });
    registerAlertMetrics({ registry, alerts });

    let listeningUrl = '';
    const subscriptions: Subscription[] = [];
    let checksStopped: Promise<void> | undefined;
    const stopChecks = (): Promise<void> =>
      (checksStopped ??= (async () => {
        stop$.next();
        stop$.complete();
        brokerKicks.stop();
        for (const s of subscriptions.splice(0)) s.unsubscribe();
        await Promise.allSettled(probes.map(async (p) => p.close?.()));
      })());
    const listen = async (): Promise<void> => {
      const host = config.server.host;
      const port = params.port ?? config.server.port;
      try {
        // fastify logs "Server listening at …" itself
        listeningUrl = await app.listen({ host, port });
      } catch (cause) {
        const code = (cause as NodeJS.ErrnoException).code;
        const why = code === 'EADDRINUSE' ? 'the address is in use by another process' : code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : code === 'EADDRNOTAVAIL' ? 'the address is not one of this host' : (cause as Error).message;
        throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `cannot listen on ${host}:${port}: ${why}`, { where: params.port !== undefined ? '--port' : `${loaded.file}: server.port`, cause });
      }
    };
    // Started in this order, stopped in reverse. `checks` starts the probes (and nothing else
    // does); `alerts` comes after it and reads the replayed state first.
    const components: Component[] = [
      { name: 'outbox', start: () => Promise.resolve(worker.start()), stop: async () => { await worker.close(); await closeSinks(sinks); } },
      {
        name: 'checks',
        start: async () => {
          try {
            if (commitStore) {
              subscriptions.push(
                createConsumerOffsets$({ connection: kafkaConnection, logger, clock })
                  .pipe(takeUntil(stop$))
                  .subscribe({ next: (e) => commitStore.apply(e), error: (err: unknown) => logger.error({ err }, 'consumer offsets stream failed') }),
              );
            }
            // state first: it sees every signal from the first one on
            subscriptions.push(createSignalState$(liveSignals$, { logger }).subscribe({ next: (s) => (state = s), error: (err: unknown) => logger.error({ err }, 'signal state stream failed') }));
            brokerKicks.start();
            subscriptions.push(liveSignals$.connect());
          } catch (err) {
            await stopChecks();
            throw err;
          }
          logger.info({ component: 'checks', checks: probes.map((p) => p.name) }, 'checks scheduled');
        },
        stop: stopChecks,
      },
      { name: 'alerts', start: () => Promise.resolve(alerts.start()), stop: () => alerts.close() },
      { name: 'http', start: listen, stop: () => app.close() },
      { name: 'engine', start: () => engine.start(), stop: () => engine.close() },
    ];
    const lifecycle = createLifecycle(components, logger);

    const app = await buildApp({
      logger,
      registry,
      version: VERSION,
      tokens: createTokenStore(db),
      authFailuresPerMinute: config.server.auth_failures_per_minute,
      trustProxy: config.server.trust_proxy,
      api: [healthRoutes(latestSignals), apiRoutes({ engine, db, alerts, silenceStore: createSqliteSilenceStore(db), clock, loaded, env })],
      readiness: () => {
        const parts: Record<string, true | string> = { store: db.open ? true : 'closed' };
        for (const name of lifecycle.names()) parts[name] = lifecycle.isStarted(name) ? true : 'not started';
        return { ready: Object.values(parts).every((v) => v === true), components: parts };
      },
    });

    let stopped: Promise<void> | undefined;
    return {
      config: loaded,
      db,
      app,
      registry,
      logger,
      engine,
      alerts,
      signals: latestSignals,
      start: () => lifecycle.start(),
      stop() {
        stopped ??= (async () => {
          try {
            await lifecycle.stop();
            await app.close().catch(() => undefined);
            // probes were closed by the checks component if it started; close them anyway when
            // it never did (idempotent), so no client outlives the daemon
            await stopChecks();
            // the OAUTHBEARER token source's HTTP agent, once nothing uses the connection any more
            await kafkaConnection.tokens?.close().catch(() => undefined);
          } finally {
            if (db.open) db.close();
            lock?.release();
          }
        })();
        return stopped;
      },
      url: () => listeningUrl,
    };
  } catch (err) {
    // nothing was started yet (start() does that); release what createDaemon holds
    if (db.open) db.close();
    lock?.release();
    throw err;
  }
}
