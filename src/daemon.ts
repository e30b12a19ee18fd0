import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { mergeMap, share, skip, Subject, takeUntil, type Observable, type Subscription } from 'rxjs';
import { createAlertEngine, createOutboxWorker, createSinks, closeSinks, resendIntervalsOf, resolveAlertRules, wakeOnEnqueue, type AlertEngine } from '../alerts';
import { createCheckProbes, createCommitStore, needsOffsetsStream, resolvedChecks } from './wiring/checks';
import { createReachability$ } from '../streams/reachability';
import { createOperators } from './wiring/operators';
import { loadConfig, readStorePath, type LoadedConfig } from './config/load';
import { createEngine, type Engine } from './engine/engine';
import { createLifecycle, type Component } from './lifecycle';
import { createLogger } from './logging';
import { registerSignalMetrics } from './metrics/signal-metrics';
import { createMetricsRegistry } from './metrics/registry';
import { systemClock, type Clock, type Logger, type Notification, type Signal } from './protocol';
import { buildApp } from './server/app';
import { healthRoutes } from './server/routes/health';
import { apiRoutes } from './server/routes/api';
import { openDatabase, type SqliteDatabase } from './store/database';
import { createSqliteAlertStateStore } from './store/alert-state';
import { createSqliteOutboxStore } from './store/outbox';
import { createSqliteSilenceStore } from './store/silences';
import { createTokenStore } from './store/tokens';
import { createVariableStore } from './store/variables';
import { VERSION } from './version';
import { createConsumerOffsets$ } from '../streams/consumer-offsets';
import { createSignals$ } from '../streams/check-scheduler';
import { createSignalState$, type SignalState } from '../streams/signal-state';

/**
 * Kafka checks run every 15 s; a broker that stops (or comes back) is noticed within about a
 * second by a TCP connect every 500 ms to each bootstrap broker, which runs the Kafka checks at
 * once. Together with the scheduler's confirmation runs this is what makes "broker down → alert"
 * take seconds with the default `for` of kafka_cluster_down.
 */
function brokerKicks$(config: LoadedConfig['config'], stop$: Observable<void>, logger: Logger): Observable<string> {
  const kafkaChecks = resolvedChecks(config).filter((c) => c.enabled && (c.kind === 'kafka_cluster' || c.kind === 'consumer_lag'));
  const brokers = [...new Set(kafkaChecks.flatMap((c) => (c.options as { brokers: string[] }).brokers))];
  if (brokers.length === 0) return new Subject<string>();
  return createReachability$({ targets: brokers }).pipe(
    // the first state of each broker is what the first runs see anyway
    skip(brokers.length),
    mergeMap((event) => {
      logger.info({ component: 'checks', broker: event.target, reachable: event.reachable, error: event.error }, `broker ${event.target} ${event.reachable ? 'accepts connections again' : 'refuses connections'}; running the Kafka checks now`);
      return kafkaChecks.filter((c) => (c.options as { brokers: string[] }).brokers.includes(event.target)).map((c) => c.name);
    }),
    takeUntil(stop$),
  );
}

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
  const stop$ = new Subject<void>();
  const publicUrl = config.server.public_url ?? `http://${config.server.host}:${params.port ?? config.server.port}`;

  // --- checks → signals$ → state
  const commitStore = needsOffsetsStream(config) ? createCommitStore() : undefined;
  const probes = createCheckProbes({ config, logger, clock, ...(commitStore ? { commitStore } : {}) });
  const signals$: Observable<Signal> = createSignals$({ probes, logger, clock, stop$, kicks$: brokerKicks$(config, stop$, logger) }).pipe(share());
  let state: SignalState | undefined;
  const latestSignals = (): Signal[] => (state ? [...state.signals.values()] : []);
  registerSignalMetrics({ registry, latest: latestSignals, now: () => clock.now() });

  // --- alerts: policy (engine) and delivery (outbox worker)
  const alertsConfig = config.alerts;
  const { rules, inhibit } = resolveAlertRules(alertsConfig);
  const sinks = createSinks(alertsConfig.sinks, logger);
  const outboxStore = createSqliteOutboxStore(db);
  const worker = createOutboxWorker({ outbox: outboxStore, sinks, clock, logger, registry });
  const outbox = wakeOnEnqueue(outboxStore, () => worker.wake());
  const notify = (n: Notification): void => {
    outbox.enqueue(n, alertsConfig.route.sinks, clock.now());
  };

  // --- pipelines
  const engine = createEngine({
    config: loaded,
    db,
    clock,
    logger,
    registry,
    operators: createOperators({ config, notify, latestSignals }),
    kafka: { brokers: [...config.connections.kafka.brokers], clientId: config.connections.kafka.client_id, schemaRegistryUrl: config.connections.schema_registry.url },
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
    registry,
    publicUrl,
    resendIntervals: resendIntervalsOf(alertsConfig.sinks),
  });

  let listeningUrl = '';
  const subscriptions: Subscription[] = [];
  const components: Component[] = [
    { name: 'outbox', start: async () => worker.start(), stop: async () => { await worker.close(); await closeSinks(sinks); } },
    { name: 'alerts', start: async () => alerts.start(), stop: () => alerts.close() },
    {
      name: 'http',
      start: async () => {
        // fastify logs "Server listening at …" itself
        listeningUrl = await app.listen({ host: config.server.host, port: params.port ?? config.server.port });
      },
      stop: () => app.close(),
    },
    {
      name: 'checks',
      start: async () => {
        if (commitStore) {
          const k = config.connections.kafka;
          subscriptions.push(
            createConsumerOffsets$({ brokers: k.brokers, clientId: k.client_id, logger, clock, connectionTimeout: k.connection_timeout })
              .pipe(takeUntil(stop$))
              .subscribe({ next: (e) => commitStore.apply(e), error: (err: unknown) => logger.error({ err }, 'consumer offsets stream failed') }),
          );
        }
        subscriptions.push(createSignalState$(signals$, { logger }).subscribe({ next: (s) => (state = s), error: (err: unknown) => logger.error({ err }, 'signal state stream failed') }));
        logger.info({ component: 'checks', checks: probes.map((p) => p.name) }, 'checks scheduled');
      },
      stop: async () => {
        stop$.next();
        stop$.complete();
        for (const s of subscriptions) s.unsubscribe();
        await Promise.allSettled(probes.map((p) => p.close?.()));
      },
    },
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
        await lifecycle.stop();
        await app.close().catch(() => undefined);
        if (db.open) db.close();
      })();
      return stopped;
    },
    url: () => listeningUrl,
  };
}
