/** Injectable time source, so tests never sleep through real minutes. The real one is `systemClock` in src/shared/clock.ts. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms`, or rejects with an AbortError when `signal` fires. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
