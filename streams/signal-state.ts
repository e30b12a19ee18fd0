/**
 * The latest signal per (check, target, labels), folded from the signal stream, plus a summary
 * where the worst status wins. Logs transitions only ("now warn (was ok)"), never every tick.
 *
 * Run boundaries: the scheduler stamps every signal of one run with the same `observedAt`.
 * When a check reports a newer run, the entries of its older runs that the new run did not
 * repeat are dropped — a group that vanished, or per-group signals replaced by one `unknown`
 * signal while Kafka cannot be reached ("we cannot see" is reported, not stale numbers).
 */
import { isDeepStrictEqual } from 'node:util';
import { Observable } from 'rxjs';
import { distinctUntilChanged, filter, map, mergeMap, scan, shareReplay, tap } from 'rxjs/operators';
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
  /** Counts real changes: bumped by every fold that changed the state, never by a repeat of an identical signal. */
  version: number;
  /** The signals folded in by the change that made this version (what a consumer of changes evaluates). */
  changed: readonly Signal[];
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
  return { signals: new Map(), summary: summarize([]), updatedAt: 0, version: 0, changed: [] };
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

/**
 * Pure reducer: folds one signal into the state (returns a new state, never mutates). A signal
 * identical to the one already held for its key changes nothing: the same state comes back.
 */
export function reduceSignal(state: SignalState, signal: Signal): SignalState {
  const key = signalKey(signal);
  // an identical repeat cannot supersede anything (its run is the newest already held)
  if (isDeepStrictEqual(state.signals.get(key), signal)) return state;
  const next = new Map<string, Signal>();
  let newestOfCheck = -Infinity;
  for (const s of state.signals.values()) if (s.check === signal.check) newestOfCheck = Math.max(newestOfCheck, s.observedAt);
  const newerRun = signal.observedAt > newestOfCheck;
  for (const [k, s] of state.signals) {
    if (s.check === signal.check && newerRun && k !== key) continue; // superseded by the newer run
    next.set(k, s);
  }
  next.set(key, signal);
  return { signals: next, summary: summarize(next.values()), updatedAt: Math.max(state.updatedAt, signal.observedAt), version: state.version + 1, changed: [signal] };
}

interface Fold {
  state: SignalState;
  transitions: Array<{ key: string; signal: Signal; was: Status | null }>;
  /**
   * Per check, the entries the first signal of its newest run superseded: the run's later
   * signals find their previous status here (else every target but the first of a multi-target
   * check would log "was not seen" at every run). Replaced at the check's next run.
   */
  superseded: ReadonlyMap<string, ReadonlyMap<string, Signal>>;
}

/**
 * `state$`: the latest signal per key and the summary, after the Kibana status service's chain
 * (`scan → map(summarize) → distinctUntilChanged → shareReplay({ bufferSize: 1, refCount: true })`):
 *
 * - one upstream subscription however many consumers; a late subscriber gets the current state
 *   at once; the fold stops (and its state is dropped) when the last consumer leaves;
 * - it emits only on a real change: a repeat of an identical signal keeps the version, and
 *   `distinctUntilChanged` compares versions (a new object every time would pass it untouched);
 * - status transitions are logged in `tap`, once per transition however many consumers.
 *
 * There is no `debounceTime`: a run's signals already arrive together, and every consumer wants
 * each of them at once (the alert engine evaluates each signal; gates and `/health` read the
 * newest), so coalescing would only delay them.
 */
export function createSignalState$(signals$: Observable<Signal>, params: SignalStateParams = {}): Observable<SignalState> {
  const logger = (params.logger ?? silentLogger).child({ component: 'streams', name: 'signal-state' });
  return signals$.pipe(
    scan<Signal, Fold>(
      (acc, signal) => {
        const key = signalKey(signal);
        const before = acc.state.signals.get(key) ?? acc.superseded.get(signal.check)?.get(key);
        const state = reduceSignal(acc.state, signal);
        const transitions: Fold['transitions'] = [];
        if (!before || before.status !== signal.status) transitions.push({ key, signal, was: before?.status ?? null });
        let superseded = acc.superseded;
        if (state !== acc.state && isNewerRun(acc.state, signal)) {
          superseded = new Map(acc.superseded).set(signal.check, new Map([...acc.state.signals].filter(([k]) => !state.signals.has(k))));
        }
        return { state, transitions, superseded };
      },
      { state: emptySignalState(), transitions: [], superseded: new Map() },
    ),
    tap((fold) => {
      for (const t of fold.transitions) logTransition(logger, t.signal, t.was);
    }),
    map((fold) => fold.state),
    filter((state) => state.signals.size > 0),
    distinctUntilChanged((a, b) => a.version === b.version),
    shareReplay({ bufferSize: 1, refCount: true }),
  );
}

/**
 * The signals of a state stream as a signal stream: every current signal of the first state a
 * subscriber gets (the replay), then the signals of each later change. The alert engine's
 * signal input: it sees every current signal when it starts, then every change.
 */
export function signalChanges$(state$: Observable<SignalState>): Observable<Signal> {
  return new Observable<Signal>((subscriber) => {
    let first = true;
    return state$
      .pipe(
        mergeMap((state) => {
          const out = first ? [...state.signals.values()] : state.changed;
          first = false;
          return out;
        }),
      )
      .subscribe(subscriber);
  });
}

/** The signal starts a newer run of its check than any entry of the state holds. */
function isNewerRun(state: SignalState, signal: Signal): boolean {
  for (const s of state.signals.values()) if (s.check === signal.check && s.observedAt >= signal.observedAt) return false;
  return true;
}

function logTransition(logger: Logger, signal: Signal, was: Status | null): void {
  const fields = { check: signal.check, target: signal.target, status: signal.status, was, error: signal.error?.code };
  const message = `${signal.check} ${signal.target}: now ${signal.status.toUpperCase()} (was ${was === null ? 'not seen' : was.toUpperCase()}) — ${signal.summary}`;
  if (was === null && signal.status === 'ok') logger.debug(fields, message);
  else if (signal.status === 'ok') logger.info(fields, message);
  else logger.warn(fields, message);
}
