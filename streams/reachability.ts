import net from 'node:net';
import { Observable, defer, from, merge, timer, type SchedulerLike, asyncScheduler } from 'rxjs';
import { distinctUntilChanged, exhaustMap, filter, map } from 'rxjs/operators';

export interface ReachabilityEvent {
  /** `host:port` */
  target: string;
  reachable: boolean;
  /** Why not, when unreachable (ECONNREFUSED, timeout…). */
  error?: string;
  at: number;
}

export interface ReachabilityParams {
  /** `host:port` endpoints, e.g. Kafka bootstrap brokers. */
  targets: readonly string[];
  /** How often each target is tried (a TCP connect, closed at once). Default 500 ms. */
  intervalMs?: number;
  /** Consecutive failed connects before a target counts as unreachable. Default 2. */
  confirmations?: number;
  scheduler?: SchedulerLike;
  now?: () => number;
}

/** One TCP connect to `host:port`, closed as soon as it is established. Never rejects. */
export function tryConnect(target: string, timeoutMs: number): Promise<string | null> {
  const i = target.lastIndexOf(':');
  const host = target.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(target.slice(i + 1));
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (error: string | null): void => {
      socket.removeAllListeners();
      socket.destroy();
      resolve(error);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once('connect', () => done(null));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

/**
 * Whether endpoints accept TCP connections, as events on change only (the first state of each
 * target is emitted too). The cheapest possible liveness signal: it lets a check that runs every
 * 15 s react within a second when a broker process dies or comes back, instead of waiting for
 * its next interval. A target flips to unreachable after `confirmations` failed connects in a
 * row, and back after one success.
 */
export function createReachability$(params: ReachabilityParams): Observable<ReachabilityEvent> {
  const intervalMs = params.intervalMs ?? 500;
  const confirmations = Math.max(1, params.confirmations ?? 2);
  const now = params.now ?? Date.now;
  const scheduler = params.scheduler ?? asyncScheduler;
  const perTarget = params.targets.map((target) =>
    defer(() => {
      let failures = 0;
      let known: boolean | null = null;
      return timer(0, intervalMs, scheduler).pipe(
        exhaustMap(() => from(tryConnect(target, Math.max(100, intervalMs)))),
        map((error): ReachabilityEvent | null => {
          failures = error === null ? 0 : failures + 1;
          // the first answer sets the state at once; later a failure must repeat to count
          const unreachable = error !== null && (known === null || failures >= confirmations);
          if (error !== null && !unreachable) return null;
          known = error === null;
          return { target, reachable: known, ...(error === null ? {} : { error }), at: now() };
        }),
        filter((e): e is ReachabilityEvent => e !== null),
        distinctUntilChanged((a, b) => a.reachable === b.reachable),
      );
    }),
  );
  return perTarget.length === 0 ? from([]) : merge(...perTarget);
}
