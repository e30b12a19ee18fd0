/**
 * Delivers the durable outbox: every due entry goes to its sink, at least once. Each sink has
 * its own lane (one delivery at a time, oldest first), so a slow or failing sink never holds
 * up the others. Failures back off exponentially with jitter, per entry and per lane; a 429's
 * Retry-After is honoured exactly; non-retryable errors and exhausted attempts go to `dead`.
 * A store error (the outbox table cannot be read or written) never ends delivery: the pass is
 * retried with backoff, counted in `supervisor_alerts_outbox_errors_total` and logged.
 * The worker counts what happened (its OutboxFacts); src/metrics/outbox.ts exports them.
 */
import { closeSinks } from './sinks';
import {
  SinkError,
  type Component,
  type AlertSink,
  type Clock,
  type DeliveryCount,
  type DeliveryResult,
  type Logger,
  type Notification,
  type OutboxEntry,
  type OutboxErrorOperation,
  type OutboxFacts,
  type OutboxStore,
} from '../src/protocol';

export interface OutboxWorkerParams {
  outbox: OutboxStore;
  sinks: readonly AlertSink[];
  clock: Clock;
  logger: Logger;
  /** Attempts before an entry is declared dead (default 20: about an hour and a half with the default delays). */
  maxAttempts?: number;
  /** First retry delay (default 1 s); doubles per attempt. */
  baseDelayMs?: number;
  /** Longest retry delay (default 5 min). */
  maxDelayMs?: number;
  /** Longest Retry-After honoured (default 1 h). */
  maxRetryAfterMs?: number;
  /** Abort one delivery after this long (default 30 s); counts as a retryable failure. */
  deliveryTimeoutMs?: number;
  /** Entries taken per lane per pass (default 50). */
  batchSize?: number;
  /** How long stop() lets in-flight deliveries finish before aborting them (default 5 s). */
  closeGraceMs?: number;
  /** Delivered and dead entries are pruned after this long (default 7 days). */
  retentionMs?: number;
  /** Jitter source in [0, 1) (tests pass a constant). */
  random?: () => number;
  /** Close these sinks (their connections) at the end of stop(): the daemon hands them over; tests that reuse sinks leave it off. */
  closeSinksOnStop?: boolean;
}

/** Store operations whose failures the worker survives (label of supervisor_alerts_outbox_errors_total); declared with OutboxFacts. */
export type { OutboxErrorOperation } from '../src/protocol';

/** Its OutboxFacts (deliveries, store errors, pending entries) are what src/metrics/outbox.ts exports. */
/**
 * A lifecycle Component (src/protocol/lifecycle.ts) named `outbox`: start() begins the delivery
 * loop and returns at once; stop() is idempotent, lets in-flight deliveries finish for
 * `closeGraceMs`, aborts the rest (they stay pending) and never rejects.
 */
export interface OutboxWorker extends OutboxFacts, Component {
  readonly name: 'outbox';
  /** Look for due entries now (call after every enqueue). */
  wake(): void;
  /** Store errors survived so far, by operation (also in supervisor_alerts_outbox_errors_total). */
  errorCounts(): Readonly<Record<OutboxErrorOperation, number>>;
  /** Delivery attempts so far, by sink and result (also in supervisor_alert_notifications_total). */
  deliveryCounts(): DeliveryCount[];
  /** Entries waiting for delivery (supervisor_alert_outbox_pending); throws when the store is closed. */
  pendingCount(): number;
  start(): Promise<void>;
  /** Resolves when no lane is busy and nothing is due now (tests). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** Wraps an OutboxStore so every enqueue wakes the worker at once (no poll delay). */
export function wakeOnEnqueue(store: OutboxStore, wake: () => void): OutboxStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'enqueue') {
        return (notification: Notification, sinks: readonly string[], now: number): number[] => {
          const ids = target.enqueue(notification, sinks, now);
          if (ids.length > 0) wake();
          return ids;
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

interface Lane {
  sink: AlertSink;
  busy: Promise<void> | null;
  blockedUntil: number;
  consecutiveFailures: number;
}

const MAX_WAIT_MS = 30_000;
const STORE_RETRY_BASE_MS = 1_000;
const PRUNE_EVERY_MS = 3_600_000;

export function createOutboxWorker(params: OutboxWorkerParams): OutboxWorker {
  const { outbox, clock } = params;
  const logger = params.logger.child({ component: 'alerts', name: 'outbox' });
  const maxAttempts = params.maxAttempts ?? 20;
  const baseDelayMs = params.baseDelayMs ?? 1_000;
  const maxDelayMs = params.maxDelayMs ?? 300_000;
  const maxRetryAfterMs = params.maxRetryAfterMs ?? 3_600_000;
  const deliveryTimeoutMs = params.deliveryTimeoutMs ?? 30_000;
  const batchSize = params.batchSize ?? 50;
  const closeGraceMs = params.closeGraceMs ?? 5_000;
  const retentionMs = params.retentionMs ?? 7 * 86_400_000;
  const random = params.random ?? Math.random;

  const lanes = new Map<string, Lane>();
  for (const sink of params.sinks) {
    if (lanes.has(sink.name)) throw new Error(`outbox worker: two sinks are named "${sink.name}"`);
    lanes.set(sink.name, { sink, busy: null, blockedUntil: 0, consecutiveFailures: 0 });
  }

  const errorsByOperation: Record<OutboxErrorOperation, number> = { due: 0, next_due: 0, mark: 0, prune: 0, idle: 0, unknown_sinks: 0, loop: 0 };
  /** Delivery attempts by sink and result, in the order each pair first happened. */
  const deliveries = new Map<string, DeliveryCount>();
  function countDelivery(sink: string, result: DeliveryResult): void {
    const key = `${sink}\u0000${result}`;
    const entry = deliveries.get(key);
    if (entry) entry.count += 1;
    else deliveries.set(key, { sink, result, count: 1 });
  }

  let started = false;
  let closed = false;
  let closePromise: Promise<void> | null = null;
  let loop: Promise<void> | null = null;
  let woken = false;
  let sleepAbort = new AbortController();
  const deliveryAbort = new AbortController();
  let lastPruneAt = 0;
  const idleWaiters: Array<() => void> = [];
  /** A store error happened during the current pass. */
  let passFailed = false;
  /** Consecutive passes with a store error (drives the backoff; 0 when healthy). */
  let failedPasses = 0;
  let unknownSinksChecked = false;

  function storeError(operation: OutboxErrorOperation, err: unknown, sink?: string): void {
    passFailed = true;
    errorsByOperation[operation] += 1;
    logger.warn(
      { operation, ...(sink ? { sink } : {}), failedPasses: failedPasses + 1, err: (err as Error)?.message ?? String(err) },
      'outbox store error; delivery continues after a backoff',
    );
  }

  function wake(): void {
    woken = true;
    sleepAbort.abort();
  }

  function backoff(attempt: number): number {
    const exp = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(exp / 2 + (random() * exp) / 2);
  }

  async function attempt(lane: Lane, entry: OutboxEntry): Promise<boolean> {
    const { sink } = lane;
    const signal = AbortSignal.any([deliveryAbort.signal, AbortSignal.timeout(deliveryTimeoutMs)]);
    try {
      await sink.deliver(entry.notification, signal);
    } catch (err) {
      if (deliveryAbort.signal.aborted) return false; // shutting down: leave the entry pending, untouched
      const now = clock.now();
      const retryable = err instanceof SinkError ? err.retryable : true;
      const retryAfterMs = err instanceof SinkError ? err.retryAfterMs : undefined;
      const message = signal.aborted ? `delivery timed out after ${deliveryTimeoutMs} ms` : err instanceof Error ? err.message : String(err);
      const attempts = entry.attempts + 1;
      lane.consecutiveFailures += 1;
      if (!retryable || attempts >= maxAttempts) {
        outbox.markDead(entry.id, message);
        countDelivery(sink.name, 'dead');
        logger.error(
          { sink: sink.name, entry: entry.id, dedupKey: entry.dedupKey, attempts, code: retryable ? 'SUP_ERR_SINK_DELIVERY' : 'SUP_ERR_SINK_REJECTED', err: message },
          retryable ? `giving up on a notification after ${attempts} attempts` : 'a sink rejected a notification permanently',
        );
        return true;
      }
      const delay = retryAfterMs !== undefined ? Math.min(Math.max(0, retryAfterMs), maxRetryAfterMs) : backoff(attempts);
      outbox.markRetry(entry.id, now + delay, message);
      lane.blockedUntil = now + (retryAfterMs !== undefined ? delay : backoff(lane.consecutiveFailures));
      countDelivery(sink.name, 'retry');
      logger.warn({ sink: sink.name, entry: entry.id, attempts, retryInMs: delay, err: message }, 'notification delivery failed; will retry');
      return false;
    }
    outbox.markDelivered(entry.id, clock.now());
    lane.consecutiveFailures = 0;
    countDelivery(sink.name, 'delivered');
    logger.debug({ sink: sink.name, entry: entry.id, dedupKey: entry.dedupKey }, 'notification delivered');
    return true;
  }

  async function drain(lane: Lane, entries: OutboxEntry[]): Promise<void> {
    for (const entry of entries) {
      if (closed) return;
      let ok: boolean;
      try {
        ok = await attempt(lane, entry);
      } catch (err) {
        // recording the outcome failed (store error): the entry stays pending and is retried after a backoff
        storeError('mark', err, lane.sink.name);
        lane.consecutiveFailures += 1;
        lane.blockedUntil = clock.now() + backoff(lane.consecutiveFailures);
        return;
      }
      if (!ok) return; // the lane is backing off
    }
  }

  function dispatch(): void {
    const now = clock.now();
    for (const lane of lanes.values()) {
      if (lane.busy || lane.blockedUntil > now) continue;
      let entries: OutboxEntry[];
      try {
        entries = outbox.due(now, batchSize, lane.sink.name);
      } catch (err) {
        storeError('due', err, lane.sink.name);
        continue;
      }
      if (entries.length === 0) continue;
      lane.busy = drain(lane, entries)
        .catch((err: unknown) => logger.error({ sink: lane.sink.name, err: (err as Error).message }, 'outbox lane failed'))
        .finally(() => {
          lane.busy = null;
          wake();
        });
    }
    if (now - lastPruneAt >= PRUNE_EVERY_MS) {
      lastPruneAt = now;
      try {
        const pruned = outbox.prune(now - retentionMs);
        if (pruned > 0) logger.info({ pruned }, 'pruned old outbox entries');
      } catch (err) {
        storeError('prune', err);
        lastPruneAt = now - PRUNE_EVERY_MS + MAX_WAIT_MS; // try again in a while, not every pass
      }
    }
  }

  function nextWakeIn(): number {
    const now = clock.now();
    let next = now + MAX_WAIT_MS;
    for (const lane of lanes.values()) {
      if (lane.busy) continue;
      let due: number | null = null;
      try {
        due = outbox.nextDueAt(lane.sink.name);
      } catch (err) {
        storeError('next_due', err, lane.sink.name);
        due = null;
      }
      if (due === null) continue;
      next = Math.min(next, Math.max(due, lane.blockedUntil));
    }
    return Math.max(0, next - now);
  }

  /** Not idle while the store cannot say (idle() waiters keep waiting until it answers). */
  function isIdle(): boolean {
    const now = clock.now();
    for (const lane of lanes.values()) {
      if (lane.busy) return false;
      if (lane.blockedUntil > now) continue;
      let due: number | null;
      try {
        due = outbox.nextDueAt(lane.sink.name);
      } catch (err) {
        storeError('idle', err, lane.sink.name);
        return false;
      }
      if (due !== null && due <= now) return false;
    }
    return true;
  }

  async function sleep(ms: number): Promise<void> {
    sleepAbort = new AbortController();
    try {
      await clock.sleep(ms, sleepAbort.signal);
    } catch {
      // woken up or closing
    }
  }

  /** One pass: dispatch due entries, release idle() waiters; returns how long to wait before the next. */
  function pass(): number {
    if (!unknownSinksChecked) {
      try {
        markUnknownSinksDead();
        unknownSinksChecked = true;
      } catch (err) {
        storeError('unknown_sinks', err);
      }
    }
    dispatch();
    if (idleWaiters.length && isIdle()) idleWaiters.splice(0).forEach((resolve) => resolve());
    if (woken || closed) return 0;
    return nextWakeIn();
  }

  async function run(): Promise<void> {
    while (!closed) {
      woken = false;
      passFailed = false;
      let waitMs: number;
      try {
        waitMs = pass();
      } catch (err) {
        storeError('loop', err);
        waitMs = 0;
      }
      if (closed) break;
      if (passFailed) {
        failedPasses += 1;
        // back off from the store, not from the sinks: 1 s doubling to 30 s (an enqueue wakes it earlier)
        await sleep(Math.min(MAX_WAIT_MS, STORE_RETRY_BASE_MS * 2 ** Math.min(10, failedPasses - 1)));
        continue;
      }
      if (failedPasses > 0) {
        logger.info({ failedPasses }, 'outbox store answers again; delivery resumed');
        failedPasses = 0;
      }
      if (woken || waitMs === 0) continue;
      await sleep(waitMs);
    }
  }

  function markUnknownSinksDead(): void {
    const pending = outbox.list({ state: 'pending', limit: 10_000 });
    for (const entry of pending) {
      if (!lanes.has(entry.sink)) {
        outbox.markDead(entry.id, `sink "${entry.sink}" is not configured`);
        logger.warn({ sink: entry.sink, entry: entry.id }, 'outbox entry for a sink that is no longer configured marked dead');
      }
    }
  }

  return {
    name: 'outbox',
    wake,
    errorCounts() {
      return { ...errorsByOperation };
    },
    deliveryCounts() {
      return [...deliveries.values()].map((d) => ({ ...d }));
    },
    pendingCount() {
      return outbox.stats().pending;
    },
    start() {
      if (started || closed) return Promise.resolve();
      started = true;
      // the first pass marks entries of sinks no longer configured dead (retried until the store answers)
      loop = run();
      return Promise.resolve();
    },
    idle() {
      if (!started || closed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        wake();
      });
    },
    stop() {
      if (closePromise) return closePromise;
      closed = true;
      closePromise = (async () => {
        sleepAbort.abort();
        const inFlight = [...lanes.values()].map((l) => l.busy).filter((p): p is Promise<void> => p !== null);
        if (inFlight.length > 0) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            Promise.allSettled(inFlight),
            new Promise<void>((resolve) => {
              timer = setTimeout(resolve, closeGraceMs);
              timer.unref();
            }),
          ]);
          if (timer) clearTimeout(timer);
        }
        deliveryAbort.abort();
        await Promise.allSettled([...lanes.values()].map((l) => l.busy ?? Promise.resolve()));
        await loop?.catch(() => undefined);
        idleWaiters.splice(0).forEach((resolve) => resolve());
        if (params.closeSinksOnStop) {
          try {
            await closeSinks(params.sinks);
          } catch (err) {
            logger.error({ err: (err as Error)?.message ?? String(err) }, 'closing the sinks failed');
          }
        }
      })().catch((err: unknown) => logger.error({ err: (err as Error)?.message ?? String(err) }, 'stopping the outbox worker failed'));
      return closePromise;
    },
  };
}
