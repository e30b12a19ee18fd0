/**
 * Issue 13 item 2: SIGTERM always wins. The shutdown controller with an injected timer and
 * exit function: the hard timer is armed at the first signal and nothing clears it; a second
 * signal exits at once; a finished stop exits without waiting for the event loop to drain.
 */
import { createShutdownController, type ShutdownTimers } from '../../../src/shutdown';
import { recordingLogger } from '../../helpers/recording-logger';

function manualTimers(): ShutdownTimers & { pending: Array<{ ms: number; fn: () => void }>; fire(ms: number): void } {
  const pending: Array<{ ms: number; fn: () => void }> = [];
  return {
    pending,
    setTimer: (fn, ms) => void pending.push({ fn, ms }),
    fire(ms) {
      for (const t of pending.filter((p) => p.ms === ms)) t.fn();
    },
  };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i += 1) await new Promise((r) => setImmediate(r));
};

describe('shutdown controller', () => {
  it('a stop that never ends: the hard timer armed at the first signal exits with 1', async () => {
    const timers = manualTimers();
    const exits: number[] = [];
    const logger = recordingLogger();
    const c = createShutdownController({ stop: () => new Promise<void>(() => undefined), logger, exit: (code) => exits.push(code), timers, hardMs: 9_000 });
    c.onSignal('SIGTERM');
    // armed synchronously, before the stop ran a single step
    expect(timers.pending.map((t) => t.ms)).toEqual([9_000]);
    await flush();
    expect(exits).toEqual([]);
    timers.fire(9_000);
    expect(exits).toEqual([1]);
    expect(logger.lines.some((l) => l.level === 'error' && l.msg.includes('did not finish within 9000 ms'))).toBe(true);
  });

  it('a second signal exits at once', async () => {
    const timers = manualTimers();
    const exits: number[] = [];
    const c = createShutdownController({ stop: () => new Promise<void>(() => undefined), logger: recordingLogger(), exit: (code) => exits.push(code), timers });
    c.onSignal('SIGTERM');
    await flush();
    c.onSignal('SIGINT');
    expect(exits).toEqual([1]);
  });

  it('a finished stop exits (0) after the linger, and the hard timer is never cleared; exit happens once', async () => {
    const timers = manualTimers();
    const exits: number[] = [];
    const c = createShutdownController({ stop: async () => undefined, logger: recordingLogger(), exit: (code) => exits.push(code), timers, hardMs: 9_000, lingerMs: 100 });
    c.onSignal('SIGTERM');
    expect(await c.stopped).toBe(0);
    expect(timers.pending.map((t) => t.ms)).toEqual([9_000, 100]);
    timers.fire(100);
    expect(exits).toEqual([0]);
    timers.fire(9_000); // still armed; the process has exited by then, and exit runs once
    expect(exits).toEqual([0]);
  });

  it('a failed stop exits with 1', async () => {
    const timers = manualTimers();
    const exits: number[] = [];
    const c = createShutdownController({ stop: async () => Promise.reject(new Error('boom')), logger: recordingLogger(), exit: (code) => exits.push(code), timers, lingerMs: 100 });
    c.onSignal('SIGTERM');
    expect(await c.stopped).toBe(1);
    timers.fire(100);
    expect(exits).toEqual([1]);
  });

  it('arms the backstop (hard bound + margin) before the first stop step runs', async () => {
    const timers = manualTimers();
    const order: string[] = [];
    let release: () => void = () => undefined;
    const c = createShutdownController({
      stop: async () => void order.push('stop'),
      logger: recordingLogger(),
      exit: () => undefined,
      timers,
      hardMs: 9_000,
      backstopMs: 500,
      armBackstop: (ms) => {
        order.push(`backstop ${ms}`);
        return new Promise<void>((r) => (release = r));
      },
    });
    c.onSignal('SIGTERM');
    await flush();
    expect(order).toEqual(['backstop 9500']);
    release();
    expect(await c.stopped).toBe(0);
    expect(order).toEqual(['backstop 9500', 'stop']);
  });

  it('a backstop thread that never comes up delays the stop by at most its start wait', async () => {
    const timers = manualTimers();
    let stopped = false;
    const c = createShutdownController({
      stop: async () => void (stopped = true),
      logger: recordingLogger(),
      exit: () => undefined,
      timers,
      armBackstop: () => new Promise<void>(() => undefined),
    });
    c.onSignal('SIGTERM');
    await flush();
    expect(stopped).toBe(false);
    timers.fire(1_000);
    expect(await c.stopped).toBe(0);
    expect(stopped).toBe(true);
  });
});
