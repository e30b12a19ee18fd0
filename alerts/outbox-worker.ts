/**
 * Delivers the durable outbox: every due entry goes to its sink, at least once. Each sink has
 * its own lane (one delivery at a time, oldest first), so a slow or failing sink never holds
 * up the others. Failures back off exponentially with jitter, per entry and per lane; a 429's
 * Retry-After is honoured exactly; non-retryable errors and exhausted attempts go to `dead`.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { SinkError, type AlertSink, type Clock, type Logger, type Notification, type OutboxEntry, type OutboxStore } from '../src/protocol';

export interface OutboxWorkerParams {
  outbox: OutboxStore;
  sinks: readonly AlertSink[];
  clock: Clock;
  logger: Logger;
  registry?: Registry;
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
  /** How long close() lets in-flight deliveries finish before aborting them (default 5 s). */
  closeGraceMs?: number;
  /** Delivered and dead entries are pruned after this long (default 7 days). */
  retentionMs?: number;
  /** Jitter source in [0, 1) (tests pass a constant). */
  random?: () => number;
}

export interface OutboxWorker {
  /** Look for due entries now (call after every enqueue). */
  wake(): void;
  start(): void;
  /** Resolves when no lane is busy and nothing is due now (tests). */
  idle(): Promise<void>;
  close(): Promise<void>;
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

  let counter: Counter<'sink' | 'result'> | undefined;
  if (params.registry) {
    counter = new Counter({
      name: 'supervisor_alert_notifications_total',
      help: 'Notification delivery attempts by sink and result (delivered, retry, dead).',
      labelNames: ['sink', 'result'] as const,
      registers: [params.registry],
    });
    new Gauge({
      name: 'supervisor_alert_outbox_pending',
      help: 'Notifications waiting in the outbox for delivery.',
      registers: [params.registry],
      collect() {
        try {
          this.set(outbox.stats().pending);
        } catch {
          // the store may be closed while the registry is scraped; keep the last value
        }
      },
    });
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
        counter?.inc({ sink: sink.name, result: 'dead' });
        logger.error(
          { sink: sink.name, entry: entry.id, dedupKey: entry.dedupKey, attempts, code: retryable ? 'SUP_ERR_SINK_DELIVERY' : 'SUP_ERR_SINK_REJECTED', err: message },
          retryable ? `giving up on a notification after ${attempts} attempts` : 'a sink rejected a notification permanently',
        );
        return true;
      }
      const delay = retryAfterMs !== undefined ? Math.min(Math.max(0, retryAfterMs), maxRetryAfterMs) : backoff(attempts);
      outbox.markRetry(entry.id, now + delay, message);
      lane.blockedUntil = now + (retryAfterMs !== undefined ? delay : backoff(lane.consecutiveFailures));
      counter?.inc({ sink: sink.name, result: 'retry' });
      logger.warn({ sink: sink.name, entry: entry.id, attempts, retryInMs: delay, err: message }, 'notification delivery failed; will retry');
      return false;
    }
    outbox.markDelivered(entry.id, clock.now());
    lane.consecutiveFailures = 0;
    counter?.inc({ sink: sink.name, result: 'delivered' });
    logger.debug({ sink: sink.name, entry: entry.id, dedupKey: entry.dedupKey }, 'notification delivered');
    return true;
  }

  async function drain(lane: Lane, entries: OutboxEntry[]): Promise<void> {
    for (const entry of entries) {
      if (closed) return;
      const ok = await attempt(lane, entry);
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
        logger.error({ sink: lane.sink.name, err: (err as Error).message }, 'cannot read the outbox');
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
        logger.warn({ err: (err as Error).message }, 'cannot prune the outbox');
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
      } catch {
        due = null;
      }
      if (due === null) continue;
      next = Math.min(next, Math.max(due, lane.blockedUntil));
    }
    return Math.max(0, next - now);
  }

  function isIdle(): boolean {
    const now = clock.now();
    for (const lane of lanes.values()) {
      if (lane.busy) return false;
      if (lane.blockedUntil > now) continue;
      const due = outbox.nextDueAt(lane.sink.name);
      if (due !== null && due <= now) return false;
    }
    return true;
  }

  async function run(): Promise<void> {
    while (!closed) {
      woken = false;
      try {
        dispatch();
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'outbox pass failed');
      }
      if (idleWaiters.length && isIdle()) idleWaiters.splice(0).forEach((resolve) => resolve());
      if (woken || closed) continue;
      const waitMs = nextWakeIn();
      if (waitMs === 0) continue;
      sleepAbort = new AbortController();
      try {
        await clock.sleep(waitMs, sleepAbort.signal);
      } catch {
        // woken up or closing
      }
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
    wake,
    start() {
      if (started || closed) return;
      started = true;
      try {
        markUnknownSinksDead();
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'cannot check the outbox for unknown sinks');
      }
      loop = run();
    },
    idle() {
      if (!started || closed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        wake();
      });
    },
    close() {
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
      })();
      return closePromise;
    },
  };
}
