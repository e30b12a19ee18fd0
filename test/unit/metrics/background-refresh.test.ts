/**
 * The registry's background refresh (FastRegistry.invalidate): after the state changed, a scrape
 * taken while the refresh is still rendering gets the last complete rendering, never a mix of
 * old and new lines within a metric; once the refresh committed, scrapes get the new state,
 * exactly as prom-client renders it. A scrape before any refresh started renders the new state
 * itself. close() stops refreshes.
 */
import { Registry } from 'prom-client';
import { FastRegistry, registerSnapshotGauge } from '../../../src/metrics/snapshot-gauge';

type Item = { id: number; value: number };

function gauges(registry: Registry, items: () => Item[]): void {
  registerSnapshotGauge<Item>(registry, { name: 'test_item_value', help: 'h', items, samples: (it) => [{ labels: { id: it.id }, value: it.value }] });
  registerSnapshotGauge<Item>(registry, { name: 'test_item_double', help: 'h', items, samples: (it) => [{ labels: { id: it.id }, value: it.value * 2 }] });
}

const state = (n: number, value: number): Item[] => Array.from({ length: n }, (_, id) => ({ id, value }));
const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('FastRegistry background refresh', () => {
  // enough items that a refresh takes many 8 ms slices even on a fast machine
  const N = 60_000;

  it('serves the last complete rendering while it renders, then the new state', async () => {
    let items = state(N, 1);
    const fast = new FastRegistry();
    const plain = new Registry();
    gauges(fast, () => items);
    gauges(plain, () => items);
    const before = await fast.metrics();
    expect(before).toBe(await plain.metrics());

    items = state(N, 2);
    fast.invalidate();
    await nextTurn(); // the refresh starts and renders its first slice
    expect(fast.lastRefreshStats()).toBeNull();
    const during = await fast.metrics();
    expect(during).toBe(before); // every line of the last complete rendering, none of the new

    while (fast.lastRefreshStats() === null) await nextTurn();
    expect(await fast.metrics()).toBe(await plain.metrics());
    expect(await fast.metrics()).toContain('test_item_double{id="7"} 4');
    fast.close();
  });

  it('renders the new state on a scrape that comes before the refresh started, and refreshes again when invalidated during a refresh', async () => {
    let items = state(N, 1);
    const fast = new FastRegistry();
    const plain = new Registry();
    gauges(fast, () => items);
    gauges(plain, () => items);
    await fast.metrics();
    items = state(N, 5);
    fast.invalidate();
    expect(await fast.metrics()).toBe(await plain.metrics()); // no turn of the event loop yet: rendered here

    items = state(N, 6);
    fast.invalidate();
    await nextTurn();
    items = state(N, 7); // changes again while the refresh renders
    fast.invalidate();
    let refreshes = 0;
    let last = fast.lastRefreshStats();
    for (let i = 0; i < 10_000 && refreshes < 2; i++) {
      await nextTurn();
      const now = fast.lastRefreshStats();
      if (now !== last) refreshes++;
      last = now;
    }
    expect(refreshes).toBe(2);
    expect(await fast.metrics()).toBe(await plain.metrics());
    expect(await fast.metrics()).toContain('test_item_value{id="3"} 7');
    fast.close();
  });

  it('does nothing after close', async () => {
    let items = state(10, 1);
    const fast = new FastRegistry();
    gauges(fast, () => items);
    await fast.metrics();
    fast.close();
    items = state(10, 3);
    fast.invalidate();
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(fast.lastRefreshStats()).toBeNull();
    expect(await fast.metrics()).toContain('test_item_value{id="1"} 3'); // scrapes still render on request
  });
});
