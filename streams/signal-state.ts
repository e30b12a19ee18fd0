/**
 * The latest signal per (check, target, labels), folded from the signal stream, plus a summary
 * where the worst status wins. Logs transitions only ("now warn (was ok)"), never every tick.
 *
 * Run boundaries: the scheduler stamps every signal of one run with the same `observedAt`.
 * When a check reports a newer run, the entries of its older runs that the new run did not
 * repeat are dropped — a group that vanished, or per-group signals replaced by one `unknown`
 * signal while Kafka cannot be reached ("we cannot see" is reported, not stale numbers).
 */
import { Observable } from 'rxjs';
import { distinctUntilChanged, filter, map, scan, shareReplay } from 'rxjs/operators';
import { STATUSES, worstStatus, type Logger, type Signal, type Status } from '../src/protocol';
import { silentLogger } from '../src/shared/logger';

export interface SignalStateSummary {
  status: Status;
  /** How many entries are in each status. */
  counts: Record<Status, number>;
  /** Number of distinct checks with at least one entry. */
  checks: number;
}

export interface SignalState {
  /** Latest signal per key (see `signalKey`), in first-seen order. */
  signals: ReadonlyMap<string, Signal>;
  summary: SignalStateSummary;
  /** Epoch ms of the newest signal folded in (0 before the first). */
  updatedAt: number;
}

export interface SignalStateParams {
  logger?: Logger;
}

/** Stable key of a signal: check, target and sorted labels. */
export function signalKey(signal: Pick<Signal, 'check' | 'target' | 'labels'>): string {
  const labels = Object.keys(signal.labels)
    .sort()
    .map((k) => `${k}=${signal.labels[k] ?? ''}`)
    .join(',');
  return `${signal.check}|${signal.target}|${labels}`;
}

export function emptySignalState(): SignalState {
  return { signals: new Map(), summary: summarize([]), updatedAt: 0 };
}

export function summarize(signals: Iterable<Signal>): SignalStateSummary {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>;
  const statuses: Status[] = [];
  const checks = new Set<string>();
  for (const s of signals) {
    counts[s.status] += 1;
    statuses.push(s.status);
    checks.add(s.check);
  }
  return { status: worstStatus(statuses), counts, checks: checks.size };
}

/** Pure reducer: folds one signal into the state (returns a new state, never mutates). */
export function reduceSignal(state: SignalState, signal: Signal): SignalState {
  const key = signalKey(signal);
  const next = new Map<string, Signal>();
  let newestOfCheck = -Infinity;
  for (const s of state.signals.values()) if (s.check === signal.check) newestOfCheck = Math.max(newestOfCheck, s.observedAt);
  const newerRun = signal.observedAt > newestOfCheck;
  for (const [k, s] of state.signals) {
    if (s.check === signal.check && newerRun && k !== key) continue; // superseded by the newer run
    next.set(k, s);
  }
  next.set(key, signal);
  return { signals: next, summary: summarize(next.values()), updatedAt: Math.max(state.updatedAt, signal.observedAt) };
}

interface Fold {
  state: SignalState;
  transitions: Array<{ key: string; signal: Signal; was: Status | null }>;
}

/**
 * Latest signal per key and the summary, shared: late subscribers get the current state at
 * once; the fold stops when the last subscriber leaves.
 */
export function createSignalState$(signals$: Observable<Signal>, params: SignalStateParams = {}): Observable<SignalState> {
  const logger = (params.logger ?? silentLogger).child({ component: 'streams', name: 'signal-state' });
  return signals$.pipe(
    scan<Signal, Fold>(
      (acc, signal) => {
        const key = signalKey(signal);
        const before = acc.state.signals.get(key);
        const state = reduceSignal(acc.state, signal);
        const transitions: Fold['transitions'] = [];
        if (!before || before.status !== signal.status) transitions.push({ key, signal, was: before?.status ?? null });
        return { state, transitions };
      },
      { state: emptySignalState(), transitions: [] },
    ),
    map((fold) => {
      for (const t of fold.transitions) logTransition(logger, t.signal, t.was);
      return fold.state;
    }),
    filter((state) => state.signals.size > 0),
    distinctUntilChanged(),
    shareReplay({ bufferSize: 1, refCount: true }),
  );
}

function logTransition(logger: Logger, signal: Signal, was: Status | null): void {
  const fields = { check: signal.check, target: signal.target, status: signal.status, was, error: signal.error?.code };
  const message = `${signal.check} ${signal.target}: now ${signal.status.toUpperCase()} (was ${was === null ? 'not seen' : was.toUpperCase()}) — ${signal.summary}`;
  if (was === null && signal.status === 'ok') logger.debug(fields, message);
  else if (signal.status === 'ok') logger.info(fields, message);
  else logger.warn(fields, message);
}
