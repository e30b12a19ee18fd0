/**
 * `lag` trigger: fires a pipeline when a consumer group has caught up — its total lag on a
 * topic is ≤ maxLag and has stayed there for `forMs` — at most once per cool-down, and once per
 * caught-up episode (the lag must rise above maxLag again before the next fire).
 */
import { Observable } from 'rxjs';
import type { Clock, Logger, Trigger } from '../src/protocol';
import { silentLogger } from '../src/shared/logger';

export interface LagTriggerState {
  belowSince: number | null;
  lastFiredAt: number | null;
  /** True until it fires; re-armed when the lag goes above maxLag. */
  armed: boolean;
}

export interface LagTriggerRule {
  maxLag: number;
  forMs: number;
  cooldownMs: number;
}

export const INITIAL_LAG_STATE: LagTriggerState = { belowSince: null, lastFiredAt: null, armed: true };

/** Pure step: the next state and whether to fire, given one lag observation (null = could not measure). */
export function stepLagTrigger(state: LagTriggerState, rule: LagTriggerRule, lag: number | null, now: number): { state: LagTriggerState; fire: boolean } {
  if (lag === null) return { state: { ...state, belowSince: null }, fire: false };
  if (lag > rule.maxLag) return { state: { ...state, belowSince: null, armed: true }, fire: false };
  const belowSince = state.belowSince ?? now;
  const held = now - belowSince >= rule.forMs;
  const cooled = state.lastFiredAt === null || now - state.lastFiredAt >= rule.cooldownMs;
  if (state.armed && held && cooled) return { state: { belowSince, lastFiredAt: now, armed: false }, fire: true };
  return { state: { ...state, belowSince }, fire: false };
}

export interface LagTriggerParams extends LagTriggerRule {
  pipeline: string;
  group: string;
  topic: string;
  fetchLag: () => Promise<number>;
  clock: Clock;
  logger?: Logger;
  /** Poll interval; default min(5 s, forMs / 4) but at least 250 ms. */
  pollMs?: number;
}

export function createLagTrigger$(params: LagTriggerParams): Observable<Trigger> {
  const { clock } = params;
  const logger = (params.logger ?? silentLogger).child({ component: 'streams', name: 'lag-trigger' });
  const pollMs = params.pollMs ?? Math.max(250, Math.min(5_000, Math.floor(params.forMs / 4)));
  return new Observable<Trigger>((subscriber) => {
    const ac = new AbortController();
    const loop = async (): Promise<void> => {
      let state = INITIAL_LAG_STATE;
      let failing = false;
      for (;;) {
        let lag: number | null = null;
        try {
          lag = await params.fetchLag();
          if (failing) logger.info({ pipeline: params.pipeline, group: params.group }, 'lag measurable again');
          failing = false;
        } catch (err) {
          if (!failing) logger.warn({ pipeline: params.pipeline, group: params.group, topic: params.topic, error: (err as Error).message }, 'cannot measure lag');
          failing = true;
        }
        if (ac.signal.aborted) return;
        const now = clock.now();
        const step = stepLagTrigger(state, params, lag, now);
        state = step.state;
        if (step.fire) {
          logger.info({ pipeline: params.pipeline, group: params.group, topic: params.topic, lag }, 'consumer caught up: firing');
          subscriber.next({ pipeline: params.pipeline, logicalDate: now, kind: 'lag', params: { group: params.group, topic: params.topic, lag }, firedAt: now });
        }
        await clock.sleep(pollMs, ac.signal);
      }
    };
    loop().catch(() => undefined); // only an abort ends the loop
    return () => ac.abort();
  });
}
