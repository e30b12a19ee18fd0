/** Test doubles for the alert tests: a manual clock and a scripted sink. */
import { SinkError, type AlertSink, type Clock, type Notification, type Signal, type Status } from '../../../src/protocol';

interface Waiter {
  at: number;
  resolve(): void;
}

/** Time moves only when the test calls `advance`; sleeps resolve in order as it passes them. */
export class FakeClock implements Clock {
  private waiters: Waiter[] = [];
  constructor(private t = Date.UTC(2024, 10, 28, 12, 0, 0)) {}

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new Error('aborted'));
      const waiter: Waiter = {
        at: this.t + Math.max(0, ms),
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Moves time forward by `ms`, waking sleepers in order and letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      await flush();
      const next = this.waiters.filter((w) => w.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.waiters = this.waiters.filter((w) => w !== next);
      this.t = Math.max(this.t, next.at);
      next.resolve();
    }
    this.t = target;
    await flush();
  }

  pendingSleeps(): number {
    return this.waiters.length;
  }
}

export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

export type Behaviour = 'ok' | 'fail' | 'reject' | 'hang' | { status: 429; retryAfterMs: number };

/** A sink whose answers follow a script (then `fallback`); records every call. */
export class ScriptedSink implements AlertSink {
  readonly type = 'webhook' as const;
  readonly calls: Array<{ dedupKey: string; at: number }> = [];
  readonly delivered: Notification[] = [];
  script: Behaviour[] = [];
  fallback: Behaviour = 'ok';

  constructor(
    readonly name: string,
    private readonly clock: Clock,
  ) {}

  async deliver(notification: Notification, signal: AbortSignal): Promise<void> {
    this.calls.push({ dedupKey: notification.dedupKey, at: this.clock.now() });
    const behaviour = this.script.shift() ?? this.fallback;
    if (behaviour === 'ok') {
      this.delivered.push(notification);
      return;
    }
    if (behaviour === 'fail') throw new SinkError(`HTTP 503 from ${this.name}`, true);
    if (behaviour === 'reject') throw new SinkError(`HTTP 400 from ${this.name}`, false);
    if (behaviour === 'hang') {
      await new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
      return;
    }
    throw new SinkError(`HTTP 429 from ${this.name}`, true, behaviour.retryAfterMs);
  }
}

export function note(dedupKey: string, overrides: Partial<Notification> = {}): Notification {
  return {
    dedupKey,
    kind: 'firing',
    rule: 'test_rule',
    severity: 'critical',
    title: `alert ${dedupKey}`,
    text: 'something is wrong',
    labels: { alertname: 'test_rule' },
    annotations: {},
    startsAt: 0,
    items: [],
    ...overrides,
  };
}

/** A delta_freshness signal of `check` observed now: ok is 60 s old, anything else 9,000 s (threshold 7,200). */
export function freshnessSignal(clock: Clock, check: string, status: Status, extra: Partial<Signal> = {}): Signal {
  return {
    check,
    kind: 'delta_freshness',
    target: `s3://delta-lake/${check}`,
    labels: { layer: check.split('_')[0]! },
    status,
    value: status === 'ok' ? 60 : 9000,
    unit: 'seconds',
    threshold: 7200,
    observedAt: clock.now(),
    durationMs: 5,
    summary: `${check} observed`,
    ...extra,
  };
}
