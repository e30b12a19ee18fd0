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
  type Clock,
  type Component,
  type Logger,
  type RunEvent,
  type Signal,
  type Trigger,
  type TriggerKind,
} from '../protocol';
import { systemClock } from '../shared/clock';
import type { LoadedConfig } from '../config/load';
import type { SqliteDatabase } from '../store/database';
import { dialectOf } from '../store/sql';
import { createRunStore, type RunStore } from '../store/runs';
import { compileSchedule, ticksBetween } from '../../streams/cron';
import { evaluateGate, gateTriggers } from '../../streams/gate';
import { createKafkaAdminSource, type KafkaAdminSource } from '../../streams/trigger-kafka';
import type { KafkaConnection } from '../shared/kafka-connection';
import type { SchemaRegistryConnection } from '../shared/schema-registry-decoder';
import { createPipelineCatalog, getTask, type PipelineCatalog, type PipelineSpec } from './dag';
import { registerPipelineMetrics, type PipelineMetrics } from '../metrics/pipelines';
import type { OperatorRegistry } from './operator';
import { isPidAlive, isRunOwnerAlive, parseOwner, recoverOrphanedRuns, type RecoveredRun } from './recovery';
import { AbortReason, executeRun, planRun, type BegunRun, type RunnerParams } from './runner';
import type { TaskExecutor } from './executor';
import { countPlan, planBackfill, runBackfill, type BackfillOptions, type BackfillSummary } from './backfill';
import { dispatchQueued } from './dispatch';
import { summarizeRun, type RunSummary } from './run-summary';
import { AUTOMATIC_KINDS, submitTrigger } from './submit';
import { createRunOperations, type Actor, type RunOperations } from './operations';
import { createPipelineStateStore, type PipelineStateStore } from '../store/pipeline-state';
import { createAuditStore } from '../store/audit';
import { waitForRun } from './wait-for-run';
import { createPipelineTriggers, type PipelineTriggersFactory } from '../wiring/triggers';
import { holderId } from '../wiring/leadership';

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
  /** Builds the pipelines' trigger streams (default: src/wiring/triggers.ts, which the daemon passes). */
  triggerWiring?: PipelineTriggersFactory;
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
  /**
   * Leader-gated daemon (replicas on a shared store): start() starts none of the leader-only
   * work (triggers, catchup, crash recovery, dispatch); startScheduling()/stopScheduling() do,
   * when this replica gains or loses the lease (src/wiring/leader-roles.ts). Default false:
   * start() starts scheduling at once.
   */
  leaderGated?: boolean;
  /**
   * Runs a leader-only write (a run created by a schedule or an event trigger, a run claimed by
   * the dispatcher) in one transaction fenced by the leader's epoch; throws SUP_ERR_NOT_LEADER
   * when this replica does not lead. Default: the write as it is (the sole daemon of a SQLite store).
   */
  fence?: <T>(write: () => T) => T;
  /** Where tries run: in this process (default) or on task workers (executor.mode workers, src/engine/executor.ts). */
  executor?: TaskExecutor;
  /**
   * While scheduling, crash recovery runs again this often (ms; default 10 s) for the runs owned
   * on this host: an owner that was alive when this process took over (a frozen replica of this
   * host) and died since has its runs recovered (tries on workers adopted) without waiting for
   * another failover.
   */
  recoveryIntervalMs?: number;
  /**
   * Who this process is as a run's owner: its id `host:pid:random` (a replica passes its lease
   * holder id) and who holds the leader lease now (that replica is alive). Crash recovery and
   * cancel judge a run's owner by them (src/engine/recovery.ts). Default: a fresh id, no lease.
   */
  owner?: { id: string; leaseHolder?: () => string | null };
}

export interface SchedulingOptions {
  /**
   * A new leader of a shared store: submit the cron ticks since the last one fired, at most this
   * far back, even for `catchup: false` pipelines (a failover loses no tick). Unset: no such catchup.
   */
  catchupWindowMs?: number;
}

export interface TriggerOptions {
  logicalDate?: number;
  conf?: Record<string, unknown>;
  rerun?: boolean;
  kind?: TriggerKind;
  /** Who asks (recorded in the audit trail). */
  actor?: Actor;
}

export type { TaskSummary, RunSummary } from './run-summary';
export type { BackfillOptions, BackfillPlanItem, BackfillSummary } from './backfill';

export interface Engine extends Component {
  readonly catalog: PipelineCatalog;
  readonly store: RunStore;
  /** Pause, cancel, clear, mark, and the audit trail. */
  readonly operations: RunOperations;
  readonly runEvents$: Observable<RunEvent>;
  start(): Promise<void>;
  /** Starts the leader-only work (crash recovery, catchup, triggers, dispatch); idempotent. start() calls it unless `leaderGated`. */
  startScheduling(options?: SchedulingOptions): Promise<void>;
  /** Stops the leader-only work (runs executing here go on); idempotent. */
  stopScheduling(): void;
  /** Idempotent, never rejects (the lifecycle contract). */
  stop(): Promise<void>;
  /** Alias of stop(). */
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

export { summarizeRun } from './run-summary';

export function createEngine(params: EngineParams): Engine {
  return new PipelinesEngine(params);
}

/** The coordinator: owns the run events, the shutdown signal and the runs in flight; wires submit, dispatch, backfill and waiting to them. */
class PipelinesEngine implements Engine {
  readonly name = 'engine';
  readonly catalog: PipelineCatalog;
  readonly store: RunStore;
  readonly operations: RunOperations;
  readonly runEvents$: Observable<RunEvent>;

  private readonly params: EngineParams;
  private readonly pipelineState: PipelineStateStore;
  /** Each executing run's own abort (an operator's cancel), chained to the shutdown signal. */
  private readonly controllers = new Map<string, AbortController>();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly daemon: boolean;
  private readonly statusDir: string;
  private readonly events = new Subject<RunEvent>();
  private readonly metrics: PipelineMetrics;
  private readonly runner: RunnerParams;
  private readonly shutdown = new AbortController();
  private readonly executing = new Map<string, Promise<void>>();
  /** Runs this engine created and may execute even when not in daemon mode. */
  private readonly own = new Set<string>();
  private readonly subscriptions: Subscription[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private recoveryTimer: NodeJS.Timeout | undefined;
  /** The recovery pass in flight (one at a time). */
  private recovering: Promise<void> | undefined;
  /** In-process CLI runs (no dispatch poll): looks for operators' requests while runs execute. */
  private requestTimer: NodeJS.Timeout | undefined;
  private kafkaSource: KafkaAdminSource | undefined;
  /** The leader-only work runs (daemon mode); bumped generation cancels a start in progress. */
  private scheduling = false;
  private schedulingGeneration = 0;
  private readonly fence: <T>(write: () => T) => T;
  /** This process's owner id on the runs it claims. */
  private readonly ownerId: string;
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(params: EngineParams) {
    this.params = params;
    this.clock = params.clock ?? systemClock;
    this.logger = params.logger.child({ component: 'engine', name: 'pipelines' });
    this.store = createRunStore(params.db);
    this.catalog = createPipelineCatalog(params.config.config);
    this.daemon = params.schedule !== false;
    this.fence = params.fence ?? ((write) => write());
    this.ownerId = params.owner?.id ?? holderId();
    this.runEvents$ = this.events.asObservable();
    const catalog = this.catalog;
    this.pipelineState = createPipelineStateStore(params.db);
    const pipelineState = this.pipelineState;
    this.metrics = registerPipelineMetrics({
      registry: params.registry,
      store: this.store,
      pipelines: () => catalog.list().map((p) => p.id),
      isPaused: (id) => pipelineState.isPaused(id),
    });
    this.operations = createRunOperations({
      store: this.store,
      pipelineState,
      audit: createAuditStore(params.db),
      catalog,
      clock: this.clock,
      logger: this.logger,
      emit: (e) => this.emit(e),
      wake: () => this.dispatch(),
      observe: (action, pipeline, count) => this.metrics.operation(action, pipeline, count),
      ownerAlive: (run) => isRunOwnerAlive(run, this.liveness()),
    });

    // Validate every schedule now: configure validates, start connects.
    for (const p of catalog.list()) if (p.schedule) compileSchedule(p.schedule, p.timezone, `pipelines.${p.id}.schedule`);

    this.statusDir =
      params.statusDir ??
      // beside a SQLite file; a PostgreSQL store's name is its URL, so there (and in memory) a temp folder
      (params.db.name && params.db.name !== ':memory:' && dialectOf(params.db) === 'sqlite'
        ? path.join(path.dirname(path.resolve(params.db.name)), 'task-status')
        : path.join(os.tmpdir(), `supervisor-task-status-${process.pid}`));
    this.runner = {
      statusDir: this.statusDir,
      store: this.store,
      operators: params.operators,
      clock: this.clock,
      logger: this.logger,
      emit: (e) => this.emit(e),
      configDir: params.configDir ?? path.dirname(params.config.file),
      ...(params.random ? { random: params.random } : {}),
      ...(params.maxLogBytes ? { maxLogBytes: params.maxLogBytes } : {}),
      ...(params.abortGraceMs !== undefined ? { abortGraceMs: params.abortGraceMs } : {}),
      ...(params.executor ? { executor: params.executor } : {}),
    };
    // every run in flight listens to it (max_active_runs is up to 64 per pipeline, backfills more)
    setMaxListeners(0, this.shutdown.signal);
  }

  /** What judges a run owner's liveness here (src/engine/recovery.ts). */
  private liveness(): { selfId: string; executing: (runId: string) => boolean; leaseHolder: string | null; isAlive: (pid: number) => boolean } {
    return { selfId: this.ownerId, executing: (id) => this.executing.has(id), leaseHolder: this.params.owner?.leaseHolder?.() ?? null, isAlive: isPidAlive };
  }

  private emit(e: RunEvent): void {
    try {
      this.metrics.observe(e);
    } catch (err) {
      this.logger.warn({ error: (err as Error).message }, 'metrics update failed');
    }
    this.events.next(e);
  }

  private execute(spec: PipelineSpec, runId: string, only?: readonly string[], begun?: BegunRun): void {
    const ac = new AbortController();
    const onShutdown = (): void => ac.abort(this.shutdown.signal.reason);
    if (this.shutdown.signal.aborted) onShutdown();
    else this.shutdown.signal.addEventListener('abort', onShutdown, { once: true });
    this.controllers.set(runId, ac);
    if (!this.requestTimer) {
      // while scheduling, the dispatch poll answers; otherwise (in-process CLI runs, a replica that
      // stopped leading with runs still executing here) this timer does
      this.requestTimer = setInterval(() => {
        if (!this.daemon || !this.scheduling) this.safely('answering requests', () => this.answerRequests());
      }, this.params.pollIntervalMs ?? 1000);
      this.requestTimer.unref();
    }
    const p = executeRun(this.runner, spec, runId, ac.signal, { ...(only ? { only } : {}), ...(begun ? { begun } : {}) })
      .then(
        () => undefined,
        (err: unknown) => {
          // Store failure or a bug: never leave a run silently running.
          this.logger.error({ run: runId, error: describeError(err).message }, 'run execution failed');
          try {
            this.store.updateRun(runId, { state: 'failed', reason: `internal error: ${describeError(err).message}`, endedAt: this.clock.now() });
          } catch {
            /* store closed */
          }
        },
      )
      .finally(() => {
        this.shutdown.signal.removeEventListener('abort', onShutdown);
        this.controllers.delete(runId);
        this.executing.delete(runId);
        if (this.requestTimer && this.executing.size === 0) {
          clearInterval(this.requestTimer);
          this.requestTimer = undefined;
        }
        this.own.delete(runId);
        if (!this.shutdown.signal.aborted) this.dispatch();
      });
    this.executing.set(runId, p);
  }

  private readonly dispatch = (): void => {
    if (this.shutdown.signal.aborted) return;
    if (this.daemon && !this.scheduling) {
      // not leading: only the leader dispatches; runs executing here still answer requests
      this.safely('answering requests', () => this.answerRequests());
      return;
    }
    try {
      dispatchQueued({
        store: this.store,
        catalog: this.catalog,
        now: () => this.clock.now(),
        daemon: this.daemon,
        own: this.own,
        isExecuting: (id) => this.executing.has(id),
        execute: (spec, runId) => this.execute(spec, runId),
        aborted: () => this.shutdown.signal.aborted,
        isPaused: (id) => this.pipelineState.isPaused(id),
        owner: this.ownerId,
        ...(this.daemon ? { fence: this.fence } : {}),
      });
      this.answerRequests();
    } catch (err) {
      // a deposed leader: the leadership logs it once and stops the scheduling
      if (isSupervisorError(err) && err.code === 'SUP_ERR_NOT_LEADER') this.logger.debug({ error: err.message }, 'dispatch refused: not the leader');
      else this.logger.error({ error: describeError(err).message }, 'dispatch failed');
    }
  };

  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ error: describeError(err).message }, `${what} failed`);
    }
  }

  /**
   * Operators' requests (cancel, mark) on runs this process executes: abort them with the
   * request. And runs executing here that another process owns now (a new leader adopted them
   * while this one was stopped or cut off; an operator ended them as orphaned): abandoned,
   * without a write — their new owner goes on with them.
   */
  private answerRequests(): void {
    if (this.controllers.size === 0) return;
    const owners = this.store.ownersOf([...this.controllers.keys()]);
    for (const [id, ac] of this.controllers) {
      const owner = owners.get(id);
      if (ac.signal.aborted || owner === undefined || owner === this.ownerId) continue;
      this.logger.warn({ run: id, owner }, 'another process owns this run now: abandoning it here (no write, its tries go on for the new owner)');
      ac.abort(new AbortReason('abandoned', `the run is owned by ${owner ?? 'nobody'} now`));
    }
    this.handOver(owners);
    for (const run of this.store.listRequested(process.pid, this.ownerId)) {
      const ac = this.controllers.get(run.id);
      if (!ac || ac.signal.aborted || !run.requestedState) continue;
      const audit = { actor: run.requestedBy ?? 'unknown', action: run.requestedState === 'cancelled' ? 'cancel' : 'mark_run' };
      const message = run.reason ?? `${run.requestedState === 'cancelled' ? 'cancelled' : `marked ${run.requestedState}`} by ${audit.actor}`;
      this.logger.info({ run: run.id, requested: run.requestedState, by: audit.actor }, 'ending a run on an operator request');
      ac.abort(new AbortReason('cancelled', message, { endState: run.requestedState, audit }));
    }
  }

  /**
   * A replica that no longer leads, with runs still executing here, while another replica of
   * this host leads: that leader's recovery leaves our runs to us (our pid is alive, src/engine/
   * recovery.ts), and our leader-only writes (a `notify` task's enqueue) are fenced, so the runs
   * would end failed here. They are handed back to the queue instead, as on shutdown: their
   * running tries stopped and recorded as interrupted (retried per policy), the run queued again,
   * and the leader's dispatcher resumes it. A leader on another host takes our runs over itself
   * (we abandon them, above); with no leader known (the store does not answer) nothing moves.
   * Nobody else writes these runs meanwhile: a same-host owner that is alive is never taken over.
   */
  private handOver(owners: ReadonlyMap<string, string | null>): void {
    if (!this.daemon || !this.params.leaderGated || this.scheduling) return;
    const holder = this.params.owner?.leaseHolder?.() ?? null;
    if (holder === null || holder === this.ownerId || parseOwner(holder)?.host !== os.hostname()) return;
    for (const [id, ac] of this.controllers) {
      if (ac.signal.aborted || owners.get(id) !== this.ownerId) continue;
      this.logger.warn({ run: id, leader: holder }, 'this replica no longer leads: handing the run over to the leader (its running tries stop and are retried there)');
      ac.abort(new AbortReason('handover', `handed over to the leader ${holder}: the replica ${this.ownerId} that ran it no longer leads`));
    }
  }

  /** Never throws unless `rethrow` is set (a manual trigger, whose caller is waiting for the answer). */
  /** A scheduling daemon creates (and claims, when it can start) an automatic trigger's run in one store statement (src/engine/submit.ts `start`). */
  private startsInStore(trigger?: Trigger): boolean {
    if (!this.daemon || !this.scheduling || this.shutdown.signal.aborted) return false;
    return trigger === undefined || (AUTOMATIC_KINDS.has(trigger.kind) && trigger.skipReason === undefined && trigger.rerun !== true);
  }

  private submit(trigger: Trigger, options: { bypassOverlap?: boolean; rethrow?: boolean; skipPaused?: boolean } = {}): RunSummary | null {
    try {
      return submitTrigger(
        {
          store: this.store,
          catalog: this.catalog,
          clock: this.clock,
          logger: this.logger,
          emit: (e) => this.emit(e),
          skippedTick: (pipeline, reason) => this.metrics.skippedTick(pipeline, reason),
          onCreated: (runId) => this.own.add(runId),
          dispatch: this.dispatch,
          ...(this.daemon ? { fence: this.fence } : {}),
          // a scheduling daemon claims a run that can start in the transaction creating it
          ...(this.startsInStore()
            ? {
                start: {
                  pid: process.pid,
                  owner: this.ownerId,
                  now: () => this.clock.now(),
                  plan: (spec: PipelineSpec, runId: string, now: number) => planRun(spec, runId, now),
                  execute: (spec: PipelineSpec, begun: BegunRun) => this.execute(spec, begun.run.id, undefined, begun),
                },
              }
            : {}),
        },
        trigger,
        { ...(options.bypassOverlap ? { bypassOverlap: true } : {}), ...(options.skipPaused ? { skipPaused: true } : {}) },
      );
    } catch (err) {
      if (isSupervisorError(err) && err.code === 'SUP_ERR_NOT_LEADER') this.logger.debug({ pipeline: trigger.pipeline, kind: trigger.kind }, 'trigger dropped: not the leader');
      else this.logger.error({ pipeline: trigger.pipeline, kind: trigger.kind, error: describeError(err).message }, 'trigger rejected');
      if (options.rethrow) throw err;
      return null;
    }
  }

  readonly getRun = (runId: string): RunSummary | null => {
    const run = this.store.getRun(runId);
    return run ? summarizeRun(this.store, run) : null;
  };

  readonly waitForRun = (runId: string, signal?: AbortSignal): Promise<RunSummary> => waitForRun(this.store, this.events, runId, signal);

  readonly activeRuns = (): string[] => [...this.executing.keys()];

  /** The trigger streams the root wired (src/wiring/triggers.ts), plus any given as streams (tests). */
  private triggerStreams(): Observable<Trigger>[] {
    const { params, clock, logger, metrics } = this;
    const wire = params.triggerWiring ?? createPipelineTriggers;
    return [
      ...(params.triggers$ ?? []),
      ...wire({
        pipelines: this.catalog.list(),
        ...(this.kafkaSource ? { kafkaSource: this.kafkaSource } : {}),
        ...(params.kafka ? { kafka: params.kafka } : {}),
        clock,
        logger,
        onMissedTicks: (pipeline, ticks) => {
          for (let i = 0; i < ticks; i++) metrics.skippedTick(pipeline, 'clock_jump');
        },
      }),
    ];
  }

  private gateFor(trigger: Trigger): (() => Promise<string | null>) | null {
    const spec = this.catalog.find(trigger.pipeline);
    const gate = spec?.gate;
    if (!gate || (!gate.kafka_healthy && !gate.max_lag)) return null;
    const source = this.kafkaSource;
    const latestSignals = this.params.latestSignals;
    return () =>
      evaluateGate(
        { kafkaHealthy: gate.kafka_healthy, ...(gate.max_lag ? { maxLag: { group: gate.max_lag.group, topic: gate.max_lag.topic, maxLag: gate.max_lag.max_lag } } : {}) },
        {
          kafkaHealth: async () => (source ? source.health() : 'no Kafka connection configured'),
          lag: async (group, topic) => {
            if (!source) throw new Error('no Kafka connection configured');
            return source.lag(group, topic);
          },
          ...(latestSignals ? { latestSignals } : {}),
        },
      );
  }

  private catchup(): void {
    for (const spec of this.catalog.list()) {
      if (!spec.schedule || !spec.catchup || this.pipelineState.isPaused(spec.id)) continue;
      const last = this.store.lastLogicalDate(spec.id, ['cron', 'backfill']);
      if (last === null) continue;
      const cron = compileSchedule(spec.schedule, spec.timezone);
      const ticks = ticksBetween(cron, last, this.clock.now(), this.params.maxCatchupRuns ?? 100);
      if (ticks.length > 0) this.logger.info({ pipeline: spec.id, ticks: ticks.length }, 'catching up missed schedule ticks');
      for (const tick of ticks) this.submit({ pipeline: spec.id, logicalDate: tick, kind: 'cron', params: {}, firedAt: this.clock.now() }, { bypassOverlap: true });
    }
  }

  /**
   * A new leader of a shared store: the cron ticks after the last one fired (by any replica), at
   * most `windowMs` back, for every scheduled pipeline not paused — the ticks of a failover's
   * gap fire late (their delay is the schedule delay metric's), once each (one run per logical
   * date). Pipelines with `catchup: true` were caught up by catchup() already.
   */
  private failoverCatchup(windowMs: number): void {
    const now = this.clock.now();
    for (const spec of this.catalog.list()) {
      if (!spec.schedule || spec.catchup || this.pipelineState.isPaused(spec.id)) continue;
      const last = this.store.lastLogicalDate(spec.id, ['cron', 'backfill']);
      if (last === null) continue;
      const cron = compileSchedule(spec.schedule, spec.timezone);
      const ticks = ticksBetween(cron, Math.max(last, now - windowMs), now, this.params.maxCatchupRuns ?? 100);
      if (ticks.length > 0)
        this.logger.info({ pipeline: spec.id, ticks: ticks.length, since: new Date(last).toISOString() }, 'new leader: firing the schedule ticks since the last one fired');
      for (const tick of ticks) this.submit({ pipeline: spec.id, logicalDate: tick, kind: 'cron', params: {}, firedAt: now });
    }
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (!this.daemon || this.params.leaderGated) return;
    await this.startScheduling();
  }

  /** Crash recovery (src/engine/recovery.ts) with this process's owner rules, fenced; tries on workers adopted. */
  private recover(options: { onlyThisHost?: boolean } = {}): Promise<RecoveredRun[]> {
    const executor = this.params.executor;
    return recoverOrphanedRuns({
      ...options,
      store: this.store,
      logger: this.logger,
      now: () => this.clock.now(),
      statusDir: this.statusDir,
      ...this.liveness(),
      // a try on a task worker is adopted (the runner waits for it again), not re-run
      ...(executor?.canAdopt ? { canAdopt: (runId: string, taskId: string, tryNumber: number) => executor.canAdopt!(runId, taskId, tryNumber) } : {}),
      fence: this.fence,
    });
  }

  /** The periodic pass while scheduling: never two at once, never throws. */
  private recoverAgain(): void {
    if (this.recovering || !this.scheduling || this.shutdown.signal.aborted) return;
    // owners of this host only: another host's owner is judged gone only when a term changes
    // (a CLI running a test run in-process over there is alive and not a lease holder)
    this.recovering = this.recover({ onlyThisHost: true })
      .then((out) => {
        if (out.length > 0) this.dispatch();
      })
      .catch((err: unknown) => {
        if (isSupervisorError(err) && err.code === 'SUP_ERR_NOT_LEADER') this.logger.debug({ error: err.message }, 'recovery refused: not the leader');
        else this.logger.warn({ error: describeError(err).message }, 'crash recovery failed; trying again later');
      })
      .finally(() => {
        this.recovering = undefined;
      });
  }

  async startScheduling(options: SchedulingOptions = {}): Promise<void> {
    if (!this.daemon || this.scheduling || this.stopping) return;
    this.scheduling = true;
    const generation = ++this.schedulingGeneration;
    const { params, catalog, logger } = this;
    try {
      await this.recover();
    } catch (err) {
      if (generation === this.schedulingGeneration) this.scheduling = false;
      throw err;
    }
    // stopped (leadership lost, shutdown) during the recovery
    if (generation !== this.schedulingGeneration || !this.scheduling) return;
    if (!this.kafkaSource && params.kafka && catalog.list().some((p) => p.triggers.length > 0 || p.gate)) {
      this.kafkaSource = createKafkaAdminSource({
        brokers: params.kafka.brokers,
        clientId: params.kafka.clientId,
        ...(params.kafka.connection ? { connection: params.kafka.connection } : {}),
        logger,
      });
    }
    this.catchup();
    const triggers$ = merge(...this.triggerStreams(), EMPTY).pipe(
      gateTriggers((t) => this.gateFor(t), { logger, ...(params.gateTimeoutMs !== undefined ? { timeoutMs: params.gateTimeoutMs } : {}) }),
    );
    this.subscriptions.push(
      triggers$.subscribe({
        // never throws: a store that does not answer (PostgreSQL down) must not end the trigger stream
        next: (t) =>
          this.safely('reading the pause state', () => {
            // the store statement creating the run checks the pause itself (one round trip less)
            const inStore = this.startsInStore(t);
            if (!inStore && AUTOMATIC_KINDS.has(t.kind) && this.pipelineState.isPaused(t.pipeline)) {
              this.metrics.skippedTick(t.pipeline, 'paused');
              logger.debug({ pipeline: t.pipeline, kind: t.kind }, 'trigger dropped: the pipeline is paused');
              return;
            }
            this.submit(t, inStore ? { skipPaused: true } : {});
          }),
        error: (err: unknown) => logger.error({ error: describeError(err).message }, 'trigger stream failed'),
      }),
    );
    // after the triggers are subscribed: a tick at this instant is either caught up or fired, maybe both (one run per logical date)
    if (options.catchupWindowMs !== undefined && options.catchupWindowMs > 0) this.failoverCatchup(options.catchupWindowMs);
    this.dispatch();
    this.pollTimer = setInterval(this.dispatch, params.pollIntervalMs ?? 1000);
    this.pollTimer.unref();
    this.recoveryTimer = setInterval(() => this.recoverAgain(), params.recoveryIntervalMs ?? 10_000);
    this.recoveryTimer.unref();
    logger.info({ pipelines: catalog.list().map((p) => p.id) }, 'pipelines engine started');
  }

  stopScheduling(): void {
    this.schedulingGeneration += 1;
    if (!this.scheduling) return;
    this.scheduling = false;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    if (this.recoveryTimer) clearInterval(this.recoveryTimer);
    this.recoveryTimer = undefined;
    for (const s of this.subscriptions.splice(0)) {
      try {
        s.unsubscribe();
      } catch {
        /* keep stopping */
      }
    }
    this.logger.info({ executing: this.executing.size }, 'pipelines engine stopped scheduling (runs executing here go on)');
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopScheduling();
      if (this.requestTimer) clearInterval(this.requestTimer);
      this.shutdown.abort(new AbortReason('shutdown', 'the supervisor is shutting down'));
      await Promise.allSettled([...this.executing.values(), this.recovering]);
      try {
        await this.kafkaSource?.close();
      } catch (err) {
        this.logger.warn({ error: describeError(err).message }, 'closing the Kafka admin failed');
      }
      this.events.complete();
    })();
    return this.stopping;
  }

  close(): Promise<void> {
    return this.stop();
  }

  // async so that every refusal (an unknown pipeline, shutting down) is a rejection

  async trigger(pipeline: string, options: TriggerOptions = {}): Promise<RunSummary> {
    const spec = this.catalog.get(pipeline);
    if (this.stopping) throw new SupervisorError('SUP_ERR_CONFLICT', 'the engine is shutting down');
    const now = this.clock.now();
    const kind = options.kind ?? 'manual';
    let summary: RunSummary | null;
    try {
      summary = this.submit(
        { pipeline: spec.id, logicalDate: options.logicalDate ?? now, kind, params: options.conf ?? {}, firedAt: now, ...(options.rerun ? { rerun: true } : {}) },
        { bypassOverlap: true, rethrow: true },
      );
    } catch (err) {
      if (isSupervisorError(err)) throw err;
      throw new SupervisorError('SUP_ERR_CONFLICT', `the trigger of "${spec.id}" was not accepted: ${describeError(err).message}`, { cause: err });
    }
    // with bypassOverlap and rethrow, submit answers a summary or throws
    if (!summary) throw new SupervisorError('SUP_ERR_INTERNAL', `the trigger of "${spec.id}" produced no run`);
    if (options.actor && summary.created)
      this.operations.note('trigger', options.actor, { pipeline: spec.id, runId: summary.runId }, { kind, logicalDate: new Date(summary.logicalDate).toISOString() });
    return summary;
  }

  async testTask(pipeline: string, taskId: string, logicalDate: number, conf: Record<string, unknown> = {}): Promise<RunSummary> {
    const spec = this.catalog.get(pipeline);
    getTask(spec, taskId);
    const now = this.clock.now();
    const { run } = this.store.insertRun({ pipeline: spec.id, logicalDate, kind: 'test', params: conf, firedAt: now, queuedAt: now, detached: true });
    if (!this.store.claimRun(run.id, process.pid, now, this.ownerId)) throw new SupervisorError('SUP_ERR_CONFLICT', `run ${run.id} was taken by another process`);
    this.own.add(run.id);
    this.execute(spec, run.id, [taskId]);
    return this.waitForRun(run.id);
  }

  async backfill(pipeline: string, options: BackfillOptions): Promise<BackfillSummary> {
    const spec = this.catalog.get(pipeline);
    const plan = planBackfill(this.store, spec, options);
    const summary: BackfillSummary = { pipeline: spec.id, dryRun: options.dryRun === true, plan, runs: [], counts: countPlan(plan) };
    if (options.dryRun) return summary;
    await runBackfill(
      {
        startRun: (item) => {
          const now = this.clock.now();
          const { run } = this.store.insertRun({
            pipeline: spec.id,
            logicalDate: item.logicalDate,
            kind: 'backfill',
            params: options.conf ?? {},
            firedAt: now,
            queuedAt: now,
            rerun: item.action === 'rerun',
          });
          if (this.store.claimRun(run.id, process.pid, now, this.ownerId)) {
            this.own.add(run.id);
            this.execute(spec, run.id);
          }
          return run.id;
        },
        waitForRun: (runId) => this.waitForRun(runId),
        aborted: () => this.shutdown.signal.aborted,
      },
      summary,
      options.maxActive ?? spec.maxActiveRuns,
      options.onProgress,
    );
    return summary;
  }
}
