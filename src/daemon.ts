import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Observable } from 'rxjs';
import { createAlertEngine, createOutboxWorker, createSinks, resendIntervalsOf, resolveAlertRules, wakeOnEnqueue, type AlertEngine } from '../alerts';
import { createSignalSource } from './wiring/signal-source';
import { createOperators } from './wiring/operators';
import { kafkaConnectionSettings, schemaRegistryConnection } from './wiring/check-options';
import { createPipelineTriggers } from './wiring/triggers';
import { resolveKafkaConnection } from './shared/kafka-connection';
import { loadConfig, readStoreSettings, type LoadedConfig } from './config/load';
import { createEngine, type Engine } from './engine/engine';
import { createWorkerExecutor } from './engine/executor';
import { createPipelineCatalog } from './engine/dag';
import { createScheduleMonitor } from './engine/schedule-monitor';
import { registerScheduleMonitorMetrics } from './metrics/schedule-monitor';
import { createPipelineStateStore } from './store/pipeline-state';
import { createRunStore } from './store/runs';
import { createLifecycle, type Component } from './lifecycle';
import { createLogger } from './logging';
import { registerSignalMetrics } from './metrics/signal-metrics';
import { createMetricsRefresh } from './wiring/metrics-refresh';
import { registerAlertMetrics } from './metrics/alerts';
import { registerOutboxMetrics } from './metrics/outbox';
import { createMetricsRegistry } from './metrics/registry';
import type { Clock, Logger, Notification, RunEvent, Signal } from './protocol';
import { systemClock } from './shared/clock';
import { buildApp } from './server/app';
import { createHttpListener } from './server/listener';
import { healthRoutes } from './server/routes/health';
import { apiRoutes } from './server/routes/api';
import { operationRoutes } from './server/routes/operations';
import { inspectRoutes } from './server/routes/inspect';
import { createWebUi } from './server/ui';
import { lockStore, openDatabase, storeHealth, type SqliteDatabase } from './store/database';
import { createSqliteAlertStateStore } from './store/alert-state';
import { createSqliteOutboxStore } from './store/outbox';
import { createSqliteSilenceStore } from './store/silences';
import { createTokenStore } from './store/tokens';
import type { LeaseDatabase } from './store/leader';
import { createLeaseLeadership, createSoleLeadership, type Leadership } from './wiring/leadership';
import { createLeaderAlerts, fencedAlertStateStore, fencedOutboxStore, followerOutboxStore, readOnlyAlertStateStore } from './wiring/leader-alerts';
import { createLeaderRoles } from './wiring/leader-roles';
import { registerLeaderMetrics } from './metrics/leader';
import { createVariableStore } from './store/variables';
import { VERSION } from './version';
import { createRunEvents$ } from '../streams/run-events';
import type { SignalState } from '../streams/signal-state';

export interface CreateDaemonParams {
  configFile: string;
  env?: Readonly<Record<string, string | undefined>>;
  clock?: Clock;
  /** Use this logger instead of one built from the config (tests). */
  logger?: Logger;
  /** Listen on this port instead of the configured one (0 = any free port). */
  port?: number;
  /** Compile the API's request schemas at start instead of at each route's first request (tests). */
  compileSchemasNow?: boolean;
}

export interface Daemon {
  config: LoadedConfig;
  db: SqliteDatabase;
  app: FastifyInstance;
  registry: Registry;
  logger: Logger;
  engine: Engine;
  alerts: AlertEngine;
  /** Whether this replica leads (always, on SQLite), and the fence of its leader-only writes. */
  leadership: Leadership;
  /** Latest signal per key and the summary: shared, replaying, emits on real changes only. */
  state$: Observable<SignalState>;
  /** Run and task transitions of the engine: shared, replays the latest to a late subscriber. */
  runEvents$: Observable<RunEvent>;
  /** The latest signal per key (the current value of `state$`). */
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
  const store = readStoreSettings(params.configFile, env);
  // A SQLite store's exclusive lock comes before anything else: a second daemon on this store
  // refuses here, before its outbox, checks or engine exist. A PostgreSQL store is shared by
  // replicas on purpose: there the leader lease (src/wiring/leadership.ts) takes the lock's place.
  const lock = store.kind === 'sqlite' ? lockStore(store.path) : null;
  let db: SqliteDatabase;
  let loaded: LoadedConfig;
  try {
    db = openDatabase({ store });
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
    const publicUrl = config.server.public_url ?? `http://${config.server.host}:${params.port ?? config.server.port}`;

    // --- leadership: on a shared store (PostgreSQL) a lease elects the replica that does the
    // leader-only work, fenced by its epoch; the sole daemon of a SQLite store always leads
    const leadership: Leadership =
      (db as LeaseDatabase).dialect === 'postgres'
        ? createLeaseLeadership({ db, clock, logger, leaseMs: config.leader.lease, renewIntervalMs: config.leader.renew_interval })
        : createSoleLeadership();
    registerLeaderMetrics({ registry, status: () => leadership.status() });

    // --- checks → signals → state$
    // The `checks` component runs the probes (and nothing else does); `state$` is the source of
    // truth for the latest signals, read synchronously through its view (`checks.signals()`).
    // the one Kafka connection (TLS, SASL) of the stream, triggers and gates: files read once, one OAUTHBEARER token cache
    const kafkaConnection = resolveKafkaConnection(kafkaConnectionSettings(config.connections));
    // deadlines and missed schedule ticks, judged from the stores: two more probes of `checks`
    // (evaluated at its start, so what passed while the daemon was down is reported at once)
    const monitoredPipelines = createPipelineCatalog(config);
    const scheduleMonitorMetrics = registerScheduleMonitorMetrics({
      registry,
      overdue: () => scheduleMonitor.overdue(),
      pipelines: monitoredPipelines.list().map((p) => p.id),
    });
    const scheduleMonitor = createScheduleMonitor({
      catalog: monitoredPipelines,
      runs: createRunStore(db),
      pipelineState: createPipelineStateStore(db),
      now: () => clock.now(),
      metrics: scheduleMonitorMetrics,
      // read once the lifecycle below exists: catchup fills the missed ticks of catchup pipelines at the engine's start
      engineStarted: () => lifecycle.isStarted('engine'),
    });
    const checks = createSignalSource({ config, logger, clock, kafkaConnection, extraProbes: scheduleMonitor.probes() });
    const latestSignals = (): Signal[] => checks.signals();
    registerSignalMetrics({ registry, latest: latestSignals, now: () => clock.now() });

    // --- alerts: policy (engine) and delivery (outbox worker)
    const alertsConfig = config.alerts;
    const { rules, inhibit } = resolveAlertRules(alertsConfig);
    const sinks = createSinks(alertsConfig.sinks, logger);
    const outboxStore = createSqliteOutboxStore(db);
    const worker = createOutboxWorker({ outbox: outboxStore, sinks, clock, logger, closeSinksOnStop: true });
    registerOutboxMetrics({ registry, outbox: worker });
    const outbox = wakeOnEnqueue(outboxStore, () => worker.wake());
    // the notify task's enqueue is a leader-only write: fenced by the epoch (a deposed leader's run enqueues nothing)
    const notify = (n: Notification): void => {
      leadership.fenced(() => outbox.enqueue(n, alertsConfig.route.sinks, clock.now()));
    };

    // --- pipelines
    const engine = createEngine({
      config: loaded,
      db,
      // task status files are local to the host: beside the SQLite file, or where its default would be
      ...(store.kind === 'postgres' ? { statusDir: path.resolve(path.dirname(params.configFile), '../var/task-status') } : {}),
      clock,
      logger,
      registry,
      operators: createOperators({ config, notify, latestSignals }),
      kafka: {
        brokers: [...kafkaConnection.brokers],
        clientId: kafkaConnection.clientId,
        schemaRegistryUrl: config.connections.schema_registry.url,
        schemaRegistry: schemaRegistryConnection(config.connections),
        connection: kafkaConnection,
      },
      // the trigger streams (cron, lag, offsets) are wired here, at the root
      triggerWiring: createPipelineTriggers,
      latestSignals,
      configDir: path.dirname(loaded.file),
      // scheduling starts and stops with the leadership (leader-roles below); its writes are fenced
      leaderGated: true,
      fence: (write) => leadership.fenced(write),
      // runs claimed here carry the lease holder id; recovery and cancel judge owners across hosts by it
      owner: { id: leadership.id, leaseHolder: () => leadership.status().holder },
      // executor.mode workers: tries go to `supervisor worker` processes through the store's task_queue
      ...(config.executor.mode === 'workers'
        ? {
            executor: createWorkerExecutor({
              db,
              runs: createRunStore(db),
              clock,
              heartbeatTimeoutMs: config.executor.heartbeat_timeout,
              pollIntervalMs: config.executor.poll_interval,
              localOperators: config.executor.local_operators,
            }),
          }
        : {}),
    });

    const runEvents$ = createRunEvents$(engine.runEvents$);

    // the leader's alert engine persists its state and enqueues notifications, fenced by its
    // epoch; a follower's evaluates the same signals for display and writes nothing
    const alertStateStore = createSqliteAlertStateStore(db);
    const alerts = createLeaderAlerts({
      logger,
      initialRole: () => (leadership.isLeader() ? 'leader' : 'follower'),
      create: (role) =>
        createAlertEngine({
          rules,
          inhibit,
          route: alertsConfig.route,
          // every current signal when it starts, then each change of state$
          signals$: checks.signals$,
          runEvents$,
          alertStore: role === 'leader' ? fencedAlertStateStore(alertStateStore, leadership) : readOnlyAlertStateStore(alertStateStore),
          silenceStore: createSqliteSilenceStore(db),
          outbox: role === 'leader' ? wakeOnEnqueue(fencedOutboxStore(outboxStore, leadership), () => worker.wake()) : followerOutboxStore(outboxStore),
          clock,
          logger,
          publicUrl,
          resendIntervals: resendIntervalsOf(alertsConfig.sinks),
        }),
    });
    registerAlertMetrics({ registry, alerts });

    // the web UI: its live updates read state$, runEvents$ and the alert state (one subscription each)
    const ui = createWebUi({ engine, db, state$: checks.state$, runEvents$, alerts, signals: latestSignals, logger, now: () => clock.now() });

    const app = await buildApp({
      logger,
      registry,
      version: VERSION,
      tokens: createTokenStore(db),
      authFailuresPerMinute: config.server.auth_failures_per_minute,
      trustProxy: config.server.trust_proxy,
      ...(params.compileSchemasNow === true ? { compileSchemasNow: true } : {}),
      api: [
        healthRoutes(latestSignals),
        apiRoutes({ engine, db, alerts, silenceStore: createSqliteSilenceStore(db), clock, loaded, env, signals: latestSignals }),
        inspectRoutes({ engine, db, clock }),
        operationRoutes({ engine }),
        ...ui.api,
      ],
      sessions: ui.sessions,
      root: ui.root,
      // read at request time, once the lifecycle below exists
      readiness: () => {
        const health = storeHealth(db);
        const parts: Record<string, true | string> = { store: health.ok ? true : (health.reason ?? 'unavailable') };
        for (const name of lifecycle.names()) parts[name] = lifecycle.isStarted(name) ? true : 'not started';
        const lead = leadership.status();
        if (lead.problem && parts.leadership === true) parts.leadership = lead.problem;
        return {
          ready: Object.values(parts).every((v) => v === true),
          components: parts,
          leader: { self: lead.self, holder: lead.holder, epoch: lead.epoch },
        };
      },
    });

    const http = createHttpListener({
      app,
      host: config.server.host,
      port: params.port ?? config.server.port,
      where: params.port !== undefined ? '--port' : `${loaded.file}: server.port`,
      logger,
    });
    // Started in this order, stopped in reverse: things taking requests before things sending
    // requests. `checks` starts the probes (and nothing else does); `alerts` comes after it and
    // reads the replayed state first.
    // the leader-only roles (scheduling, notifying) follow the lease, after everything they use
    const roles = createLeaderRoles({ leadership, engine, alerts, logger, catchupWindowMs: config.leader.catchup_window });
    // the signal gauges render in the background when the checks' state changes
    const metricsRefresh = createMetricsRefresh({ registry, changes$: checks.state$, logger });
    const components: Component[] = [leadership, worker, checks, metricsRefresh, alerts, http, engine, roles];
    const lifecycle = createLifecycle(components, logger);

    let stopped: Promise<void> | undefined;
    return {
      config: loaded,
      db,
      app,
      registry,
      logger,
      engine,
      alerts,
      leadership,
      state$: checks.state$,
      runEvents$,
      signals: latestSignals,
      start: () => lifecycle.start(),
      stop() {
        stopped ??= (async () => {
          try {
            await lifecycle.stop();
            // the components that never started are stopped too (each stop is idempotent): the
            // server's plugins close, and no probe's client outlives the daemon
            await http.stop();
            await checks.stop();
            // the OAUTHBEARER token source's HTTP agent, once nothing uses the connection any more
            await kafkaConnection.tokens?.close().catch(() => undefined);
          } finally {
            if (db.open) db.close();
            lock?.release();
          }
        })();
        return stopped;
      },
      url: () => http.url(),
    };
  } catch (err) {
    // nothing was started yet (start() does that); release what createDaemon holds
    if (db.open) db.close();
    lock?.release();
    throw err;
  }
}
