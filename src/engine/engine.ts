/**
 * The pipelines engine: trigger streams (cron, Kafka lag/offsets, manual, backfill) merged,
 * gated, turned into runs under the overlap policy and the one-run-per-logical-date rule,
 * dispatched to the runner within max_active_runs, and published as run events.
 *
 *   cron$ ─┐                (per pipeline, bounded)
 *   lag$  ─┼─► merge ─► gate ─► submit (overlap, idempotency → store `queued`) ─► dispatch ─► runner ─► runEvents$
 *   offsets$┘                 ▲ manual trigger() / backfill() / CLI rows queued in the store (polled)
 *
 * The store is the queue: a CLI `pipelines trigger` inserts a `queued` row and the daemon's
 * poll picks it up; claiming is atomic, so two processes never execute one run.
 */
import { setMaxListeners } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import type { Registry } from 'prom-client';
import { EMPTY, Subject, merge, type Observable, type Subscription } from 'rxjs';
import {
  SupervisorError,
  describeError,
  isSupervisorError,
  TERMINAL_RUN_STATES,
  type Clock,
  type Logger,
  type RunEvent,
  type RunState,
  type Signal,
  type Trigger,
  type TriggerKind,
} from '../protocol';
import { systemClock } from '../shared/clock';
import type { LoadedConfig } from '../config/load';
import type { SqliteDatabase } from '../store/database';
import { createRunStore, type RunRecord, type RunStore } from '../store/runs';
import { compileSchedule, createCronTrigger$, ticksBetween, ticksInRange } from '../../streams/cron';
import { evaluateGate, gateTriggers } from '../../streams/gate';
import { createLagTrigger$ } from '../../streams/lag-trigger';
import { createOffsetsTrigger$ } from '../../streams/offsets-trigger';
import { createKafkaAdminSource, type KafkaAdminSource } from '../../streams/trigger-kafka';
import type { KafkaConnection } from '../shared/kafka-connection';
import type { SchemaRegistryConnection } from '../shared/schema-registry-decoder';
import { createPipelineCatalog, getTask, type PipelineCatalog, type PipelineSpec } from './dag';
import { registerPipelineMetrics, type PipelineMetrics } from '../metrics/pipelines';
import type { OperatorRegistry } from './operator';
import { recoverOrphanedRuns } from './recovery';
import { AbortReason, executeRun, type RunnerParams } from './runner';

export interface EngineParams {
  config: LoadedConfig;
  db: SqliteDatabase;
  clock?: Clock;
  logger: Logger;
  registry?: Registry;
  operators: OperatorRegistry;
  /** Kafka connection for lag/offsets triggers and gates. */
  kafka?: {
    brokers: string[];
    clientId: string;
    schemaRegistryUrl?: string;
    /** connections.schema_registry with its auth, headers and TLS, for the offsets triggers' decoder (wins over the URL). */
    schemaRegistry?: SchemaRegistryConnection;
    /** connections.kafka resolved (TLS, SASL; src/shared/kafka-connection.ts): every trigger and gate client uses it. */
    connection?: KafkaConnection;
  };
  latestSignals?: () => readonly Signal[];
  /** Folder relative paths in task params are resolved against (the config file's folder). */
  configDir?: string;
  /**
   * Daemon mode (default true): cron and Kafka triggers, crash recovery, catchup, and polling
   * the store for runs queued by other processes. False for in-process CLI runs, which only
   * execute the runs they create.
   */
  schedule?: boolean;
  /** Extra trigger streams (tests, API). */
  triggers$?: readonly Observable<Trigger>[];
  /** Store poll for queued runs, ms. Default 1000. */
  pollIntervalMs?: number;
  random?: () => number;
  maxLogBytes?: number;
  abortGraceMs?: number;
  /** Folder for task exit-status files; default `task-status/` beside the store file. */
  statusDir?: string;
  /** Upper bound of catchup ticks enqueued at start per pipeline. Default 100. */
  maxCatchupRuns?: number;
  /** Bound of one gate evaluation; a gate that does not answer in time skips the run. Default 20 s. */
  gateTimeoutMs?: number;
}

export interface TriggerOptions {
  logicalDate?: number;
  conf?: Record<string, unknown>;
  rerun?: boolean;
  kind?: TriggerKind;
}

export interface TaskSummary {
  taskId: string;
  state: string;
  tryNumber: number;
  maxTries: number;
  reason: string | null;
  startedAt: number | null;
  endedAt: number | null;
}

export interface RunSummary {
  runId: string;
  pipeline: string;
  logicalDate: number;
  kind: TriggerKind;
  state: RunState;
  reason: string | null;
  /** False when a run for this logical date already existed (the trigger was a duplicate). */
  created: boolean;
  queuedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  tasks: TaskSummary[];
}

export interface BackfillOptions {
  startDate: number;
  endDate: number;
  dryRun?: boolean;
  /** Which logical dates that already have a run are run again. Default none. */
  reprocess?: 'none' | 'failed' | 'all';
  maxActive?: number;
  conf?: Record<string, unknown>;
  onProgress?: (progress: { done: number; total: number; last?: RunSummary }) => void;
}

export interface BackfillPlanItem {
  logicalDate: number;
  action: 'run' | 'rerun' | 'skip';
  existing: { runId: string; state: RunState } | null;
}

export interface BackfillSummary {
  pipeline: string;
  dryRun: boolean;
  plan: BackfillPlanItem[];
  runs: RunSummary[];
  counts: { total: number; run: number; rerun: number; skippedExisting: number; success: number; failed: number };
}

export interface Engine {
  readonly catalog: PipelineCatalog;
  readonly store: RunStore;
  readonly runEvents$: Observable<RunEvent>;
  start(): Promise<void>;
  close(): Promise<void>;
  trigger(pipeline: string, options?: TriggerOptions): Promise<RunSummary>;
  /** Runs one task of a pipeline in-process, ignoring dependencies (Airflow `tasks test`). */
  testTask(pipeline: string, taskId: string, logicalDate: number, conf?: Record<string, unknown>): Promise<RunSummary>;
  backfill(pipeline: string, options: BackfillOptions): Promise<BackfillSummary>;
  /** Resolves once the run reached a final state (executed here or by another process). */
  waitForRun(runId: string, signal?: AbortSignal): Promise<RunSummary>;
  getRun(runId: string): RunSummary | null;
  /** Queued/running runs of this engine's pipelines (for /readyz and tests). */
  activeRuns(): string[];
}

const AUTOMATIC: ReadonlySet<TriggerKind> = new Set(['cron', 'lag', 'offsets']);
/** Run kinds max_active_runs does not limit. */
const UNLIMITED: ReadonlySet<TriggerKind> = new Set(['backfill', 'test']);
/** Queued runs read per dispatch query. */
const DISPATCH_PAGE = 500;
const TERMINAL: ReadonlySet<RunState> = new Set(TERMINAL_RUN_STATES);

export function summarizeRun(store: RunStore, run: RunRecord, created = true): RunSummary {
  return {
    runId: run.id,
    pipeline: run.pipeline,
    logicalDate: run.logicalDate,
    kind: run.kind,
    state: run.state,
    reason: run.reason,
    created,
    queuedAt: run.queuedAt,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    tasks: store.listTasks(run.id).map((t) => ({
      taskId: t.taskId,
      state: t.state,
      tryNumber: t.tryNumber,
      maxTries: t.maxTries,
      reason: t.reason,
      startedAt: t.startedAt,
      endedAt: t.endedAt,
    })),
  };
}

export function createEngine(params: EngineParams): Engine {
  const clock = params.clock ?? systemClock;
  const logger = params.logger.child({ component: 'engine', name: 'pipelines' });
  const store = createRunStore(params.db);
  const catalog = createPipelineCatalog(params.config.config);
  const daemon = params.schedule !== false;
  const configDir = params.configDir ?? path.dirname(params.config.file);
  const events = new Subject<RunEvent>();
  const metrics: PipelineMetrics = registerPipelineMetrics({ registry: params.registry, store, pipelines: () => catalog.list().map((p) => p.id) });
  const emit = (e: RunEvent): void => {
    try {
      metrics.observe(e);
    } catch (err) {
      logger.warn({ error: (err as Error).message }, 'metrics update failed');
    }
    events.next(e);
  };

  // Validate every schedule now: configure validates, start connects.
  for (const p of catalog.list()) if (p.schedule) compileSchedule(p.schedule, p.timezone, `pipelines.${p.id}.schedule`);

  const statusDir = params.statusDir ?? (params.db.name && params.db.name !== ':memory:' ? path.join(path.dirname(path.resolve(params.db.name)), 'task-status') : path.join(os.tmpdir(), `supervisor-task-status-${process.pid}`));
  const runner: RunnerParams = {
    statusDir,
    store,
    operators: params.operators,
    clock,
    logger,
    emit,
    configDir,
    ...(params.random ? { random: params.random } : {}),
    ...(params.maxLogBytes ? { maxLogBytes: params.maxLogBytes } : {}),
    ...(params.abortGraceMs !== undefined ? { abortGraceMs: params.abortGraceMs } : {}),
  };

  const shutdown = new AbortController();
  // every run in flight listens to it (max_active_runs is up to 64 per pipeline, backfills more)
  setMaxListeners(0, shutdown.signal);
  const executing = new Map<string, Promise<void>>();
  /** Runs this engine created and may execute even when not in daemon mode. */
  const own = new Set<string>();
  const subscriptions: Subscription[] = [];
  let pollTimer: NodeJS.Timeout | undefined;
  let kafkaSource: KafkaAdminSource | undefined;
  let started = false;
  let closing: Promise<void> | undefined;

  const execute = (spec: PipelineSpec, runId: string, only?: readonly string[]): void => {
    const p = executeRun(runner, spec, runId, shutdown.signal, only ? { only } : {})
      .then(
        () => undefined,
        (err: unknown) => {
          // Store failure or a bug: never leave a run silently running.
          logger.error({ run: runId, error: describeError(err).message }, 'run execution failed');
          try {
            store.updateRun(runId, { state: 'failed', reason: `internal error: ${describeError(err).message}`, endedAt: clock.now() });
          } catch {
            /* store closed */
          }
        },
      )
      .finally(() => {
        executing.delete(runId);
        own.delete(runId);
        if (!shutdown.signal.aborted) dispatch();
      });
    executing.set(runId, p);
  };

  /**
   * Starts queued runs, oldest first, while their pipeline has room (backfill and test runs are
   * not limited by max_active_runs). One query counts the running runs of every pipeline; the
   * queued ones are read in pages (only of pipelines with room, plus unlimited kinds), so every
   * queued run is reached however many there are, and a queued run that must wait costs no
   * query of its own.
   */
  const dispatch = (): void => {
    if (shutdown.signal.aborted) return;
    try {
      const running = store.countByPipeline(['running']);
      const hasRoom = (spec: PipelineSpec): boolean => (running.get(spec.id) ?? 0) < spec.maxActiveRuns;
      const start = (run: RunRecord): void => {
        const spec = catalog.find(run.pipeline);
        if (!spec) return;
        if (!UNLIMITED.has(run.kind) && !hasRoom(spec)) return;
        if (!store.claimRun(run.id, process.pid, clock.now())) return;
        running.set(spec.id, (running.get(spec.id) ?? 0) + 1);
        execute(spec, run.id);
      };
      if (!daemon) {
        // an in-process CLI engine executes only the runs it created
        for (const id of [...own]) {
          if (executing.has(id)) continue;
          const run = store.getRun(id);
          if (run?.state === 'queued') start(run);
        }
        return;
      }
      let after: { queuedAt: number; id: string } | undefined;
      for (;;) {
        const pipelines = catalog.list().filter(hasRoom).map((p) => p.id);
        const page = store.listQueued({ ...(after ? { after } : {}), limit: DISPATCH_PAGE, pipelines, kinds: [...UNLIMITED] });
        for (const run of page) start(run);
        if (page.length < DISPATCH_PAGE || shutdown.signal.aborted) break;
        const last = page[page.length - 1]!;
        after = { queuedAt: last.queuedAt, id: last.id };
      }
    } catch (err) {
      logger.error({ error: describeError(err).message }, 'dispatch failed');
    }
  };

  /**
   * A trigger becomes a queued run (or is skipped, or deduplicated). Never throws unless
   * `rethrow` is set (a manual trigger, whose caller is waiting for the answer).
   */
  const submit = (trigger: Trigger, options: { bypassOverlap?: boolean; rethrow?: boolean } = {}): RunSummary | null => {
    try {
      const spec = catalog.get(trigger.pipeline);
      const now = clock.now();
      if (trigger.skipReason !== undefined) {
        const { run, created } = store.insertRun({
          pipeline: spec.id,
          logicalDate: trigger.logicalDate,
          kind: trigger.kind,
          params: { ...trigger.params },
          firedAt: trigger.firedAt,
          queuedAt: now,
          state: 'skipped',
          reason: trigger.skipReason,
        });
        if (created) {
          store.updateRun(run.id, { endedAt: now });
          logger.info({ pipeline: spec.id, logicalDate: new Date(trigger.logicalDate).toISOString(), reason: trigger.skipReason }, 'run skipped');
          emit({ type: 'run', runId: run.id, pipeline: spec.id, logicalDate: run.logicalDate, trigger: run.kind, state: 'skipped', at: now, firedAt: trigger.firedAt, reason: trigger.skipReason });
        }
        return summarizeRun(store, store.getRun(run.id)!, created);
      }
      if (AUTOMATIC.has(trigger.kind) && !options.bypassOverlap && !trigger.rerun) {
        const existing = store.findRun(spec.id, trigger.logicalDate);
        if (existing) return summarizeRun(store, existing, false);
        const active = store.countRuns(spec.id, ['running', 'queued']);
        const room = spec.overlap === 'skip' ? spec.maxActiveRuns : spec.overlap === 'buffer_one' ? spec.maxActiveRuns + 1 : 1000;
        if (active >= room) {
          metrics.skippedTick(spec.id, 'overlap');
          logger.info({ pipeline: spec.id, logicalDate: new Date(trigger.logicalDate).toISOString(), overlap: spec.overlap, active }, 'tick skipped: a run is still active');
          return null;
        }
      }
      const { run, created } = store.insertRun({
        pipeline: spec.id,
        logicalDate: trigger.logicalDate,
        kind: trigger.kind,
        params: { ...trigger.params },
        firedAt: trigger.firedAt,
        queuedAt: now,
        rerun: trigger.rerun === true,
        detached: trigger.kind === 'test',
      });
      if (!created) {
        logger.info({ pipeline: spec.id, run: run.id, state: run.state }, 'a run for this logical date exists; not starting another (use --rerun)');
        return summarizeRun(store, run, false);
      }
      own.add(run.id);
      emit({ type: 'run', runId: run.id, pipeline: spec.id, logicalDate: run.logicalDate, trigger: run.kind, state: 'queued', at: now, firedAt: trigger.firedAt });
      dispatch();
      return summarizeRun(store, store.getRun(run.id)!, true);
    } catch (err) {
      logger.error({ pipeline: trigger.pipeline, kind: trigger.kind, error: describeError(err).message }, 'trigger rejected');
      if (options.rethrow) throw err;
      return null;
    }
  };

  const getRun = (runId: string): RunSummary | null => {
    const run = store.getRun(runId);
    return run ? summarizeRun(store, run) : null;
  };

  const waitForRun = (runId: string, signal?: AbortSignal): Promise<RunSummary> =>
    new Promise<RunSummary>((resolve, reject) => {
      const check = (): boolean => {
        const run = store.getRun(runId);
        if (!run) {
          cleanup();
          reject(new SupervisorError('SUP_ERR_NOT_FOUND', `run "${runId}" does not exist`));
          return true;
        }
        if (TERMINAL.has(run.state)) {
          cleanup();
          resolve(summarizeRun(store, run));
          return true;
        }
        return false;
      };
      const sub = events.subscribe((e) => {
        if (e.type === 'run' && e.runId === runId && TERMINAL.has(e.state)) check();
      });
      // Runs executed by another process are seen through the store.
      const timer = setInterval(() => {
        try {
          check();
        } catch (err) {
          cleanup();
          reject(err);
        }
      }, 250);
      timer.unref();
      const onAbort = (): void => {
        cleanup();
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      function cleanup(): void {
        sub.unsubscribe();
        clearInterval(timer);
        signal?.removeEventListener('abort', onAbort);
      }
      check();
    });

  const triggerStreams = (): Observable<Trigger>[] => {
    const streams: Observable<Trigger>[] = [...(params.triggers$ ?? [])];
    for (const spec of catalog.list()) {
      if (spec.paused) continue;
      if (spec.schedule) {
        streams.push(
          createCronTrigger$({
            pipeline: spec.id,
            schedule: spec.schedule,
            timezone: spec.timezone,
            clock,
            logger,
            onMissed: (ticks) => ticks.forEach(() => metrics.skippedTick(spec.id, 'clock_jump')),
          }),
        );
      }
      for (const t of spec.triggers) {
        if (!kafkaSource) {
          logger.warn({ pipeline: spec.id, trigger: t.type }, 'no Kafka connection configured; event trigger disabled');
          continue;
        }
        if (t.type === 'lag') {
          streams.push(
            createLagTrigger$({ pipeline: spec.id, group: t.group, topic: t.topic, maxLag: t.max_lag, forMs: t.for, cooldownMs: t.cooldown, fetchLag: () => kafkaSource!.lag(t.group, t.topic), clock, logger }),
          );
        } else {
          streams.push(
            createOffsetsTrigger$({
              pipeline: spec.id,
              topic: t.topic,
              decode: t.decode,
              batchWindowMs: t.batch_window,
              maxBatch: t.max_batch,
              brokers: params.kafka!.brokers,
              clientId: params.kafka!.clientId,
              ...(params.kafka!.connection ? { connection: params.kafka!.connection } : {}),
              ...(params.kafka!.schemaRegistryUrl ? { schemaRegistryUrl: params.kafka!.schemaRegistryUrl } : {}),
              ...(params.kafka!.schemaRegistry ? { schemaRegistry: params.kafka!.schemaRegistry } : {}),
              clock,
              logger,
            }),
          );
        }
      }
    }
    return streams;
  };

  const gateFor = (trigger: Trigger): (() => Promise<string | null>) | null => {
    const spec = catalog.find(trigger.pipeline);
    const gate = spec?.gate;
    if (!gate || (!gate.kafka_healthy && !gate.max_lag)) return null;
    const source = kafkaSource;
    return () =>
      evaluateGate(
        { kafkaHealthy: gate.kafka_healthy, ...(gate.max_lag ? { maxLag: { group: gate.max_lag.group, topic: gate.max_lag.topic, maxLag: gate.max_lag.max_lag } } : {}) },
        {
          kafkaHealth: async () => (source ? source.health() : 'no Kafka connection configured'),
          lag: async (group, topic) => {
            if (!source) throw new Error('no Kafka connection configured');
            return source.lag(group, topic);
          },
          ...(params.latestSignals ? { latestSignals: params.latestSignals } : {}),
        },
      );
  };

  const catchup = (): void => {
    for (const spec of catalog.list()) {
      if (!spec.schedule || !spec.catchup || spec.paused) continue;
      const last = store.lastLogicalDate(spec.id, ['cron', 'backfill']);
      if (last === null) continue;
      const cron = compileSchedule(spec.schedule, spec.timezone);
      const ticks = ticksBetween(cron, last, clock.now(), params.maxCatchupRuns ?? 100);
      if (ticks.length > 0) logger.info({ pipeline: spec.id, ticks: ticks.length }, 'catching up missed schedule ticks');
      for (const tick of ticks) submit({ pipeline: spec.id, logicalDate: tick, kind: 'cron', params: {}, firedAt: clock.now() }, { bypassOverlap: true });
    }
  };

  const engine: Engine = {
    catalog,
    store,
    runEvents$: events.asObservable(),

    async start() {
      if (started) return;
      started = true;
      if (!daemon) return;
      await recoverOrphanedRuns({ store, logger, now: () => clock.now(), statusDir });
      if (params.kafka && catalog.list().some((p) => p.triggers.length > 0 || p.gate)) {
        kafkaSource = createKafkaAdminSource({ brokers: params.kafka.brokers, clientId: params.kafka.clientId, ...(params.kafka.connection ? { connection: params.kafka.connection } : {}), logger });
      }
      catchup();
      const triggers$ = merge(...triggerStreams(), EMPTY).pipe(gateTriggers(gateFor, { logger, ...(params.gateTimeoutMs !== undefined ? { timeoutMs: params.gateTimeoutMs } : {}) }));
      subscriptions.push(
        triggers$.subscribe({
          next: (t) => {
            submit(t);
          },
          error: (err: unknown) => logger.error({ error: describeError(err).message }, 'trigger stream failed'),
        }),
      );
      dispatch();
      pollTimer = setInterval(dispatch, params.pollIntervalMs ?? 1000);
      pollTimer.unref();
      logger.info({ pipelines: catalog.list().map((p) => p.id) }, 'pipelines engine started');
    },

    close() {
      closing ??= (async () => {
        if (pollTimer) clearInterval(pollTimer);
        for (const s of subscriptions) {
          try {
            s.unsubscribe();
          } catch {
            /* keep closing */
          }
        }
        shutdown.abort(new AbortReason('shutdown', 'the supervisor is shutting down'));
        await Promise.allSettled([...executing.values()]);
        try {
          await kafkaSource?.close();
        } catch (err) {
          logger.warn({ error: describeError(err).message }, 'closing the Kafka admin failed');
        }
        events.complete();
      })();
      return closing;
    },

    async trigger(pipeline, options = {}) {
      const spec = catalog.get(pipeline);
      if (closing) throw new SupervisorError('SUP_ERR_CONFLICT', 'the engine is shutting down');
      const now = clock.now();
      const kind = options.kind ?? 'manual';
      let summary: RunSummary | null;
      try {
        summary = submit(
          { pipeline: spec.id, logicalDate: options.logicalDate ?? now, kind, params: options.conf ?? {}, firedAt: now, ...(options.rerun ? { rerun: true } : {}) },
          { bypassOverlap: true, rethrow: true },
        );
      } catch (err) {
        if (isSupervisorError(err)) throw err;
        throw new SupervisorError('SUP_ERR_CONFLICT', `the trigger of "${spec.id}" was not accepted: ${describeError(err).message}`, { cause: err });
      }
      // with bypassOverlap and rethrow, submit answers a summary or throws
      if (!summary) throw new SupervisorError('SUP_ERR_INTERNAL', `the trigger of "${spec.id}" produced no run`);
      return summary;
    },

    async testTask(pipeline, taskId, logicalDate, conf = {}) {
      const spec = catalog.get(pipeline);
      getTask(spec, taskId);
      const now = clock.now();
      const { run } = store.insertRun({ pipeline: spec.id, logicalDate, kind: 'test', params: conf, firedAt: now, queuedAt: now, detached: true });
      if (!store.claimRun(run.id, process.pid, now)) throw new SupervisorError('SUP_ERR_CONFLICT', `run ${run.id} was taken by another process`);
      own.add(run.id);
      execute(spec, run.id, [taskId]);
      return waitForRun(run.id);
    },

    async backfill(pipeline, options) {
      const spec = catalog.get(pipeline);
      if (!spec.schedule) throw new SupervisorError('SUP_ERR_USAGE', `pipeline "${spec.id}" has no schedule: backfill needs one to know its logical dates`);
      if (!(options.endDate >= options.startDate)) throw new SupervisorError('SUP_ERR_USAGE', '--end-date must not be before --start-date');
      const cron = compileSchedule(spec.schedule, spec.timezone);
      const ticks = ticksInRange(cron, options.startDate, options.endDate, 10_001);
      if (ticks.length > 10_000) throw new SupervisorError('SUP_ERR_USAGE', 'the range covers more than 10000 schedule ticks; narrow it');
      const reprocess = options.reprocess ?? 'none';
      const plan: BackfillPlanItem[] = ticks.map((tick) => {
        const existing = store.findRun(spec.id, tick);
        if (!existing) return { logicalDate: tick, action: 'run', existing: null };
        const failed = existing.state === 'failed' || existing.state === 'timed_out' || existing.state === 'skipped';
        const rerun = reprocess === 'all' || (reprocess === 'failed' && failed);
        return { logicalDate: tick, action: rerun ? 'rerun' : 'skip', existing: { runId: existing.id, state: existing.state } };
      });
      const counts = {
        total: plan.length,
        run: plan.filter((p) => p.action === 'run').length,
        rerun: plan.filter((p) => p.action === 'rerun').length,
        skippedExisting: plan.filter((p) => p.action === 'skip').length,
        success: 0,
        failed: 0,
      };
      const summary: BackfillSummary = { pipeline: spec.id, dryRun: options.dryRun === true, plan, runs: [], counts };
      if (options.dryRun) return summary;

      const todo = plan.filter((p) => p.action !== 'skip');
      const maxActive = Math.max(1, options.maxActive ?? spec.maxActiveRuns);
      let done = 0;
      let next = 0;
      options.onProgress?.({ done, total: todo.length });
      const worker = async (): Promise<void> => {
        while (next < todo.length && !shutdown.signal.aborted) {
          const item = todo[next++]!;
          const now = clock.now();
          const { run } = store.insertRun({
            pipeline: spec.id,
            logicalDate: item.logicalDate,
            kind: 'backfill',
            params: options.conf ?? {},
            firedAt: now,
            queuedAt: now,
            rerun: item.action === 'rerun',
          });
          if (store.claimRun(run.id, process.pid, now)) {
            own.add(run.id);
            execute(spec, run.id);
          }
          const result = await waitForRun(run.id);
          summary.runs.push(result);
          if (result.state === 'success') counts.success += 1;
          else counts.failed += 1;
          done += 1;
          options.onProgress?.({ done, total: todo.length, last: result });
        }
      };
      await Promise.all(Array.from({ length: Math.min(maxActive, Math.max(1, todo.length)) }, worker));
      summary.runs.sort((a, b) => a.logicalDate - b.logicalDate);
      return summary;
    },

    waitForRun,
    getRun,
    activeRuns: () => [...executing.keys()],
  };
  return engine;
}
