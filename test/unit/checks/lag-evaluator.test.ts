import { burrowStatus, evaluatePartition, groupLagStatus, windowLags } from '../../../checks/lag-evaluator';
import { addOffsetPoint, estimateLagSeconds, offsetAt, timeAt, type OffsetPoint } from '../../../checks/lag-interpolation';
import { createCommitStore } from '../../../checks/lag-commit-store';
import type { CommitPoint } from '../../../src/protocol';

const T0 = 1_700_000_000_000;
const s = (sec: number): number => T0 + sec * 1000;
/** A recorded window: [offset, seconds after T0] per commit. */
const win = (...pts: Array<[number, number]>): CommitPoint[] => pts.map(([offset, sec]) => ({ offset, timestamp: s(sec) }));
/** End offsets produced at a steady 10 msg/s from offset 1000 at T0, read every 10 s for 2 min. */
const steadyHistory = (): OffsetPoint[] => {
  const t: OffsetPoint[] = [];
  for (let sec = 0; sec <= 120; sec += 10) addOffsetPoint(t, { offset: 1000 + sec * 10, time: s(sec) });
  return t;
};

describe('end-offset table (time-lag interpolation)', () => {
  it('interpolates the time the end offset passed a committed offset', () => {
    const t = steadyHistory();
    expect(timeAt(t, 1000)).toBe(s(0));
    expect(timeAt(t, 1555)).toBe(s(55.5));
    expect(offsetAt(t, s(55.5))).toBe(1555);
    // committed 1555 at now=120 s → 64.5 s behind
    expect(estimateLagSeconds(t, 1555, s(120))).toBeCloseTo(64.5, 6);
    // caught up
    expect(estimateLagSeconds(t, 2200, s(120))).toBe(0);
    expect(estimateLagSeconds(t, 9999, s(120))).toBe(0);
  });

  it('extrapolates at the average rate when the commit is older than the table', () => {
    const t = steadyHistory();
    // 500 messages before the first point at 10 msg/s → produced 50 s before T0
    expect(timeAt(t, 500)).toBe(s(-50));
    expect(estimateLagSeconds(t, 500, s(120))).toBeCloseTo(170, 6);
  });

  it('answers null without enough history, never a made-up zero', () => {
    expect(estimateLagSeconds([], 5, s(0))).toBeNull();
    expect(estimateLagSeconds([{ offset: 100, time: s(0) }], 50, s(10))).toBeNull();
    expect(estimateLagSeconds(steadyHistory(), null, s(10))).toBeNull();
  });

  it('keeps flat runs as two points and measures from the last time the end was below', () => {
    const t: OffsetPoint[] = [];
    addOffsetPoint(t, { offset: 100, time: s(0) });
    addOffsetPoint(t, { offset: 200, time: s(10) });
    for (let sec = 20; sec <= 300; sec += 10) addOffsetPoint(t, { offset: 200, time: s(sec) });
    addOffsetPoint(t, { offset: 300, time: s(310) });
    expect(t).toEqual([
      { offset: 100, time: s(0) },
      { offset: 200, time: s(10) },
      { offset: 200, time: s(300) },
      { offset: 300, time: s(310) },
    ]);
    // message 200 was produced after 300 s (end stayed at 200 until then)
    expect(timeAt(t, 200)).toBe(s(300));
    expect(timeAt(t, 150)).toBe(s(5));
    expect(estimateLagSeconds(t, 250, s(320))).toBeCloseTo(15, 6);
  });

  it('restarts when the end offset goes backwards and bounds its size', () => {
    const t = steadyHistory();
    addOffsetPoint(t, { offset: 5, time: s(130) });
    expect(t).toEqual([{ offset: 5, time: s(130) }]);
    const small: OffsetPoint[] = [];
    for (let i = 0; i < 10; i += 1) addOffsetPoint(small, { offset: i * 10, time: s(i) }, 4);
    expect(small.map((p) => p.offset)).toEqual([60, 70, 80, 90]);
    // a point older than the newest is ignored
    addOffsetPoint(small, { offset: 1000, time: s(1) }, 4);
    expect(small).toHaveLength(4);
  });
});

describe('Burrow rules', () => {
  const now = s(120);
  const history = steadyHistory(); // end = 2200 at 120 s

  it('OK when the consumer keeps up (lag shrinks or hits zero)', () => {
    const w = win([1090, 10], [1195, 20], [1300, 30], [1400, 40], [1500, 50], [1600, 60], [1700, 70], [1800, 80], [1900, 90], [2000, 100], [2100, 110]);
    const p = evaluatePartition({ topic: 't', partition: 0, window: w, endOffset: 2200, endHistory: history }, now);
    expect(p).toMatchObject({ committedOffset: 2100, endOffset: 2200, lag: 100, status: 'OK' });
    expect(p.lagSeconds).toBeCloseTo(10, 6);
  });

  it('OK when any commit in the window had zero lag', () => {
    const w = win([1100, 10], [1100, 20], [1100, 30]);
    expect(burrowStatus(w, [0, 100, 200], 300, s(31))).toBe('OK');
  });

  it('STALL when the offset never moves while the end offset does', () => {
    const w = win([1050, 60], [1050, 70], [1050, 80], [1050, 90], [1050, 100], [1050, 110], [1050, 118]);
    expect(windowLags(w, history, 2200)).toEqual([550, 650, 750, 850, 950, 1050, 1130]);
    const p = evaluatePartition({ topic: 't', partition: 0, window: w, endOffset: 2200, endHistory: history }, now);
    expect(p.status).toBe('STALL');
    expect(p.lag).toBe(1150);
    expect(p.lagSeconds).toBeCloseTo(115, 6);
  });

  it('WARN when the offset moves but the lag never shrinks', () => {
    const w = win([1010, 10], [1050, 20], [1090, 30], [1130, 40], [1170, 50], [1210, 60], [1250, 70], [1290, 80], [1330, 90], [1370, 100], [1410, 115]);
    expect(evaluatePartition({ topic: 't', partition: 0, window: w, endOffset: 2200, endHistory: history }, now).status).toBe('WARN');
  });

  it('STOP when the last commit is older than the window is long', () => {
    const w = win([1000, 10], [1100, 20], [1200, 30]);
    // window spans 20 s; the last commit was 90 s ago
    expect(evaluatePartition({ topic: 't', partition: 0, window: w, endOffset: 2200, endHistory: history }, now).status).toBe('STOP');
  });

  it('REWIND when the committed offset went backwards', () => {
    const w = win([1500, 90], [1600, 100], [1200, 110], [1250, 115]);
    expect(evaluatePartition({ topic: 't', partition: 0, window: w, endOffset: 2200, endHistory: history }, now).status).toBe('REWIND');
  });

  it('ERR when the committed offset is beyond the end offset', () => {
    const p = evaluatePartition({ topic: 't', partition: 0, window: win([5000, 100]), endOffset: 2200, endHistory: history }, now);
    expect(p).toMatchObject({ status: 'ERR', lag: null });
  });

  it('NOTFOUND with lag null when the group never committed', () => {
    const p = evaluatePartition({ topic: 't', partition: 3, window: [], endOffset: 2200, endHistory: history }, now);
    expect(p).toEqual({ topic: 't', partition: 3, committedOffset: null, endOffset: 2200, lag: null, lagSeconds: null, status: 'NOTFOUND' });
  });

  it('a lone commit is OK until stopAfterMs, then STOP', () => {
    expect(burrowStatus(win([100, 100]), [50], 50, s(120), { stopAfterMs: 60_000 })).toBe('OK');
    expect(burrowStatus(win([100, 100]), [50], 50, s(200), { stopAfterMs: 60_000 })).toBe('STOP');
  });

  it('the worst partition decides the group', () => {
    expect(groupLagStatus([{ status: 'OK' }, { status: 'WARN' }, { status: 'NOTFOUND' }])).toBe('WARN');
    expect(groupLagStatus([{ status: 'OK' }, { status: 'STALL' }, { status: 'REWIND' }])).toBe('STALL');
    expect(groupLagStatus([{ status: 'STOP' }, { status: 'ERR' }])).toBe('ERR');
    expect(groupLagStatus([{ status: 'OK' }, { status: 'NOTFOUND' }])).toBe('OK');
    expect(groupLagStatus([{ status: 'NOTFOUND' }, { status: 'NOTFOUND' }])).toBe('NOTFOUND');
    expect(groupLagStatus([])).toBe('NOTFOUND');
  });
});

describe('commit store', () => {
  it('keeps a bounded window per partition and folds close commits into one slot', () => {
    const store = createCommitStore({ windowSize: 3, minDistanceMs: 1000 });
    const commit = (offset: number, ms: number) =>
      store.apply({ type: 'commit', group: 'g', topic: 't', partition: 0, offset, leaderEpoch: null, metadata: '', commitTimestamp: T0 + ms, expireTimestamp: null });
    commit(1, 0);
    commit(2, 300);
    commit(3, 900); // same slot as the first → replaces it
    commit(4, 1000);
    commit(5, 2000);
    commit(6, 3000);
    commit(0, 2500); // older than newest: ignored
    expect(store.commits('g')?.get('t')?.get(0)).toEqual([
      { offset: 4, timestamp: T0 + 1000 },
      { offset: 5, timestamp: T0 + 2000 },
      { offset: 6, timestamp: T0 + 3000 },
    ]);
    expect([...store.groups()]).toEqual(['g']);
    expect(store.size()).toBe(1);
    store.apply({ type: 'delete', group: 'g', topic: 't', partition: 0 });
    expect(store.commits('g')).toBeUndefined();
    expect(store.size()).toBe(0);
    expect(store.state()).toBe('catching_up');
    store.apply({ type: 'state', state: 'live' });
    expect(store.state()).toBe('live');
  });

  it('retainGroups drops the others', () => {
    const store = createCommitStore();
    store.record('a', 't', 0, { offset: 1, timestamp: 1 });
    store.record('b', 't', 0, { offset: 1, timestamp: 1 });
    store.record('b', 't', 1, { offset: 1, timestamp: 1 });
    store.retainGroups(new Set(['a']));
    expect([...store.groups()]).toEqual(['a']);
    expect(store.size()).toBe(1);
  });
});
