import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
import { FastRegistry } from './snapshot-gauge';

export interface CreateRegistryParams {
  version: string;
  /** Process and Node.js runtime metrics (process_*, nodejs_*); on by default. */
  processMetrics?: boolean;
}

/** A fresh prom-client Registry (never the global one) with build info and process metrics. */
export function createMetricsRegistry({ version, processMetrics = true }: CreateRegistryParams): Registry {
  const registry = new FastRegistry();
  if (processMetrics) collectDefaultMetrics({ register: registry });
  const build = new Gauge({
    name: 'supervisor_build_info',
    help: 'Always 1; labels tell the supervisor version and Node.js version.',
    labelNames: ['version', 'nodejs'],
    registers: [registry],
  });
  build.set({ version, nodejs: process.versions.node }, 1);
  return registry;
}
