/**
 * In-memory commit store: per group/topic/partition a small window of recent commits (a ring
 * of at most `windowSize` points, oldest first), as Burrow keeps them. Fed by
 * `__consumer_offsets` events (the root subscribes the stream and calls `apply`) or by the lag
 * check itself from admin offset fetches when that topic can't be read.
 *
 * Like Burrow, a commit that arrives less than `minDistanceMs` after the start of the newest
 * point's slot replaces that point instead of adding one, so a consumer committing every 100 ms
 * doesn't shrink the window to one second; a commit older than the newest point is ignored.
 *
 * Packed, not objects: at 200,000 partitions an Array of {offset, timestamp} objects per
 * partition (with a slot start beside it) was ~60 MB of V8 heap — array elements reserved for
 * 16 points when one had arrived, an object and a boxed double per point — which the GC walked
 * on every major collection and let the heap grow to twice that. Here every partition is a slot
 * number into columns of typed arrays (outside the GC's object graph): its two newest points and
 * slot start in the slot's own columns, its older points (at most windowSize − 2) in a ring
 * block allocated when a third point arrives. Freed slots and blocks are reused.
 */
import type { CommitPoint, CommitSource, CommitSourceState, CommitWindows, ConsumerOffsetsEvent } from '../src/protocol';

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
  windows(group: string): CommitWindows | undefined;
  /** Slots and ring blocks allocated and free (for tests and the benchmark). */
  storage(): { slots: number; freeSlots: number; blocks: number; freeBlocks: number };
}

export const DEFAULT_WINDOW_SIZE = 10;
export const DEFAULT_MIN_DISTANCE_MS = 1000;

/** Entries per chunk of a column: columns grow a chunk at a time, never copied. */
const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;

/** A growable column of numbers in chunks of typed arrays. */
class Column<A extends Float64Array | Int32Array | Uint16Array> {
  readonly chunks: A[] = [];
  constructor(
    private readonly make: (n: number) => A,
    private readonly width = 1,
  ) {}
  /** Makes room for entry `i` (entries are allocated in order). */
  grow(i: number): void {
    while (i >>> CHUNK_BITS >= this.chunks.length) this.chunks.push(this.make(CHUNK * this.width));
  }
  get(i: number, k = 0): number {
    return this.chunks[i >>> CHUNK_BITS]![(i & MASK) * this.width + k]!;
  }
  set(i: number, v: number, k = 0): void {
    this.chunks[i >>> CHUNK_BITS]![(i & MASK) * this.width + k] = v;
  }
}

/** The partitions of one group on one topic: partition number → slot (−1: none). */
class TopicSlots {
  /** Indexed by partition number; −1 or a hole where there is no window. */
  readonly slots: number[] = [];
  count = 0;
}

export function createCommitStore(params: CommitStoreParams = {}): CommitStore {
  const windowSize = Math.min(65_535, Math.max(2, params.windowSize ?? DEFAULT_WINDOW_SIZE));
  /** Points per partition older than the two newest, in a ring block (none for windows of two). */
  const ring = windowSize - 2;
  const minDistanceMs = Math.max(0, params.minDistanceMs ?? DEFAULT_MIN_DISTANCE_MS);
  let state: CommitSourceState = params.initialState ?? 'catching_up';
  const byGroup = new Map<string, Map<string, TopicSlots>>();
  /** One string per topic name, however many groups and events name it. */
  const topicNames = new Map<string, string>();
  let partitions = 0;

  // per slot: the newest point, the one before it, the newest point's slot start, the ring block (−1: none), points held, the ring's oldest position
  const lastOffset = new Column((n) => new Float64Array(n));
  const lastTime = new Column((n) => new Float64Array(n));
  const prevOffset = new Column((n) => new Float64Array(n));
  const prevTime = new Column((n) => new Float64Array(n));
  const slotStart = new Column((n) => new Float64Array(n));
  const blockOf = new Column((n) => new Int32Array(n));
  const countOf = new Column((n) => new Uint16Array(n));
  const headOf = new Column((n) => new Uint16Array(n));
  // per block: `ring` older points
  const blockOffsets = new Column((n) => new Float64Array(n), Math.max(1, ring));
  const blockTimes = new Column((n) => new Float64Array(n), Math.max(1, ring));
  let slotsAllocated = 0;
  let blocksAllocated = 0;
  const freeSlots: number[] = [];
  const freeBlocks: number[] = [];

  const newSlot = (): number => {
    let slot = freeSlots.pop();
    if (slot === undefined) {
      slot = slotsAllocated++;
      for (const c of [lastOffset, lastTime, prevOffset, prevTime, slotStart, blockOf, countOf, headOf]) c.grow(slot);
    }
    blockOf.set(slot, -1);
    countOf.set(slot, 0);
    headOf.set(slot, 0);
    return slot;
  };
  const newBlock = (): number => {
    let block = freeBlocks.pop();
    if (block === undefined) {
      block = blocksAllocated++;
      blockOffsets.grow(block);
      blockTimes.grow(block);
    }
    return block;
  };
  const freeSlot = (slot: number): void => {
    const block = blockOf.get(slot);
    if (block >= 0) freeBlocks.push(block);
    blockOf.set(slot, -1);
    countOf.set(slot, 0);
    freeSlots.push(slot);
    partitions -= 1;
  };

  /** Copies a slot's window, oldest first; returns its length. */
  const read = (slot: number, offsets: Float64Array, timestamps: Float64Array): number => {
    const n = countOf.get(slot);
    const older = n - 2;
    if (older > 0) {
      const block = blockOf.get(slot);
      const head = headOf.get(slot);
      for (let i = 0; i < older; i++) {
        const k = (head + i) % ring;
        offsets[i] = blockOffsets.get(block, k);
        timestamps[i] = blockTimes.get(block, k);
      }
    }
    if (n >= 2) {
      offsets[n - 2] = prevOffset.get(slot);
      timestamps[n - 2] = prevTime.get(slot);
    }
    if (n >= 1) {
      offsets[n - 1] = lastOffset.get(slot);
      timestamps[n - 1] = lastTime.get(slot);
    }
    return n;
  };

  const put = (group: string, topic: string, partition: number, offset: number, timestamp: number): void => {
    let topics = byGroup.get(group);
    if (!topics) byGroup.set(group, (topics = new Map<string, TopicSlots>()));
    let parts = topics.get(topic);
    if (!parts) {
      let name = topicNames.get(topic);
      if (name === undefined) topicNames.set(topic, (name = topic));
      topics.set(name, (parts = new TopicSlots()));
    }
    let slot = parts.slots[partition] ?? -1;
    if (slot < 0) {
      parts.slots[partition] = slot = newSlot();
      parts.count += 1;
      partitions += 1;
    }
    const n = countOf.get(slot);
    if (n > 0) {
      if (timestamp < lastTime.get(slot)) return; // older than what we have: a replay
      if (minDistanceMs > 0 && timestamp - slotStart.get(slot) < minDistanceMs) {
        // Same slot: the newest commit wins, the slot keeps its start time.
        lastOffset.set(slot, offset);
        lastTime.set(slot, timestamp);
        return;
      }
      // the point before the newest goes into the ring (a full ring drops its oldest; a window of two drops it)
      if (n >= 2 && ring > 0) {
        let block = blockOf.get(slot);
        if (block < 0) blockOf.set(slot, (block = newBlock()));
        const older = n - 2;
        const head = headOf.get(slot);
        // (the ring fills from position 0; once full, head moves on from the oldest point)
        const at = older < ring ? older : head;
        blockOffsets.set(block, prevOffset.get(slot), at);
        blockTimes.set(block, prevTime.get(slot), at);
        if (older >= ring) headOf.set(slot, (head + 1) % ring);
      }
      // the newest becomes the one before it
      prevOffset.set(slot, lastOffset.get(slot));
      prevTime.set(slot, lastTime.get(slot));
      if (n < windowSize) countOf.set(slot, n + 1);
    } else countOf.set(slot, 1);
    slotStart.set(slot, timestamp);
    lastOffset.set(slot, offset);
    lastTime.set(slot, timestamp);
  };

  const record = (group: string, topic: string, partition: number, point: CommitPoint): void => put(group, topic, partition, point.offset, point.timestamp);

  const remove = (group: string, topic: string, partition: number): void => {
    const topics = byGroup.get(group);
    const parts = topics?.get(topic);
    if (!topics || !parts) return;
    const slot = parts.slots[partition] ?? -1;
    if (slot < 0) return;
    freeSlot(slot);
    parts.slots[partition] = -1;
    parts.count -= 1;
    if (parts.count === 0) topics.delete(topic);
    if (topics.size === 0) byGroup.delete(group);
  };

  /** The windows of one group: what the lag check reads, without building a point object. */
  const windowsOf = (topics: Map<string, TopicSlots>): CommitWindows => ({
    maxLength: windowSize,
    topics: () => topics.keys(),
    read(topic, partition, offsets, timestamps) {
      const slot = topics.get(topic)?.slots[partition] ?? -1;
      return slot < 0 ? 0 : read(slot, offsets, timestamps);
    },
  });

  /** The windows of one group as arrays of points (CommitSource.commits: built on each call, for readers other than the lag check). */
  const commitsOf = (topics: Map<string, TopicSlots>): Map<string, Map<number, CommitPoint[]>> => {
    const offsets = new Float64Array(windowSize);
    const timestamps = new Float64Array(windowSize);
    const out = new Map<string, Map<number, CommitPoint[]>>();
    for (const [topic, parts] of topics) {
      const windows = new Map<number, CommitPoint[]>();
      parts.slots.forEach((slot, partition) => {
        if (slot < 0) return;
        const n = read(slot, offsets, timestamps);
        const points: CommitPoint[] = [];
        for (let i = 0; i < n; i++) points.push({ offset: offsets[i]!, timestamp: timestamps[i]! });
        windows.set(partition, points);
      });
      out.set(topic, windows);
    }
    return out;
  };

  return {
    state: () => state,
    groups: () => byGroup.keys(),
    commits(group) {
      const topics = byGroup.get(group);
      return topics ? commitsOf(topics) : undefined;
    },
    windows(group) {
      const topics = byGroup.get(group);
      return topics ? windowsOf(topics) : undefined;
    },
    size: () => partitions,
    storage: () => ({ slots: slotsAllocated, freeSlots: freeSlots.length, blocks: blocksAllocated, freeBlocks: freeBlocks.length }),
    record,
    remove,
    retainGroups(keep) {
      for (const [group, topics] of byGroup) {
        if (keep.has(group)) continue;
        for (const parts of topics.values()) for (const slot of parts.slots) if (slot !== undefined && slot >= 0) freeSlot(slot);
        byGroup.delete(group);
      }
    },
    apply(event) {
      switch (event.type) {
        case 'commit':
          put(event.group, event.topic, event.partition, event.offset, event.commitTimestamp);
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
