/**
 * A bounded in-memory history of consumer-group lag, for the UI's sparklines. Fed by the live
 * hub's subscription to the signal state; at most `points` samples per group and `maxGroups`
 * groups (the least recently updated group is forgotten first). Nothing is stored on disk: a
 * restart starts the sparklines afresh.
 */
import type { Signal } from '../../protocol';
import type { SignalState } from '../../../streams/signal-state';

export interface LagPoint {
  t: number;
  lag: number | null;
  lagSeconds: number | null;
}

export interface LagHistory {
  record(state: SignalState): void;
  /** Samples per signal key, oldest first. */
  snapshot(): Record<string, LagPoint[]>;
}

export function createLagHistory(params: { points?: number; maxGroups?: number } = {}): LagHistory {
  const points = params.points ?? 240;
  const maxGroups = params.maxGroups ?? 500;
  const series = new Map<string, LagPoint[]>();
  const seen = new Map<string, number>();
  const add = (key: string, s: Signal): void => {
    if (seen.get(key) === s.observedAt) return;
    seen.set(key, s.observedAt);
    const facts = s.facts?.kind === 'consumer_lag' ? s.facts : null;
    let list = series.get(key);
    if (!list) {
      list = [];
      if (series.size >= maxGroups) {
        const oldest = series.keys().next().value;
        if (oldest !== undefined) {
          series.delete(oldest);
          seen.delete(oldest);
        }
      }
    } else series.delete(key);
    series.set(key, list);
    list.push({ t: s.observedAt, lag: facts ? facts.totalLag : (s.value ?? null), lagSeconds: facts ? facts.maxLagSeconds : null });
    if (list.length > points) list.splice(0, list.length - points);
  };
  return {
    record(state) {
      for (const [key, s] of state.signals) if (s.kind === 'consumer_lag' && s.facts?.kind === 'consumer_lag') add(key, s);
    },
    snapshot: () => Object.fromEntries(series),
  };
}
