import type { Observable, Subscription } from 'rxjs';
import type { Component, Logger } from '../protocol';

/**
 * The latest value of a shared, replaying stream (`state$`) for synchronous readers: prom-client
 * gauges read in `collect()`, fastify handlers and pipeline gates read at once. The stream is
 * the source of truth; the view only holds what it last emitted, in a declared field.
 *
 * A lifecycle Component: start() subscribes (idempotent), stop() unsubscribes (idempotent,
 * never rejects). After stop the last value stays readable.
 */
export interface StateView<T> extends Component {
  /** The stream's latest value, or undefined before its first. */
  current(): T | undefined;
}

export interface StateViewParams<T> {
  name: string;
  state$: Observable<T>;
  logger: Logger;
}

export function createStateView<T>(params: StateViewParams<T>): StateView<T> {
  return new StreamStateView(params);
}

class StreamStateView<T> implements StateView<T> {
  readonly name: string;
  private readonly state$: Observable<T>;
  private readonly logger: Logger;
  private latest: T | undefined;
  private subscription: Subscription | null = null;
  private stopped = false;

  constructor(params: StateViewParams<T>) {
    this.name = params.name;
    this.state$ = params.state$;
    this.logger = params.logger;
  }

  current(): T | undefined {
    return this.latest;
  }

  start(): Promise<void> {
    if (this.subscription || this.stopped) return Promise.resolve();
    try {
      this.subscription = this.state$.subscribe({
        next: (value) => {
          this.latest = value;
        },
        error: (err: unknown) => this.logger.error({ component: this.name, err }, 'state stream failed'),
      });
    } catch (err) {
      this.subscription = null;
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopped = true;
    try {
      this.subscription?.unsubscribe();
    } catch (err) {
      this.logger.error({ component: this.name, err }, 'unsubscribing from the state stream failed');
    }
    this.subscription = null;
    return Promise.resolve();
  }
}
