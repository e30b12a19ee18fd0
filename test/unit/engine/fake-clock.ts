import type { Clock } from '../../../src/protocol';

/** A Clock whose time only moves when the test advances it; sleepers wake in time order. */
export interface FakeClock extends Clock {
  /** Moves time forward by `ms`, waking every sleeper due on the way (in order). */
  advance(ms: number): Promise<void>;
  /** Lets pending promise callbacks run without moving time. */
  flush(): Promise<void>;
  pending(): number;
  /** Every duration passed to sleep(), in order. */
  readonly sleeps: number[];
  set(now: number): void;
}

export function createFakeClock(start = Date.UTC(2025, 9, 5, 0, 0, 0)): FakeClock {
  let now = start;
  let seq = 0;
  const sleeps: number[] = [];
  const sleepers: Array<{ at: number; seq: number; resolve: () => void }> = [];
  const flush = async (): Promise<void> => {
    for (let i = 0; i < 5; i += 1) await new Promise<void>((r) => setImmediate(r));
  };
  return {
    now: () => now,
    sleep(ms, signal) {
      sleeps.push(ms);
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        const entry = {
          at: now + Math.max(0, ms),
          seq: (seq += 1),
          resolve: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        const onAbort = (): void => {
          const i = sleepers.indexOf(entry);
          if (i >= 0) sleepers.splice(i, 1);
          reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        sleepers.push(entry);
      });
    },
    async advance(ms) {
      const target = now + ms;
      await flush();
      for (;;) {
        sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq);
        const next = sleepers[0];
        if (!next || next.at > target) break;
        sleepers.shift();
        now = Math.max(now, next.at);
        next.resolve();
        await flush();
      }
      now = target;
      await flush();
    },
    flush,
    pending: () => sleepers.length,
    sleeps,
    set(t) {
      now = t;
    },
  };
}
