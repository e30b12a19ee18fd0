/**
 * In-memory commit store: per group/topic/partition a small window of recent commits (a ring
 * of at most `windowSize` points, oldest first), as Burrow keeps them. Fed by
 * `__consumer_offsets` events (the root subscribes the stream and calls `apply`) or by the lag
 * check itself from admin offset fetches when that topic can't be read.
 *
 * Like Burrow, a commit that arrives less than `minDistanceMs` after the start of the newest
 * point's slot replaces that point instead of adding one, so a consumer committing every 100 ms
 * doesn't shrink the window to one second; a commit older than the newest point is ignored.
 */
import type { CommitPoint, CommitSource, CommitSourceState, ConsumerOffsetsEvent } from '../src/protocol';

export interface CommitStoreParams {
  /** Points kept per partition (Burrow's `intervals`). */
  windowSize?: number;
  /** Commits closer together than this replace the previous point. */
  minDistanceMs?: number;
  /** State reported before any state event arrives. */
  initialState?: CommitSourceState;
}

export interface CommitStore extends CommitSource {
  apply(event: ConsumerOffsetsEvent): void;
  /** Adds one commit point directly (admin-fetch fallback). */
  record(group: string, topic: string, partition: number, point: CommitPoint): void;
  /** Drops a partition's window (offset deleted). */
  remove(group: string, topic: string, partition: number): void;
  /** Drops groups absent from `keep` (fallback mode: groups that disappeared). */
  retainGroups(keep: ReadonlySet<string>): void;
  /** Number of partitions with a window (for metrics and tests). */
  size(): number;
}

/**
 * A partition's commits, oldest first, and when the newest point's slot began. The slot start
 * used to live in a WeakMap keyed by the window: at 200,000 partitions those were 200,000
 * ephemerons that every major GC iterated, for as long as the store lived.
 */
type Window = CommitPoint[] & { slotStart: number };

export const DEFAULT_WINDOW_SIZE = 10;
export const DEFAULT_MIN_DISTANCE_MS = 1000;

export function createCommitStore(params: CommitStoreParams = {}): CommitStore {
  const windowSize = Math.max(2, params.windowSize ?? DEFAULT_WINDOW_SIZE);
  const minDistanceMs = Math.max(0, params.minDistanceMs ?? DEFAULT_MIN_DISTANCE_MS);
  let state: CommitSourceState = params.initialState ?? 'catching_up';
  const byGroup = new Map<string, Map<string, Map<number, Window>>>();
  let partitions = 0;

  const record = (group: string, topic: string, partition: number, point: CommitPoint): void => {
    let topics = byGroup.get(group);
    if (!topics) byGroup.set(group, (topics = new Map<string, Map<number, Window>>()));
    let parts = topics.get(topic);
    if (!parts) topics.set(topic, (parts = new Map<number, Window>()));
    let window = parts.get(partition);
    if (!window) {
      // not enumerable: readers of commits() see a plain array of points, as before
      parts.set(partition, (window = Object.defineProperty([] as CommitPoint[], 'slotStart', { value: 0, writable: true, enumerable: false }) as Window));
      partitions += 1;
    }
    const last = window[window.length - 1];
    if (last) {
      if (point.timestamp < last.timestamp) return; // older than what we have: a replay
      if (minDistanceMs > 0 && point.timestamp - window.slotStart < minDistanceMs) {
        // Same slot: the newest commit wins, the slot keeps its start time.
        window[window.length - 1] = { offset: point.offset, timestamp: point.timestamp };
        return;
      }
    }
    window.slotStart = point.timestamp;
    window.push({ offset: point.offset, timestamp: point.timestamp });
    if (window.length > windowSize) window.shift();
  };

  const remove = (group: string, topic: string, partition: number): void => {
    const topics = byGroup.get(group);
    const parts = topics?.get(topic);
    if (!topics || !parts || !parts.delete(partition)) return;
    partitions -= 1;
    if (parts.size === 0) topics.delete(topic);
    if (topics.size === 0) byGroup.delete(group);
  };

  return {
    state: () => state,
    groups: () => byGroup.keys(),
    commits: (group) => byGroup.get(group),
    size: () => partitions,
    record,
    remove,
    retainGroups(keep) {
      for (const [group, topics] of byGroup) {
        if (keep.has(group)) continue;
        for (const parts of topics.values()) partitions -= parts.size;
        byGroup.delete(group);
      }
    },
    apply(event) {
      switch (event.type) {
        case 'commit':
          record(event.group, event.topic, event.partition, { offset: event.offset, timestamp: event.commitTimestamp });
          break;
        case 'delete':
          remove(event.group, event.topic, event.partition);
          break;
        case 'state':
          state = event.state;
          break;
      }
    },
  };
}
