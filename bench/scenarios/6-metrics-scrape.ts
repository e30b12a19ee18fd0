/**
 * Scenario 6 — `/metrics` with 40,000 series: time of a scrape through the real HTTP app
 * (src/server/app.ts buildApp + the daemon's registry and signal gauges), fed with synthetic
 * consumer-lag signals shaped like the lag check's.
 */
import type { AddressInfo } from 'node:net';
import { registerSignalMetrics } from '../../src/metrics/signal-metrics';
import { createMetricsRegistry } from '../../src/metrics/registry';
import { silentLogger } from '../../src/protocol';
import { buildApp } from '../../src/server/app';
import { countSeries, lagSignals } from '../lib/lag-signals';
import { percentile, round } from '../lib/stats';
import type { Row, Scenario, ScenarioContext } from '../lib/types';

async function measure(groups: number, partitions: number, scrapes: number) {
  const registry = createMetricsRegistry({ version: 'bench' });
  const signals = lagSignals(groups, partitions);
  registerSignalMetrics({ registry, latest: () => signals });
  const app = await buildApp({
    logger: silentLogger,
    registry,
    version: 'bench',
    tokens: { verify: () => null } as never,
    readiness: () => ({ ready: true, components: {} }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/metrics`;
  try {
    // warm-up (JIT, first allocation of the label caches)
    let body = '';
    for (let i = 0; i < 3; i++) body = await (await fetch(url)).text();
    const series = countSeries(body);
    const http: number[] = [];
    const inproc: number[] = [];
    for (let i = 0; i < scrapes; i++) {
      let t = performance.now();
      const res = await fetch(url);
      const text = await res.text();
      http.push(performance.now() - t);
      if (res.status !== 200 || text.length < 1000) throw new Error(`scrape failed: ${res.status}`);
      t = performance.now();
      await registry.metrics();
      inproc.push(performance.now() - t);
    }
    return { series, bytes: Buffer.byteLength(body), http, inproc };
  } finally {
    await app.close();
  }
}

export const scenario: Scenario = {
  id: '6',
  title: '/metrics scrape time',
  goal: '≤ 100 ms with 40,000 series',
  limits:
    'prom-client renders the text exposition on the event loop: the cost is linear in series (string building of label sets, escaping); the signal gauges read the latest state once per scrape without per-series bookkeeping (src/metrics/snapshot-gauge.ts). At 2,000 groups × 20 partitions the per-partition gauges alone are 3 × 40,000 series; that figure is shown too. Profile (node --cpu-prof, 20 renders of the 40,000-series state): 24 % garbage collection, 17 % prom-client getMetricsAsString, 13 % flattenSharedLabels, 10 % formatLabels, 5 % escapeString, 6 % the signal gauges’ own collect — i.e. building ~45,000 label strings per scrape. A hand-written renderer of the same text (experiment, not committed) was not decisively faster (62 vs 78 ms best-of-20), so the lever is not the formatter but not rebuilding unchanged strings: signals change once per check interval (15 s) and are immutable, so the exposition lines of one signal can be rendered once per probe result (e.g. a WeakMap from the Signal to its rendered lines in src/metrics/snapshot-gauge.ts / signal-metrics.ts, bypassing prom-client only for these gauges) and a scrape becomes a join: joining the same 4.5 MB of pre-rendered chunks took 9.8 ms against 110 ms for the prom-client render in the same experiment. The HTTP figure adds fastify writing 4.5 MB and the client (fetch in the same process) reading it. On this shared 2-core VM the load average during the run was 12–14, so the process got a fraction of a core; the best scrape is shown beside the median.',
  async run(ctx: ScenarioContext): Promise<Row[]> {
    const scrapes = Math.max(ctx.reps, 20);
    const rows: Row[] = [];
    // 667 groups × 20 partitions: per-partition lag, lag seconds and committed offset → ≈ 40,000 series in all.
    const cases = [
      { groups: 667, partitions: 20, label: '≈ 40,000 series (667 groups × 20 partitions)' },
      { groups: 2000, partitions: 20, label: 'scenario 3 state: 2,000 groups × 20 partitions' },
    ];
    for (const c of cases) {
      const m = await measure(c.groups, c.partitions, scrapes);
      ctx.log(`${c.label}: ${m.series} series, ${(m.bytes / 1e6).toFixed(1)} MB; HTTP p50 ${round(percentile(m.http, 50), 1)} ms p95 ${round(percentile(m.http, 95), 1)} ms; registry.metrics() p50 ${round(percentile(m.inproc, 50), 1)} ms`);
      const how = `${m.series.toLocaleString('en-US')} series (${(m.bytes / 1e6).toFixed(1)} MB of text) from ${c.groups} synthetic consumer_lag signals × ${c.partitions} partitions fed to registerSignalMetrics on createMetricsRegistry (with process metrics), served by buildApp on loopback; ${scrapes} sequential scrapes after 3 warm-ups`;
      const p50 = round(percentile(m.http, 50), 1);
      const p95 = round(percentile(m.http, 95), 1);
      const is40k = c.groups === 667;
      rows.push({ scenario: '6', metric: `HTTP GET /metrics, ${c.label}, median`, unit: 'ms', supervisor: p50, peers: {}, ratio: null, goal: is40k ? '≤ 100 ms' : '—', met: is40k ? p50 <= 100 : null, method: `${how}; time from request to the last byte of the body (fetch in the same process), median`, detail: { series: m.series, bytes: m.bytes, http: m.http.map((v) => round(v, 2)), inproc: m.inproc.map((v) => round(v, 2)) } });
      rows.push({ scenario: '6', metric: `HTTP GET /metrics, ${c.label}, p95`, unit: 'ms', supervisor: p95, peers: {}, ratio: null, goal: is40k ? '≤ 100 ms' : '—', met: is40k ? p95 <= 100 : null, method: `${how}; p95 of the same scrapes` });
      rows.push({ scenario: '6', metric: `HTTP GET /metrics, ${c.label}, fastest scrape`, unit: 'ms', supervisor: round(Math.min(...m.http), 1), peers: {}, ratio: null, goal: '—', met: null, method: `${how}; the least disturbed of the scrapes (the box is shared: see the load average)` });
      rows.push({ scenario: '6', metric: `registry.metrics() alone, ${c.label}, median`, unit: 'ms', supervisor: round(percentile(m.inproc, 50), 1), peers: {}, ratio: null, goal: '—', met: null, method: `${how}; the in-process render without HTTP, median` });
    }
    return rows;
  },
};
