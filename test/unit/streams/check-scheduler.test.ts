import { Subject, defer, firstValueFrom, toArray, take } from 'rxjs';
import { createSignals$, runOnce, CHECK_WIDE_TARGET } from '../../../streams/check-scheduler';
import type { CheckProbe, ProbeContext, Signal } from '../../../src/protocol';
import { systemClock } from '../../../src/shared/clock';

function okSignal(name: string, target = 't', value = 1): Signal {
  return { check: name, kind: 'kafka_cluster', target, labels: {}, status: 'ok', value, observedAt: 0, durationMs: 0, summary: 'fine' };
}

function probe(name: string, impl: (ctx: ProbeContext) => Promise<Signal[]>, intervalMs = 1000, timeoutMs = 500): CheckProbe {
  return { name, kind: 'kafka_cluster', intervalMs, timeoutMs, probe: impl };
}

describe('createSignals$', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('runs each probe at once, then on its own interval', async () => {
    const calls: Record<string, number[]> = { a: [], b: [] };
    const a = probe('a', async (ctx) => (calls.a!.push(ctx.now()), [okSignal('a')]), 1000);
    const b = probe('b', async (ctx) => (calls.b!.push(ctx.now()), [okSignal('b')]), 3000);
    const seen: Signal[] = [];
    const stop$ = new Subject<void>();
    const sub = createSignals$({ probes: [a, b], stop$ }).subscribe((s) => seen.push(s));
    await jest.advanceTimersByTimeAsync(0);
    expect(calls.a).toEqual([1_000_000]);
    expect(calls.b).toEqual([1_000_000]);
    await jest.advanceTimersByTimeAsync(3000);
    expect(calls.a).toHaveLength(4);
    expect(calls.b).toHaveLength(2);
    expect(seen.filter((s) => s.check === 'a')).toHaveLength(4);
    expect(seen.every((s) => s.status === 'ok')).toBe(true);
    stop$.next();
    await jest.advanceTimersByTimeAsync(5000);
    expect(calls.a).toHaveLength(4);
    expect(sub.closed).toBe(true);
  });

  it('subscribes a cold kicks$ once for all probes, not once per probe or per wait (issue 13 item 15)', async () => {
    let subscriptions = 0;
    const source = new Subject<string>();
    const kicks$ = defer(() => {
      subscriptions += 1;
      return source;
    });
    const names = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'];
    const calls: Record<string, number> = {};
    const probes = names.map((n) => probe(n, async () => ((calls[n] = (calls[n] ?? 0) + 1), [okSignal(n)]), 1000));
    const stop$ = new Subject<void>();
    createSignals$({ probes, kicks$, stop$ }).subscribe();
    await jest.advanceTimersByTimeAsync(5_500); // six runs of each probe, six waits each
    expect(subscriptions).toBe(1);
    // kicks still reach the probe they name
    const before = calls.k3!;
    source.next('k3');
    await jest.advanceTimersByTimeAsync(0);
    expect(calls.k3).toBe(before + 1);
    expect(calls.k4).toBe(6);
    stop$.next();
    expect(source.observed).toBe(false);
  });

  it('runs a probe at once when kicked, and confirms a worsening status with quick reruns', async () => {
    const times: number[] = [];
    let status: Signal['status'] = 'ok';
    const p = probe('kafka', async (ctx) => (times.push(ctx.now()), [{ ...okSignal('kafka'), status }]), 15_000, 500);
    const kicks$ = new Subject<string>();
    const seen: Signal[] = [];
    const sub = createSignals$({ probes: [p], kicks$ }).subscribe((s) => seen.push(s));
    await jest.advanceTimersByTimeAsync(0);
    expect(times).toEqual([1_000_000]);
    await jest.advanceTimersByTimeAsync(4_000);
    status = 'crit';
    kicks$.next('other-check'); // not ours
    await jest.advanceTimersByTimeAsync(0);
    expect(times).toHaveLength(1);
    kicks$.next('kafka');
    await jest.advanceTimersByTimeAsync(0);
    expect(times).toEqual([1_000_000, 1_004_000]);
    // worse than before: two confirmation runs one second apart, then back to the interval
    await jest.advanceTimersByTimeAsync(2_000);
    expect(times).toEqual([1_000_000, 1_004_000, 1_005_000, 1_006_000]);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(times).toHaveLength(4);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(times).toEqual([1_000_000, 1_004_000, 1_005_000, 1_006_000, 1_021_000]);
    expect(seen.map((s) => s.status)).toEqual(['ok', 'crit', 'crit', 'crit', 'crit']);
    sub.unsubscribe();
  });

  it('never overlaps runs of the same probe', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const slow = probe(
      'slow',
      async () => {
        running += 1;
        runs += 1;
        maxRunning = Math.max(maxRunning, running);
        await systemClock.sleep(2500);
        running -= 1;
        return [okSignal('slow')];
      },
      1000,
      10_000,
    );
    const sub = createSignals$({ probes: [slow] }).subscribe();
    await jest.advanceTimersByTimeAsync(6000);
    sub.unsubscribe();
    expect(maxRunning).toBe(1);
    // runs start at 0, then at the first tick after each 2.5 s run ends: 3000, 6000
    expect(runs).toBe(3);
  });

  it('turns a timeout into unknown with SUP_ERR_PROBE_TIMEOUT and aborts the probe', async () => {
    let abortedWith: unknown;
    const hang = probe(
      'hang',
      (ctx) =>
        new Promise<Signal[]>((_, reject) => {
          ctx.signal.addEventListener('abort', () => {
            abortedWith = ctx.signal.reason;
            reject(new Error('aborted by scheduler'));
          });
        }),
      1000,
      300,
    );
    const seen: Signal[] = [];
    const sub = createSignals$({ probes: [hang] }).subscribe((s) => seen.push(s));
    await jest.advanceTimersByTimeAsync(300);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ check: 'hang', target: CHECK_WIDE_TARGET, status: 'unknown', durationMs: 300 });
    expect(seen[0]!.error?.code).toBe('SUP_ERR_PROBE_TIMEOUT');
    expect(seen[0]!.error?.message).toContain('300 ms');
    expect(abortedWith).toBeInstanceOf(Error);
    // the stream lives on: the next tick runs again
    await jest.advanceTimersByTimeAsync(1000);
    expect(seen).toHaveLength(2);
    sub.unsubscribe();
  });

  it('turns exceptions (async, sync, empty answers) into unknown and keeps going', async () => {
    let n = 0;
    const flaky = probe('flaky', async () => {
      n += 1;
      if (n === 1) throw new Error('broker exploded');
      if (n === 2) return [];
      return [okSignal('flaky')];
    });
    const syncThrow: CheckProbe = {
      ...probe('sync', async () => []),
      probe: () => {
        throw new TypeError('not even a promise');
      },
    };
    const seen: Signal[] = [];
    const sub = createSignals$({ probes: [flaky, syncThrow] }).subscribe({ next: (s) => seen.push(s), error: () => fail('errored') });
    await jest.advanceTimersByTimeAsync(2000);
    sub.unsubscribe();
    const flakySignals = seen.filter((s) => s.check === 'flaky');
    expect(flakySignals.map((s) => s.status)).toEqual(['unknown', 'unknown', 'ok']);
    expect(flakySignals[0]!.error).toEqual({ code: 'SUP_ERR_PROBE_FAILED', message: 'broker exploded' });
    expect(flakySignals[1]!.error?.message).toContain('returned no signal');
    const syncSignals = seen.filter((s) => s.check === 'sync');
    expect(syncSignals).toHaveLength(3);
    expect(syncSignals[0]!.error).toEqual({ code: 'SUP_ERR_PROBE_FAILED', message: 'not even a promise' });
  });

  it('stamps observedAt and durationMs of the run on every signal', async () => {
    const multi = probe('multi', async () => {
      await systemClock.sleep(120);
      return [okSignal('x', 'g1'), okSignal('y', 'g2')];
    });
    const signals = firstValueFrom(createSignals$({ probes: [multi] }).pipe(take(2), toArray()));
    await jest.advanceTimersByTimeAsync(200);
    const [s1, s2] = await signals;
    expect(s1).toMatchObject({ check: 'multi', target: 'g1', observedAt: 1_000_120, durationMs: 120 });
    expect(s2).toMatchObject({ check: 'multi', target: 'g2', observedAt: 1_000_120, durationMs: 120 });
  });

  it('rejects a probe with an invalid interval up front', () => {
    expect(() => createSignals$({ probes: [probe('bad', async () => [], 0)] })).toThrow(/bad: interval must be a positive duration/);
  });
});

describe('runOnce', () => {
  beforeEach(() => jest.useFakeTimers({ now: 5_000 }));
  afterEach(() => jest.useRealTimers());

  it('returns the signals of one run', async () => {
    const p = probe('once', async () => [okSignal('once')]);
    await expect(runOnce(p)).resolves.toMatchObject([{ check: 'once', status: 'ok', observedAt: 5_000 }]);
  });

  it('honours an outside abort and a timeout override', async () => {
    const hang = probe('hang', (ctx) => new Promise<Signal[]>((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('x')))), 1000, 60_000);
    const outside = new AbortController();
    const cancelled = runOnce(hang, { signal: outside.signal });
    outside.abort(new Error('task cancelled'));
    const [c] = await cancelled;
    expect(c).toMatchObject({ status: 'unknown', error: { code: 'SUP_ERR_PROBE_FAILED' } });
    expect(c!.error!.message).toContain('task cancelled');

    const timed = runOnce(hang, { timeoutMs: 50 });
    await jest.advanceTimersByTimeAsync(50);
    const [t] = await timed;
    expect(t).toMatchObject({ status: 'unknown', error: { code: 'SUP_ERR_PROBE_TIMEOUT' } });
  });
});
