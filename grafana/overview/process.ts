/** Overview row "Supervisor process": memory, CPU and event loop lag of the supervisor itself. */
import { query, timeseriesPanel, type Section } from '../panels';
import { SUPERVISOR_ONLY } from './selectors';

export function processSection(): Section {
  return {
    title: 'Supervisor process',
    panels: [
      timeseriesPanel({
        title: 'Memory',
        description: 'Resident set size and V8 heap used.',
        size: { w: 8, h: 7 },
        targets: [
          query(`process_resident_memory_bytes ${SUPERVISOR_ONLY}`, { legend: 'rss {{instance}}' }),
          query(`nodejs_heap_size_used_bytes ${SUPERVISOR_ONLY}`, { legend: 'heap used {{instance}}' }),
        ],
        unit: 'bytes',
        legendCalcs: ['lastNotNull', 'max'],
      }),
      timeseriesPanel({
        title: 'CPU',
        description: 'CPU time per second of wall time (1 = one core).',
        size: { w: 8, h: 7 },
        targets: [query(`rate(process_cpu_seconds_total[$__rate_interval]) ${SUPERVISOR_ONLY}`, { legend: '{{instance}}' })],
        unit: 'percentunit',
        min: 0,
        legendCalcs: ['mean', 'max'],
      }),
      timeseriesPanel({
        title: 'Event loop lag',
        description: 'Node.js event loop delay (p50, p99); sustained lag delays checks and timers.',
        size: { w: 8, h: 7 },
        targets: [
          query(`nodejs_eventloop_lag_p50_seconds ${SUPERVISOR_ONLY}`, { legend: 'p50 {{instance}}' }),
          query(`nodejs_eventloop_lag_p99_seconds ${SUPERVISOR_ONLY}`, { legend: 'p99 {{instance}}' }),
        ],
        unit: 's',
        min: 0,
        legendCalcs: ['mean', 'max'],
      }),
    ],
  };
}
