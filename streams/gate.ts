/**
 * Gates: a scheduled run is skipped — recorded as `skipped` with the reason, not silently
 * dropped — while Kafka is unhealthy or a downstream consumer group lags above a threshold.
 * The gate is evaluated when the tick fires; an evaluation that fails (Kafka unreachable)
 * counts as "unhealthy", one that does not answer in time is a skip too, never a dead or a
 * stuck stream.
 */
import { asyncScheduler, from, of, race, timer, type MonoTypeOperatorFunction, type Observable, type SchedulerLike } from 'rxjs';
import { catchError, concatMap, groupBy, map, mergeMap, take } from 'rxjs/operators';
import type { Logger, Signal, Trigger } from '../src/protocol';
import { silentLogger } from '../src/shared/logger';

export interface GateSpec {
  /** Skip while Kafka is unhealthy. */
  kafkaHealthy: boolean;
  /** Skip while this group's total lag on this topic is above maxLag. */
  maxLag?: { group: string; topic: string; maxLag: number };
}

export interface GateProbes {
  /** null when healthy, else why not. */
  kafkaHealth(): Promise<string | null>;
  /** Total lag of the group on the topic (messages). */
  lag(group: string, topic: string): Promise<number>;
  /** Latest check signals, if the supervisor runs checks (a crit/unknown kafka_cluster signal closes the gate too). */
  latestSignals?: () => readonly Signal[];
}

/** null = open (run), else the reason to skip. */
export async function evaluateGate(spec: GateSpec, probes: GateProbes): Promise<string | null> {
  if (spec.kafkaHealthy) {
    const bad = (probes.latestSignals?.() ?? []).find((s) => s.kind === 'kafka_cluster' && (s.status === 'crit' || s.status === 'unknown'));
    if (bad) return `gate: Kafka is unhealthy (${bad.check}: ${bad.status}, ${bad.summary})`;
    const reason = await probes.kafkaHealth();
    if (reason !== null) return `gate: Kafka is unhealthy (${reason})`;
  }
  if (spec.maxLag) {
    const { group, topic, maxLag } = spec.maxLag;
    const lag = await probes.lag(group, topic);
    if (lag > maxLag) return `gate: consumer group ${group} lags ${lag} messages on ${topic} (above ${maxLag})`;
  }
  return null;
}

/** Default bound of one gate evaluation. */
/** Above kafkajs's own worst case for the gate's admin (request timeout + a retry + a reconnect). */
export const DEFAULT_GATE_TIMEOUT_MS = 20_000;

/**
 * Applies a gate to triggers. Triggers of one pipeline are gated one at a time, in order;
 * pipelines are independent, so a gate that is slow (or never answers) delays only its own
 * pipeline. Each evaluation is bounded by `timeoutMs`: one that does not answer in time is a
 * skip with that reason (recorded like any other gate skip), and the pipeline's next trigger is
 * evaluated afresh. `gateFor` returns the evaluation for a trigger (or null when its pipeline
 * has no gate); only the given kinds are gated.
 */
export function gateTriggers(
  gateFor: (trigger: Trigger) => (() => Promise<string | null>) | null,
  options: { kinds?: readonly Trigger['kind'][]; logger?: Logger; timeoutMs?: number; scheduler?: SchedulerLike } = {},
): MonoTypeOperatorFunction<Trigger> {
  const kinds = options.kinds ?? ['cron'];
  const logger = (options.logger ?? silentLogger).child({ component: 'streams', name: 'gate' });
  const timeoutMs = options.timeoutMs ?? DEFAULT_GATE_TIMEOUT_MS;
  const scheduler = options.scheduler ?? asyncScheduler;
  const gate = (trigger: Trigger): Observable<Trigger> => {
    const evaluate = kinds.includes(trigger.kind) ? gateFor(trigger) : null;
    if (!evaluate) return of(trigger);
    const timedOut: Trigger = { ...trigger, skipReason: `gate: Kafka is unhealthy (the gate's probe did not answer within ${timeoutMs} ms)` };
    return race(
      from(Promise.resolve().then(evaluate)).pipe(
        map((reason): Trigger => (reason === null ? trigger : { ...trigger, skipReason: reason })),
        catchError((err: unknown) => {
          const reason = `gate: Kafka is unhealthy (${(err as Error)?.message ?? String(err)})`;
          logger.warn({ pipeline: trigger.pipeline, reason }, 'gate evaluation failed; skipping the run');
          return of<Trigger>({ ...trigger, skipReason: reason });
        }),
      ),
      timer(timeoutMs, scheduler).pipe(
        map(() => {
          logger.warn({ pipeline: trigger.pipeline, timeoutMs }, 'gate evaluation timed out; skipping the run');
          return timedOut;
        }),
      ),
    ).pipe(take(1));
  };
  return (source) =>
    source.pipe(
      groupBy((trigger) => trigger.pipeline),
      mergeMap((pipeline$) => pipeline$.pipe(concatMap(gate))),
    );
}
