/**
 * The `metrics` component: re-renders the signal gauges in the background when the signal
 * state changes (FastRegistry.invalidate), so a scrape sends kept bytes instead of rendering
 * on the request's path. Stop ends the subscription and any refresh in flight.
 */
import type { Observable, Subscription } from 'rxjs';
import type { Registry } from 'prom-client';
import type { Component, Logger } from '../protocol';

/** A registry that renders in the background (src/metrics/snapshot-gauge.ts FastRegistry). */
type RefreshingRegistry = Registry & { invalidate?: () => void; close?: () => void };

export interface MetricsRefreshParams {
  registry: Registry;
  /** Emits whenever what the gauges read changed (the checks' state$). */
  changes$: Observable<unknown>;
  logger: Logger;
}

export function createMetricsRefresh({ registry, changes$, logger }: MetricsRefreshParams): Component {
  const r = registry as RefreshingRegistry;
  let subscription: Subscription | null = null;
  return {
    name: 'metrics',
    start() {
      if (subscription || typeof r.invalidate !== 'function') return Promise.resolve();
      subscription = changes$.subscribe({
        next: () => r.invalidate!(),
        error: (err: unknown) => logger.error({ component: 'metrics', err }, 'the state stream the metrics follow failed; scrapes render on request from now on'),
      });
      return Promise.resolve();
    },
    stop() {
      subscription?.unsubscribe();
      subscription = null;
      r.close?.();
      return Promise.resolve();
    },
  };
}
