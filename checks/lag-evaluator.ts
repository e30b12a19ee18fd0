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
  const { topic, partition, window, endOffset, endHistory } = input;
  const last = window[window.length - 1];
  if (!last) return { topic, partition, committedOffset: null, endOffset, lag: null, lagSeconds: null, status: 'NOTFOUND' };
  const committedOffset = last.offset;
  if (committedOffset > endOffset) {
    return { topic, partition, committedOffset, endOffset, lag: null, lagSeconds: null, status: 'ERR' };
  }
  const lag = endOffset - committedOffset;
  const lagSeconds = estimateLagSeconds(endHistory, committedOffset, now);
  return { topic, partition, committedOffset, endOffset, lag, lagSeconds, status: burrowStatus(window, windowLags(window, endHistory, endOffset), lag, now, rules) };
}

/** Burrow's `calculatePartitionStatus`, with lags per commit given. */
export function burrowStatus(window: readonly CommitPoint[], lags: readonly number[], currentLag: number, now: number, rules: EvaluationRules = DEFAULT_RULES): LagStatus {
  if (currentLag === 0) return 'OK';
  if (lags.some((l) => l === 0)) return 'OK';
  const first = window[0];
  const last = window[window.length - 1];
  if (!first || !last) return 'OK';
  if (window.length < 2) return now - last.timestamp > rules.stopAfterMs ? 'STOP' : 'OK';
  for (let i = 1; i < window.length; i += 1) if (window[i]!.offset < window[i - 1]!.offset) return 'REWIND';
  if (now - last.timestamp > last.timestamp - first.timestamp) return 'STOP';
  let moved = false;
  for (let i = 1; i < window.length; i += 1) if (window[i]!.offset !== window[i - 1]!.offset) moved = true;
  if (!moved) return 'STALL';
  let lagShrank = false;
  for (let i = 1; i < lags.length; i += 1) if (lags[i]! < lags[i - 1]!) lagShrank = true;
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
