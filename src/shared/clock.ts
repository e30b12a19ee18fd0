/** The real time source (`Clock` is in src/protocol/clock.ts); tests inject a fake one. */
import type { Clock } from '../protocol';

/** The longest delay one Node.js timer holds (beyond it Node fires after 1 ms); longer sleeps are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      const until = Date.now() + ms;
      let timer: ReturnType<typeof setTimeout>;
      const arm = (left: number): void => {
        timer = setTimeout(
          () => {
            const rest = until - Date.now();
            if (rest > 0 && left > MAX_TIMER_MS) return arm(rest);
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
          Math.min(Math.max(0, left), MAX_TIMER_MS),
        );
      };
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(abortError(signal));
      };
      arm(ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const err = new Error('aborted');
  err.name = 'AbortError';
  return err;
}
