/**
 * Burrow's consumer-lag evaluation rules, as pure functions over a window of commits.
 *
 * Per partition, over the window of recent commits (oldest first), with each commit's lag
 * taken against the end offset at the commit's time (interpolated from the end-offset table):
 * - current lag 0, or any commit in the window with lag 0 → OK (the consumer caught up);
 * - committed offset went backwards between two commits → REWIND;
 * - the time since the last commit is longer than the window's span → STOP (the consumer
 *   stopped committing while behind);
 * - the committed offset never moved over the window while behind → STALL;
 * - the offset moved but the lag never shrank between commits → WARN (falling behind);
 * - otherwise OK.
 * Extra rules of ours: a committed offset beyond the end offset (topic recreated or truncated)
 * → ERR; a partition the group never committed on → NOTFOUND with lag null (never zero); with
 * fewer than two commits the rules that need a window don't apply, but a single commit older
 * than `stopAfterMs` while behind is STOP.
 * The group's status is its worst partition's.
 */
import type { CommitPoint, LagStatus, PartitionLag } from '../src/protocol';
import { estimateLagSeconds, offsetAt, type OffsetPoint } from './lag-interpolation';

/** Severity order used to pick the worst partition. */
export const LAG_STATUS_RANK: Record<LagStatus, number> = { OK: 0, NOTFOUND: 1, WARN: 2, REWIND: 3, STALL: 4, STOP: 5, ERR: 6 };

export interface PartitionInput {
  topic: string;
  partition: number;
  /** Commit window, oldest first; empty when the group never committed here. */
  window: readonly CommitPoint[];
  /** Current end (high watermark) offset. */
  endOffset: number;
  /** End-offset history of this partition (oldest first), including the current point. */
  endHistory: readonly OffsetPoint[];
}

export interface EvaluationRules {
  /** A lone commit older than this while behind is STOP (no window to compare with). */
  stopAfterMs: number;
}

export const DEFAULT_RULES: EvaluationRules = { stopAfterMs: 10 * 60_000 };

/** Lag of each commit in the window against the end offset at that commit's time. */
export function windowLags(window: readonly CommitPoint[], endHistory: readonly OffsetPoint[], endOffset: number): number[] {
  return window.map((c) => {
    const end = offsetAt(endHistory, c.timestamp) ?? endOffset;
    return Math.max(0, Math.round(end) - c.offset);
  });
}

export function evaluatePartition(input: PartitionInput, now: number, rules: EvaluationRules = DEFAULT_RULES): PartitionLag {
  const { window } = input;
  const n = window.length;
  const { offsets, timestamps } = scratchFor(n);
  for (let i = 0; i < n; i++) {
    offsets[i] = window[i]!.offset;
    timestamps[i] = window[i]!.timestamp;
  }
  return evaluatePacked(input.topic, input.partition, n, offsets, timestamps, input.endOffset, input.endHistory, now, rules);
}

/**
 * Window arrays reused across partitions and cycles (grown when a window is longer): the window
 * evaluatePartition copies and a packed store reads into (`offsets`, `timestamps`, only read by
 * evaluatePacked), and evaluatePacked's own `lags`.
 */
let scratch = { offsets: new Float64Array(16), timestamps: new Float64Array(16), lags: new Float64Array(16) };
export function scratchFor(n: number): typeof scratch {
  if (n > scratch.offsets.length) {
    const size = Math.max(n, scratch.offsets.length * 2);
    scratch = { offsets: new Float64Array(size), timestamps: new Float64Array(size), lags: new Float64Array(size) };
  }
  return scratch;
}

/**
 * evaluatePartition over a window given as its length and two arrays (oldest first), as the
 * packed commit store reads it: the same rules, no point object and no array per partition.
 * The arrays are only read, and may be reused once this returns.
 */
export function evaluatePacked(
  topic: string,
  partition: number,
  n: number,
  offsets: ArrayLike<number>,
  timestamps: ArrayLike<number>,
  endOffset: number,
  endHistory: readonly OffsetPoint[],
  now: number,
  rules: EvaluationRules = DEFAULT_RULES,
): PartitionLag {
  if (n === 0) return { topic, partition, committedOffset: null, endOffset, lag: null, lagSeconds: null, status: 'NOTFOUND' };
  const committedOffset = offsets[n - 1]!;
  if (committedOffset > endOffset) {
    return { topic, partition, committedOffset, endOffset, lag: null, lagSeconds: null, status: 'ERR' };
  }
  const lag = endOffset - committedOffset;
  const lagSeconds = estimateLagSeconds(endHistory, committedOffset, now);
  const status = lag === 0 ? 'OK' : packedStatus(n, offsets, timestamps, packedLags(n, offsets, timestamps, endHistory, endOffset), lag, now, rules);
  return { topic, partition, committedOffset, endOffset, lag, lagSeconds, status };
}

/** windowLags into a reused array. */
function packedLags(n: number, offsets: ArrayLike<number>, timestamps: ArrayLike<number>, endHistory: readonly OffsetPoint[], endOffset: number): Float64Array {
  const { lags } = n > scratch.lags.length ? scratchFor(n) : scratch;
  for (let i = 0; i < n; i++) {
    const end = offsetAt(endHistory, timestamps[i]!) ?? endOffset;
    lags[i] = Math.max(0, Math.round(end) - offsets[i]!);
  }
  return lags;
}

/** Burrow's `calculatePartitionStatus`, with lags per commit given. */
export function burrowStatus(window: readonly CommitPoint[], lags: readonly number[], currentLag: number, now: number, rules: EvaluationRules = DEFAULT_RULES): LagStatus {
  return packedStatus(
    window.length,
    window.map((c) => c.offset),
    window.map((c) => c.timestamp),
    lags,
    currentLag,
    now,
    rules,
    lags.length,
  );
}

/** burrowStatus over a packed window (`lagCount` lags; the window's length by default). */
function packedStatus(
  n: number,
  offsets: ArrayLike<number>,
  timestamps: ArrayLike<number>,
  lags: ArrayLike<number>,
  currentLag: number,
  now: number,
  rules: EvaluationRules,
  lagCount = n,
): LagStatus {
  if (currentLag === 0) return 'OK';
  for (let i = 0; i < lagCount; i++) if (lags[i] === 0) return 'OK';
  if (n === 0) return 'OK';
  const firstTime = timestamps[0]!;
  const lastTime = timestamps[n - 1]!;
  if (n < 2) return now - lastTime > rules.stopAfterMs ? 'STOP' : 'OK';
  for (let i = 1; i < n; i += 1) if (offsets[i]! < offsets[i - 1]!) return 'REWIND';
  if (now - lastTime > lastTime - firstTime) return 'STOP';
  let moved = false;
  for (let i = 1; i < n; i += 1) if (offsets[i] !== offsets[i - 1]) moved = true;
  if (!moved) return 'STALL';
  let lagShrank = false;
  for (let i = 1; i < lagCount; i += 1) if (lags[i]! < lags[i - 1]!) lagShrank = true;
  if (!lagShrank) return 'WARN';
  return 'OK';
}

/**
 * The worst partition decides. Partitions the group never committed on don't count against a
 * group that committed elsewhere (as in Burrow); with no commit at all the group is NOTFOUND.
 */
export function groupLagStatus(partitions: readonly Pick<PartitionLag, 'status'>[]): LagStatus {
  let worst: LagStatus | null = null;
  for (const p of partitions) {
    if (p.status === 'NOTFOUND') continue;
    if (worst === null || LAG_STATUS_RANK[p.status] > LAG_STATUS_RANK[worst]) worst = p.status;
  }
  return worst ?? 'NOTFOUND';
}
