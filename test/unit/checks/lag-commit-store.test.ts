/**
 * The packed commit store (checks/lag-commit-store.ts) against a plain model of Burrow's window
 * (arrays of points, the store's former implementation): ring wrap-around, commits folded into
 * the newest slot, replays ignored, windows read into typed arrays equal to the arrays of
 * points, removed partitions and groups freeing their slots and ring blocks for reuse without
 * leaking old points into a new window, and columns past one chunk.
 */
import { createCommitStore, type CommitStore } from '../../../checks/lag-commit-store';
import type { CommitPoint } from '../../../src/protocol';

const T0 = 1_700_000_000_000;

/** The window rules on plain arrays. */
class Model {
  private readonly windows = new Map<string, { points: CommitPoint[]; slotStart: number }>();
  constructor(
    private readonly windowSize: number,
    private readonly minDistanceMs: number,
  ) {}
  record(key: string, offset: number, timestamp: number): void {
    let w = this.windows.get(key);
    if (!w) this.windows.set(key, (w = { points: [], slotStart: 0 }));
    const last = w.points[w.points.length - 1];
    if (last) {
      if (timestamp < last.timestamp) return;
      if (this.minDistanceMs > 0 && timestamp - w.slotStart < this.minDistanceMs) {
        w.points[w.points.length - 1] = { offset, timestamp };
        return;
      }
    }
    w.slotStart = timestamp;
    w.points.push({ offset, timestamp });
    if (w.points.length > this.windowSize) w.points.shift();
  }
  remove(key: string): void {
    this.windows.delete(key);
  }
  window(key: string): CommitPoint[] | undefined {
    return this.windows.get(key)?.points;
  }
  keys(): string[] {
    return [...this.windows.keys()];
  }
}

/** A deterministic pseudo-random sequence (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A window as the lag check reads it: through windows().read into typed arrays. */
function packedWindow(store: CommitStore, group: string, topic: string, partition: number): CommitPoint[] | undefined {
  const w = store.windows(group);
  if (!w) return undefined;
  const offsets = new Float64Array(w.maxLength);
  const timestamps = new Float64Array(w.maxLength);
  const n = w.read(topic, partition, offsets, timestamps);
  if (n === 0) return undefined;
  return Array.from({ length: n }, (_, i) => ({ offset: offsets[i]!, timestamp: timestamps[i]! }));
}

const commit = (store: CommitStore, group: string, topic: string, partition: number, offset: number, timestamp: number): void =>
  store.apply({ type: 'commit', group, topic, partition, offset, leaderEpoch: null, metadata: '', commitTimestamp: timestamp, expireTimestamp: null });

describe('packed commit store', () => {
  it('wraps its ring many times and keeps the newest windowSize points, oldest first', () => {
    const store = createCommitStore({ windowSize: 4, minDistanceMs: 0 });
    for (let i = 0; i < 23; i++) commit(store, 'g', 't', 0, 100 + i, T0 + i * 1000);
    const expected = [19, 20, 21, 22].map((i) => ({ offset: 100 + i, timestamp: T0 + i * 1000 }));
    expect(store.commits('g')?.get('t')?.get(0)).toEqual(expected);
    expect(packedWindow(store, 'g', 't', 0)).toEqual(expected);
    // one ring block for the points older than the two newest, however often it wrapped
    expect(store.storage()).toEqual({ slots: 1, freeSlots: 0, blocks: 1, freeBlocks: 0 });
  });

  it('replaces the newest point within minDistanceMs of its slot start, counted from the slot start, and ignores replays', () => {
    const store = createCommitStore({ windowSize: 3, minDistanceMs: 1000 });
    commit(store, 'g', 't', 0, 1, T0);
    commit(store, 'g', 't', 0, 2, T0 + 600);
    commit(store, 'g', 't', 0, 3, T0 + 999); // still the slot that began at T0
    expect(packedWindow(store, 'g', 't', 0)).toEqual([{ offset: 3, timestamp: T0 + 999 }]);
    commit(store, 'g', 't', 0, 4, T0 + 1000); // a new slot
    commit(store, 'g', 't', 0, 0, T0 + 500); // older than the newest point: a replay
    commit(store, 'g', 't', 0, 5, T0 + 1900); // same slot as T0 + 1000
    expect(packedWindow(store, 'g', 't', 0)).toEqual([
      { offset: 3, timestamp: T0 + 999 },
      { offset: 5, timestamp: T0 + 1900 },
    ]);
    // a replay of the very timestamp of the newest point is not older: it replaces it
    commit(store, 'g', 't', 0, 6, T0 + 1900);
    expect(packedWindow(store, 'g', 't', 0)?.at(-1)).toEqual({ offset: 6, timestamp: T0 + 1900 });
  });

  it('agrees with the plain model over random commits, deletes and replays on many partitions', () => {
    for (const [windowSize, minDistanceMs, seed] of [
      [2, 0, 1],
      [3, 1000, 2],
      [10, 1000, 3],
      [7, 250, 4],
    ] as const) {
      const rnd = random(seed);
      const store = createCommitStore({ windowSize, minDistanceMs });
      const model = new Model(windowSize, minDistanceMs);
      const clock = new Map<string, number>();
      for (let i = 0; i < 20_000; i++) {
        const group = `g${Math.floor(rnd() * 5)}`;
        const topic = rnd() < 0.5 ? 'a' : 'b';
        const partition = Math.floor(rnd() * 6);
        const key = `${group}|${topic}|${partition}`;
        if (rnd() < 0.03) {
          store.remove(group, topic, partition);
          model.remove(key);
          continue;
        }
        // time moves on by 0–1.5 s per commit, and now and then a commit from the past
        const now = (clock.get(key) ?? T0) + Math.floor(rnd() * 1500);
        clock.set(key, now);
        const timestamp = rnd() < 0.05 ? now - 5000 : now;
        const offset = Math.floor(rnd() * 1e6);
        commit(store, group, topic, partition, offset, timestamp);
        model.record(key, offset, timestamp);
      }
      expect(store.size()).toBe(model.keys().length);
      for (const key of model.keys()) {
        const [group, topic, partition] = key.split('|') as [string, string, string];
        expect(packedWindow(store, group, topic, Number(partition))).toEqual(model.window(key));
        expect(store.commits(group)?.get(topic)?.get(Number(partition))).toEqual(model.window(key));
      }
      // every slot in use or free, never both: no slot leaked; windows of two points need no ring block
      const { slots, freeSlots, blocks } = store.storage();
      expect(slots - freeSlots).toBe(store.size());
      if (windowSize === 2) expect(blocks).toBe(0);
    }
  });

  it('remove frees the slot and its ring block; a new partition reuses them and starts with an empty window', () => {
    const store = createCommitStore({ windowSize: 3, minDistanceMs: 0 });
    for (let i = 0; i < 5; i++) commit(store, 'g', 't', 0, 10 + i, T0 + i);
    commit(store, 'g', 't', 1, 7, T0);
    expect(store.storage()).toEqual({ slots: 2, freeSlots: 0, blocks: 1, freeBlocks: 0 });
    store.apply({ type: 'delete', group: 'g', topic: 't', partition: 0 });
    expect(store.storage()).toEqual({ slots: 2, freeSlots: 1, blocks: 1, freeBlocks: 1 });
    expect(store.size()).toBe(1);
    expect(packedWindow(store, 'g', 't', 0)).toBeUndefined();
    expect(store.commits('g')?.get('t')?.has(0)).toBe(false);
    store.remove('g', 't', 0); // again: nothing to do
    store.remove('nobody', 't', 0);
    expect(store.size()).toBe(1);

    // another group takes the freed slot: one point, none of the old partition's
    commit(store, 'h', 'u', 3, 99, T0 + 100);
    expect(store.storage()).toEqual({ slots: 2, freeSlots: 0, blocks: 1, freeBlocks: 1 });
    expect(packedWindow(store, 'h', 'u', 3)).toEqual([{ offset: 99, timestamp: T0 + 100 }]);
    commit(store, 'h', 'u', 3, 100, T0 + 200); // two points fit in the slot
    expect(store.storage()).toEqual({ slots: 2, freeSlots: 0, blocks: 1, freeBlocks: 1 });
    commit(store, 'h', 'u', 3, 101, T0 + 300); // its third point takes the freed block
    expect(store.storage()).toEqual({ slots: 2, freeSlots: 0, blocks: 1, freeBlocks: 0 });
    expect(packedWindow(store, 'h', 'u', 3)).toEqual([
      { offset: 99, timestamp: T0 + 100 },
      { offset: 100, timestamp: T0 + 200 },
      { offset: 101, timestamp: T0 + 300 },
    ]);
    // the last partition of a group gone: the group is gone
    store.remove('g', 't', 1);
    expect([...store.groups()]).toEqual(['h']);
    expect(store.commits('g')).toBeUndefined();
    expect(store.windows('g')).toBeUndefined();
  });

  it('retainGroups frees every slot of the groups it drops, and they are reused', () => {
    const store = createCommitStore({ windowSize: 4, minDistanceMs: 0 });
    for (const group of ['a', 'b', 'c']) for (let p = 0; p < 10; p++) for (let i = 0; i < 3; i++) store.record(group, 't', p, { offset: i, timestamp: T0 + i });
    expect(store.storage()).toEqual({ slots: 30, freeSlots: 0, blocks: 30, freeBlocks: 0 });
    store.retainGroups(new Set(['b']));
    expect([...store.groups()]).toEqual(['b']);
    expect(store.size()).toBe(10);
    expect(store.storage()).toEqual({ slots: 30, freeSlots: 20, blocks: 30, freeBlocks: 20 });
    for (let p = 0; p < 20; p++) store.record('d', 'x', p, { offset: p, timestamp: T0 });
    expect(store.storage().slots).toBe(30);
    expect(store.storage().freeSlots).toBe(0);
    for (let p = 0; p < 20; p++) expect(packedWindow(store, 'd', 'x', p)).toEqual([{ offset: p, timestamp: T0 }]);
    expect(packedWindow(store, 'b', 't', 9)).toEqual([0, 1, 2].map((i) => ({ offset: i, timestamp: T0 + i })));
  });

  it('holds partitions past one chunk of its columns, offsets beyond 2^32 and their topics', () => {
    const store = createCommitStore({ windowSize: 3, minDistanceMs: 0 });
    const big = 2 ** 40 + 7;
    for (let g = 0; g < 1000; g++) for (let p = 0; p < 10; p++) store.record(`g${g}`, 'orders', p, { offset: big + g * 10 + p, timestamp: T0 + g });
    for (let p = 0; p < 10; p++) store.record('g999', 'orders', p, { offset: big + 1, timestamp: T0 + 5000 });
    expect(store.size()).toBe(10_000);
    expect(packedWindow(store, 'g0', 'orders', 0)).toEqual([{ offset: big, timestamp: T0 }]);
    expect(packedWindow(store, 'g512', 'orders', 7)).toEqual([{ offset: big + 5127, timestamp: T0 + 512 }]);
    expect(packedWindow(store, 'g999', 'orders', 9)).toEqual([
      { offset: big + 9999, timestamp: T0 + 999 },
      { offset: big + 1, timestamp: T0 + 5000 },
    ]);
    expect([...store.windows('g5')!.topics()]).toEqual(['orders']);
    expect(store.windows('g5')!.read('payments', 0, new Float64Array(3), new Float64Array(3))).toBe(0);
    expect(store.windows('g5')!.read('orders', 10, new Float64Array(3), new Float64Array(3))).toBe(0);
  });
});
