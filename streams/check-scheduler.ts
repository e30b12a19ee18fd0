/**
 * Runs check probes continuously, each on its own interval, and publishes every result as a
 * Signal. The rules (issue 5):
 * - the first run of every probe starts immediately, then one run per `intervalMs`;
 * - runs of one probe never overlap (exhaustMap: a tick that arrives while a run is still in
 *   flight is dropped);
 * - each run gets an AbortSignal that fires after `timeoutMs`; a run that times out yields one
 *   `unknown` signal with SUP_ERR_PROBE_TIMEOUT, a run that throws one with
 *   SUP_ERR_PROBE_FAILED — the stream itself never errors and never completes until `stop$`.
 *
 * - `kicks$` (check names) runs a probe at once, between its intervals: the root kicks the
 *   Kafka checks when a broker stops or starts accepting connections. `kicks$` is subscribed
 *   once per subscription of the signal stream (not once per probe, nor again at every wait):
 *   a cold `kicks$` (a reachability loop) runs once however many probes wait on it;
 * - when a run's worst status gets worse than the previous run's and is `unknown` or `crit`,
 *   the probe is run again `recheckMs` later, `rechecks` times, before it falls back to its
 *   interval: an alert's `for` is then backed by fresh probes, not by one stale answer.
 *
 * The scheduler stamps `observedAt` (end of run) and `durationMs` on every signal of a run, so
 * all signals of one run share one `observedAt`: the state stream uses that to drop targets a
 * later run no longer reports.
 */
import { EMPTY, Observable, Subject, defer, from, merge, timer, type SchedulerLike, asyncScheduler } from 'rxjs';
import { expand, filter, map, mergeMap, take, takeUntil, toArray } from 'rxjs/operators';
import {
  CHECK_WIDE_TARGET,
  isAtLeast,
  statusRank,
  worstStatus,
  type Status,
  SupervisorError,
  describeError,
  type CheckProbe,
  type Clock,
  type Logger,
  type Signal,
} from '../src/protocol';
import { silentLogger } from '../src/shared/logger';
import { systemClock } from '../src/shared/clock';

export { CHECK_WIDE_TARGET };

export interface SignalsParams {
  probes: readonly CheckProbe[];
  logger?: Logger;
  clock?: Clock;
  /** Ends every schedule (and aborts runs in flight) when it emits. */
  stop$?: Observable<unknown>;
  /** RxJS scheduler for the interval ticks (tests may pass a virtual one). */
  scheduler?: SchedulerLike;
  /** Names of checks to run now (a run in flight is not doubled). */
  kicks$?: Observable<string>;
  /** Delay of the confirmation runs after a status got worse. Default 1 s (never more than the interval). */
  recheckMs?: number;
  /** How many confirmation runs. Default 2; 0 turns them off. */
  rechecks?: number;
}

export interface RunOnceParams {
  clock?: Clock;
  logger?: Logger;
  /** Aborts the run from outside (shutdown, task cancellation); yields `unknown`. */
  signal?: AbortSignal;
  /** Overrides the probe's own timeout. */
  timeoutMs?: number;
}

/** Every probe on its own interval, merged into one stream of signals that never errors. */
export function createSignals$(params: SignalsParams): Observable<Signal> {
  const clock = params.clock ?? systemClock;
  const logger = (params.logger ?? silentLogger).child({ component: 'streams', name: 'check-scheduler' });
  const scheduler = params.scheduler ?? asyncScheduler;
  const rechecks = params.rechecks ?? 2;
  for (const probe of params.probes) validateProbe(probe);
  const schedulesWith = (kicks$: Observable<string>): Observable<Signal>[] =>
    params.probes.map((probe) => {
      const probeLogger = logger.child({ check: probe.name });
      const recheckMs = Math.min(params.recheckMs ?? 1000, probe.intervalMs);
      const kicked$ = kicks$.pipe(filter((name) => name === probe.name));
      return defer(() => {
        let previous: Status | null = null;
        let confirmationsLeft = 0;
        // one run: its signals, and how long to wait before the next one
        const run$ = (): Observable<{ signals: Signal[]; delayMs: number }> =>
          defer(() => {
            const startedAt = scheduler.now();
            // runProbe$ turns every failure into a value, so no catchError is needed here.
            return runProbe$(probe, clock, probeLogger).pipe(
              toArray(),
              map((signals) => {
                const worst = worstStatus(signals.map((s) => s.status));
                if (previous !== null && statusRank(worst) > statusRank(previous) && isAtLeast(worst, 'unknown')) confirmationsLeft = rechecks;
                else if (!isAtLeast(worst, 'unknown')) confirmationsLeft = 0;
                previous = worst;
                const confirm = confirmationsLeft > 0;
                if (confirm) confirmationsLeft -= 1;
                // fixed rate: the next interval boundary after the run ended (a long run skips ticks)
                const elapsed = scheduler.now() - startedAt;
                const nextTick = Math.max(1, Math.ceil(elapsed / probe.intervalMs)) * probe.intervalMs - elapsed;
                return { signals, delayMs: confirm ? recheckMs : nextTick };
              }),
            );
          });
        // runs are sequential (expand with concurrency 1): a kick during a run is not doubled
        return run$().pipe(
          expand(
            ({ delayMs }) =>
              merge(timer(delayMs, scheduler), kicked$).pipe(
                take(1),
                mergeMap(() => run$()),
              ),
            1,
          ),
          mergeMap(({ signals }) => from(signals)),
        );
      });
    });
  const outer = params.kicks$;
  const all$ =
    params.probes.length === 0
      ? EMPTY
      : !outer
        ? merge(...schedulesWith(EMPTY))
        : new Observable<Signal>((subscriber) => {
            // One subscription to the caller's kicks per subscription of this stream; the waits
            // of every probe listen to this hot relay, not to `kicks$` itself.
            const relay = new Subject<string>();
            const kicking = outer.subscribe({ next: (name) => relay.next(name), error: () => undefined });
            const running = merge(...schedulesWith(relay.asObservable())).subscribe(subscriber);
            return () => {
              running.unsubscribe();
              kicking.unsubscribe();
            };
          });
  return params.stop$ ? all$.pipe(takeUntil(params.stop$)) : all$;
}

/**
 * Runs one probe once (CLI `supervisor checks run`, pipeline tasks). Never rejects: failures
 * and timeouts come back as one `unknown` signal.
 */
export async function runOnce(probe: CheckProbe, params: RunOnceParams = {}): Promise<Signal[]> {
  const clock = params.clock ?? systemClock;
  const logger = (params.logger ?? silentLogger).child({ component: 'streams', name: 'check-scheduler', check: probe.name });
  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort(params.signal?.reason ?? new Error('cancelled'));
  if (params.signal?.aborted) onOuterAbort();
  else params.signal?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    return await runWithTimeout(probe, clock, logger, controller, params.timeoutMs ?? probe.timeoutMs);
  } finally {
    params.signal?.removeEventListener('abort', onOuterAbort);
    if (!controller.signal.aborted) controller.abort(new Error('run finished'));
  }
}

function runProbe$(probe: CheckProbe, clock: Clock, logger: Logger): Observable<Signal> {
  return defer(() => {
    const controller = new AbortController();
    return new Observable<Signal[]>((subscriber) => {
      runWithTimeout(probe, clock, logger, controller, probe.timeoutMs).then(
        (signals) => {
          subscriber.next(signals);
          subscriber.complete();
        },
        // runWithTimeout never rejects; this is only a guard against a broken invariant.
        (err: unknown) => {
          subscriber.next([failureSignal(probe, clock.now(), 0, 'SUP_ERR_INTERNAL', err)]);
          subscriber.complete();
        },
      );
      // Unsubscribing (stop$) aborts the run in flight.
      return () => {
        if (!controller.signal.aborted) controller.abort(new Error('check schedule stopped'));
      };
    });
  }).pipe(mergeMap((signals) => from(signals)));
}

async function runWithTimeout(probe: CheckProbe, clock: Clock, logger: Logger, controller: AbortController, timeoutMs: number): Promise<Signal[]> {
  const startedAt = clock.now();
  const timeoutError = new SupervisorError('SUP_ERR_PROBE_TIMEOUT', `check ${probe.name} did not answer within ${timeoutMs} ms`, {
    where: `checks.${probe.name}`,
  });
  const timerController = new AbortController();
  const timeout = clock.sleep(timeoutMs, timerController.signal).then(
    () => {
      controller.abort(timeoutError);
      return 'timeout' as const;
    },
    () => 'cancelled' as const,
  );
  const aborted = new Promise<'aborted'>((resolve) => {
    if (controller.signal.aborted) resolve('aborted');
    else controller.signal.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
  let run: Promise<{ ok: true; signals: Signal[] } | { ok: false; error: unknown }>;
  try {
    run = probe.probe({ signal: controller.signal, now: () => clock.now() }).then(
      (signals) => ({ ok: true as const, signals }),
      (error: unknown) => ({ ok: false as const, error }),
    );
  } catch (error) {
    // A probe that throws synchronously instead of returning a rejected promise.
    run = Promise.resolve({ ok: false as const, error });
  }
  try {
    const outcome = await Promise.race([run, timeout, aborted]);
    const endedAt = clock.now();
    const durationMs = Math.max(0, endedAt - startedAt);
    if (outcome === 'timeout' || outcome === 'aborted' || outcome === 'cancelled') {
      const reason: unknown = controller.signal.reason;
      const isTimeout = reason === timeoutError;
      logger.warn({ durationMs }, isTimeout ? 'check timed out' : 'check run aborted');
      const error = isTimeout
        ? timeoutError
        : new SupervisorError('SUP_ERR_PROBE_FAILED', `check ${probe.name} was aborted: ${describeError(reason).message}`, {
            where: `checks.${probe.name}`,
          });
      return [failureSignal(probe, endedAt, durationMs, 'SUP_ERR_PROBE_FAILED', error)];
    }
    if (!outcome.ok) {
      const described = describeError(outcome.error, 'SUP_ERR_PROBE_FAILED');
      logger.warn({ durationMs, err: described }, 'check failed');
      return [failureSignal(probe, endedAt, durationMs, 'SUP_ERR_PROBE_FAILED', outcome.error)];
    }
    if (!Array.isArray(outcome.signals) || outcome.signals.length === 0) {
      return [
        failureSignal(
          probe,
          endedAt,
          durationMs,
          'SUP_ERR_PROBE_FAILED',
          new SupervisorError('SUP_ERR_PROBE_FAILED', `check ${probe.name} returned no signal`, { where: `checks.${probe.name}` }),
        ),
      ];
    }
    return outcome.signals.map((s) => ({ ...s, check: probe.name, kind: probe.kind, observedAt: endedAt, durationMs }));
  } finally {
    timerController.abort();
  }
}

function failureSignal(probe: CheckProbe, observedAt: number, durationMs: number, fallback: 'SUP_ERR_PROBE_FAILED' | 'SUP_ERR_INTERNAL', err: unknown): Signal {
  const error = describeError(err, fallback);
  return {
    check: probe.name,
    kind: probe.kind,
    target: CHECK_WIDE_TARGET,
    labels: {},
    status: 'unknown',
    observedAt,
    durationMs,
    summary: error.code === 'SUP_ERR_PROBE_TIMEOUT' ? error.message : `check ${probe.name} could not run: ${error.message}`,
    error,
  };
}

function validateProbe(probe: CheckProbe): void {
  const bad = (what: string): never => {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `check ${probe.name}: ${what}`, { where: `checks.${probe.name}` });
  };
  if (!(Number.isFinite(probe.intervalMs) && probe.intervalMs > 0)) bad(`interval must be a positive duration, got ${probe.intervalMs}`);
  if (!(Number.isFinite(probe.timeoutMs) && probe.timeoutMs > 0)) bad(`timeout must be a positive duration, got ${probe.timeoutMs}`);
}
