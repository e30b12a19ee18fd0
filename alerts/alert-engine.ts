/**
 * The alert engine: Alertmanager's semantics in-process. Every signal (and run event) is
 * evaluated against the rules at once; alert instances move pending → firing → resolved
 * (`for`, `keep_firing_for`); firing alerts of one rule are grouped by the route's `group_by`;
 * groups notify (group_wait, group_interval, repeat_interval, resolved) unless silenced or
 * inhibited. Every transition is persisted, every notification goes to the durable outbox
 * with a deterministic dedup key, so a restart continues without paging twice.
 *
 * This module is the coordinator: it subscribes to the inputs (re-subscribing after an
 * error), runs the timer, publishes alerts$, counts survived errors (its AlertFacts, which
 * src/metrics/alerts.ts turns into metrics) and wires the parts, each in its own module:
 *
 *   observations.ts          signal / run event → one Observation per matching rule
 *   evaluation.ts            observations → alert instances (pending, firing, resolved; persisted)
 *   silence-set.ts           the silences in memory, compiled, refreshed
 *   inhibition.ts            firing sources indexed by their `equal` labels
 *   grouping.ts              group_by, group_wait/interval, repeat and resend, resolved; persisted
 *   notification-builder.ts  dedup keys, items, the Notification of a group
 */
import { BehaviorSubject, defer, EMPTY, merge, map, retry, type Observable, type Subscription } from 'rxjs';
import type {
  AlertEngineErrorStage,
  AlertFacts,
  Component,
  AlertRecord,
  AlertStateStore,
  Clock,
  Logger,
  OutboxStore,
  RuleFiring,
  RunEvent,
  Signal,
  SilenceStore,
} from '../src/protocol';
import type { AlertRule, InhibitRule, RouteConfig } from './config';
import { AlertInstances, type AlertInstance } from './evaluation';
import { AlertGroups, byCodePoint, type GroupNotice } from './grouping';
import { InhibitionIndex } from './inhibition';
import { buildGroupNotification } from './notification-builder';
import { clearCheckWide, invalidRunEvent, invalidSignal, RuleObserver } from './observations';
import { SilenceSet } from './silence-set';

export interface AlertEngineParams {
  rules: readonly AlertRule[];
  route: RouteConfig;
  inhibit?: readonly InhibitRule[];
  signals$: Observable<Signal>;
  runEvents$?: Observable<RunEvent>;
  alertStore: AlertStateStore;
  silenceStore: SilenceStore;
  /** Wrap with `wakeOnEnqueue` so the outbox worker delivers at once. */
  outbox: OutboxStore;
  clock: Clock;
  logger: Logger;
  /** Base URL of the supervisor's API, for links (`/api/v1/health`, `/api/v1/runs/:id`). */
  publicUrl?: string;
  /** Sinks that need firing alerts re-sent on their own cadence (Alertmanager): name → ms. See `resendIntervalsOf`. */
  resendIntervals?: Readonly<Record<string, number>>;
  /** Timer-driven evaluation period (pending → firing without a new signal, keep_firing_for, repeats). Default 1 s. */
  evaluationIntervalMs?: number;
  /** Resolved alerts stay visible in alerts$ this long (default 5 min). */
  resolvedRetentionMs?: number;
  /**
   * Silences are kept in memory: read at start, again at once when the store reports a change
   * (`SilenceStore.onChange`), and at least this often for changes made by other processes
   * (the CLI). Default 5 s.
   */
  silenceRefreshMs?: number;
  /** Longest wait before re-subscribing to an input stream that failed (default 30 s; doubles from 1 s). */
  maxInputRetryDelayMs?: number;
}

export interface AlertView extends AlertRecord {
  severity: string;
  silencedBy: string[];
  inhibited: boolean;
}

/**
 * Its AlertFacts (firing per rule, errors survived) are what src/metrics/alerts.ts exports.
 * A lifecycle Component (src/protocol/lifecycle.ts) named `alerts`: start() restores the
 * persisted state, subscribes to the inputs and arms the timer, and returns at once (undoing
 * itself if a step throws); stop() is idempotent, runs every step and never rejects.
 */
export interface AlertEngine extends AlertFacts, Component {
  readonly name: 'alerts';
  /** Current alert instances (pending, firing, recently resolved), after every change. */
  readonly alerts$: Observable<readonly AlertView[]>;
  /** Runs timer-driven transitions and group notifications at `clock.now()` (the engine does this itself every second). */
  evaluate(): void;
  /** Current alert instances. */
  snapshot(): AlertView[];
  /** Errors survived so far, by stage (also in supervisor_alerts_evaluation_errors_total). */
  errorCounts(): Readonly<Record<AlertEngineErrorStage, number>>;
  /** Every rule, in config order, with its instances firing now (supervisor_alerts_firing). */
  firingByRule(): RuleFiring[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Where the engine met an error it survived (label of supervisor_alerts_evaluation_errors_total); declared with AlertFacts. */
export type { AlertEngineErrorStage } from '../src/protocol';

type Event = { type: 'signal'; signal: Signal } | { type: 'run'; event: RunEvent };

export function createAlertEngine(params: AlertEngineParams): AlertEngine {
  return new AlertEngineCoordinator(params);
}

class AlertEngineCoordinator implements AlertEngine {
  readonly name = 'alerts';
  readonly alerts$: Observable<readonly AlertView[]>;

  private readonly params: AlertEngineParams;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly evaluationIntervalMs: number;
  private readonly maxInputRetryDelayMs: number;
  private readonly resolvedRetentionMs: number;
  private readonly rulesByName = new Map<string, AlertRule>();

  private readonly observer: RuleObserver;
  private readonly instances: AlertInstances;
  private readonly silences: SilenceSet;
  private readonly inhibition: InhibitionIndex<AlertInstance>;
  private readonly groups: AlertGroups;

  private readonly alertsSubject = new BehaviorSubject<readonly AlertView[]>([]);
  private readonly errorsByStage: Record<AlertEngineErrorStage, number> = { event: 0, tick: 0, input: 0, silences: 0, store: 0, notify: 0 };
  private readonly tickAbort = new AbortController();

  private subscription: Subscription | null = null;
  private unsubscribeSilences: (() => void) | null = null;
  private tickLoop: Promise<void> | null = null;
  private closePromise: Promise<void> | null = null;
  private started = false;
  private closed = false;

  constructor(params: AlertEngineParams) {
    this.params = params;
    this.clock = params.clock;
    this.logger = params.logger.child({ component: 'alerts', name: 'engine' });
    this.evaluationIntervalMs = params.evaluationIntervalMs ?? 1_000;
    this.maxInputRetryDelayMs = params.maxInputRetryDelayMs ?? 30_000;
    this.resolvedRetentionMs = params.resolvedRetentionMs ?? 300_000;
    const logger = this.logger;
    const storeError = () => this.countError('store');

    this.instances = new AlertInstances({ store: params.alertStore, logger, onStoreError: storeError });
    this.inhibition = new InhibitionIndex(params.inhibit ?? [], this.instances);
    for (const rule of params.rules) {
      if (this.rulesByName.has(rule.name)) throw new Error(`alert engine: duplicate rule name "${rule.name}"`);
      this.rulesByName.set(rule.name, rule);
    }
    this.observer = new RuleObserver(params.rules, params.publicUrl);
    this.silences = new SilenceSet({ store: params.silenceStore, logger, refreshMs: params.silenceRefreshMs ?? 5_000, onReadError: () => this.countError('silences') });
    this.groups = new AlertGroups({
      route: params.route,
      rulesByName: this.rulesByName,
      ...(params.resendIntervals ? { resendIntervals: params.resendIntervals } : {}),
      store: params.alertStore,
      logger,
      alerts: this.instances,
      isMuted: (inst, now) => this.silences.silencedBy(inst.record.labels, now).length > 0 || this.inhibition.isInhibited(inst),
      send: (notice, now) => this.enqueue(notice, now),
      onStoreError: storeError,
      onGroupError: () => this.countError('notify'),
    });
    this.alerts$ = this.alertsSubject.asObservable();
  }

  evaluate(): void {
    const now = this.clock.now();
    this.tick(now);
    this.publish(now);
  }

  snapshot(): AlertView[] {
    return this.views(this.clock.now());
  }

  errorCounts(): Readonly<Record<AlertEngineErrorStage, number>> {
    return { ...this.errorsByStage };
  }

  firingByRule(): RuleFiring[] {
    const firing = new Map<string, number>();
    for (const inst of this.instances.values()) if (inst.record.state === 'firing') firing.set(inst.rule.name, (firing.get(inst.rule.name) ?? 0) + 1);
    return this.params.rules.map((rule) => ({ rule: rule.name, severity: rule.severity, firing: firing.get(rule.name) ?? 0 }));
  }

  start(): Promise<void> {
    if (this.started || this.closed) return Promise.resolve();
    this.started = true;
    try {
      this.startInputs();
    } catch (err) {
      // undo what was started (the silence watch, a subscription) before reporting the failure
      return this.stop().then(() => Promise.reject(err as Error));
    }
    return Promise.resolve();
  }

  private startInputs(): void {
    this.unsubscribeSilences = this.silences.watch();
    this.restore(this.clock.now());
    const events$: Observable<Event> = merge(
      this.resilient('signals', this.params.signals$).pipe(map((signal): Event => ({ type: 'signal', signal }))),
      this.resilient('run events', this.params.runEvents$ ?? EMPTY).pipe(map((event): Event => ({ type: 'run', event }))),
    );
    this.subscription = events$.subscribe({
      next: (event) => this.handle(event),
      // only when closing (the retry wait was aborted)
      error: (err: unknown) => {
        if (!this.closed) this.logger.error({ err: (err as Error)?.message }, 'alert input stream ended with an error');
      },
    });
    this.tickLoop = this.runTicks();
  }

  stop(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closed = true;
    this.closePromise = (async () => {
      const errors: unknown[] = [];
      try {
        this.subscription?.unsubscribe();
      } catch (err) {
        errors.push(err);
      }
      try {
        this.unsubscribeSilences?.();
      } catch (err) {
        errors.push(err);
      }
      this.tickAbort.abort();
      await this.tickLoop?.catch((err: unknown) => errors.push(err));
      try {
        this.alertsSubject.complete();
      } catch (err) {
        errors.push(err);
      }
      if (errors.length) this.logger.error({ errors: errors.map((e) => (e as Error)?.message) }, 'errors while closing the alert engine');
    })().catch((err: unknown) => this.logger.error({ err: (err as Error)?.message }, 'stopping the alert engine failed'));
    return this.closePromise;
  }

  private countError(stage: AlertEngineErrorStage): void {
    this.errorsByStage[stage] += 1;
  }

  /** One input event: its observations applied at once, then a full evaluation and a publish. */
  private handle(event: Event): void {
    if (this.closed) return;
    const now = this.clock.now();
    const problem = event.type === 'signal' ? invalidSignal(event.signal) : invalidRunEvent(event.event);
    if (problem) {
      this.logger.warn({ problem }, 'invalid input event skipped');
      return;
    }
    try {
      const observations =
        event.type === 'signal' ? [...this.observer.signal(event.signal), ...clearCheckWide(event.signal, this.instances.values())] : this.observer.run(event.event);
      if (observations.length === 0) return;
      for (const obs of observations) this.instances.apply(obs, now);
      this.tick(now);
      this.publish(now);
    } catch (err) {
      this.countError('event');
      const what = event.type === 'signal' ? `signal ${String(event.signal?.check)}` : `run event ${String((event.event as { runId?: unknown })?.runId)}`;
      this.logger.warn({ err: (err as Error)?.message ?? String(err) }, `cannot evaluate ${what}; skipped, evaluation continues`);
    }
  }

  /** Timer-driven transitions, silences refresh, group notifications, then forgetting old resolved alerts. */
  private tick(now: number): void {
    this.instances.advance(now);
    this.silences.refresh(now);
    this.groups.evaluate(now);
    // forget resolved alerts once their group no longer lists them
    this.instances.forgetResolved(now, this.groups.referencedAlerts(), this.resolvedRetentionMs);
  }

  /** Builds a group's notification and puts it in the outbox (a repeat of a dedup key is ignored there). */
  private enqueue(notice: GroupNotice, now: number): void {
    const { kind, rule, group, dedupKey, sinks } = notice;
    if (sinks.length === 0) {
      this.logger.debug({ rule: rule.name, dedupKey }, 'no sinks routed for this notification');
      return;
    }
    const fallbackUrl = this.observer.healthUrl();
    const notification = buildGroupNotification({
      kind,
      rule,
      group,
      dedupKey,
      active: notice.active.map((i) => i.record),
      resolved: notice.resolved.map((i) => i.record),
      now,
      ...(fallbackUrl !== undefined ? { fallbackUrl } : {}),
    });
    const ids = this.params.outbox.enqueue(notification, sinks, now);
    this.logger.info(
      { rule: rule.name, group: group.key, dedupKey, kind, sinks, enqueued: ids.length },
      ids.length ? 'notification enqueued' : 'notification already in the outbox',
    );
  }

  private views(now: number): AlertView[] {
    return [...this.instances.values()]
      .map((inst) => ({
        ...inst.record,
        severity: inst.rule.severity,
        silencedBy: this.silences.silencedBy(inst.record.labels, now),
        inhibited: inst.record.state === 'firing' && this.inhibition.isInhibited(inst),
      }))
      .sort((a, b) => byCodePoint(a.key, b.key));
  }

  private publish(now: number): void {
    this.alertsSubject.next(this.views(now));
  }

  private restore(now: number): void {
    this.instances.restore(this.rulesByName);
    this.groups.restore();
    this.silences.load(now);
    this.logger.info({ alerts: this.instances.size, groups: this.groups.size, silences: this.silences.size }, 'alert state restored');
    this.publish(now);
  }

  /**
   * An input stream that errors is logged, counted and subscribed to again after a backoff
   * (1 s doubling to maxInputRetryDelayMs, reset by the next value): evaluation never stops
   * for good because one upstream failed.
   */
  private resilient<T>(name: string, source$: Observable<T>): Observable<T> {
    return source$.pipe(
      retry({
        resetOnSuccess: true,
        delay: (err: unknown, attempt: number) => {
          this.countError('input');
          const waitMs = Math.min(this.maxInputRetryDelayMs, 1_000 * 2 ** Math.min(20, attempt - 1));
          this.logger.warn({ input: name, attempt, retryInMs: waitMs, err: (err as Error)?.message ?? String(err) }, `alert input stream (${name}) failed; subscribing again`);
          return defer(() => this.clock.sleep(waitMs, this.tickAbort.signal));
        },
      }),
    );
  }

  private async runTicks(): Promise<void> {
    while (!this.closed) {
      try {
        await this.clock.sleep(this.evaluationIntervalMs, this.tickAbort.signal);
      } catch {
        return;
      }
      if (this.closed) return;
      const now = this.clock.now();
      try {
        this.tick(now);
        this.publish(now);
      } catch (err) {
        this.countError('tick');
        this.logger.warn({ err: (err as Error)?.message ?? String(err) }, 'alert evaluation failed; retried at the next tick');
      }
    }
  }
}

/** `resendIntervals` for createAlertEngine from the configured sinks (Alertmanager sinks' resend_interval). */
export function resendIntervalsOf(sinks: Readonly<Record<string, { type: string; resend_interval?: number }>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, sink] of Object.entries(sinks)) if (sink.type === 'alertmanager' && sink.resend_interval) out[name] = sink.resend_interval;
  return out;
}
