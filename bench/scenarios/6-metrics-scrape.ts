/**
 * Scenario 6 — `/metrics` with 40,000 series: time of a scrape through the real HTTP app
 * (src/server/app.ts buildApp + the daemon's registry and signal gauges), fed with synthetic
 * consumer-lag signals shaped like the lag check's.
 */
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { registerSignalMetrics } from '../../src/metrics/signal-metrics';
import { createMetricsRegistry } from '../../src/metrics/registry';
import { silentLogger } from '../../src/shared/logger';
import { buildApp } from '../../src/server/app';
import { countSeries, lagSignals } from '../lib/lag-signals';
import { percentile, round } from '../lib/stats';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { applyV8Settings } = require('../../bin/v8-settings.cjs') as { applyV8Settings: (o?: { youngMb?: number }) => void };
import type { Row, Scenario, ScenarioContext } from '../lib/types';

async function measure(groups: number, partitions: number, scrapes: number) {
  const registry = createMetricsRegistry({ version: 'bench' });
  let signals = lagSignals(groups, partitions);
  registerSignalMetrics({ registry, latest: () => signals });
  const app = await buildApp({
    logger: silentLogger,
    registry,
    version: 'bench',
    tokens: { verify: () => null },
    readiness: () => ({ ready: true, components: {} }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/metrics`;
  try {
    // One scrape as Prometheus asks (Accept-Encoding: gzip) or without it (`plain`): the time to
    // the last byte of the body, read as bytes (the scraper's gunzip and decoding are its own).
    const get = async (plain = false): Promise<{ ms: number; body: Buffer }> => {
      const t = performance.now();
      const res = await request(url, { headers: plain ? {} : { 'accept-encoding': 'gzip' } });
      const body = Buffer.from(await res.body.arrayBuffer());
      const ms = performance.now() - t;
      if (res.statusCode !== 200 || body.length < 1000) throw new Error(`scrape failed: ${res.statusCode}`);
      if (!plain && res.headers['content-encoding'] !== 'gzip') throw new Error('scrape: gzip asked for, not sent');
      return { ms, body };
    };
    const scrape = async (): Promise<number> => (await get()).ms;
    // warm-up (JIT, first allocation of the label caches)
    let wire: Buffer = Buffer.alloc(0);
    for (let i = 0; i < 3; i++) wire = (await get()).body;
    const body = gunzipSync(wire).toString('utf8');
    const series = countSeries(body);
    const http: number[] = [];
    const plain: number[] = [];
    const inproc: number[] = [];
    for (let i = 0; i < scrapes; i++) {
      http.push(await scrape());
      plain.push((await get(true)).ms);
      const t = performance.now();
      await registry.metrics();
      inproc.push(performance.now() - t);
    }
    // every probe result replaced since the last scrape (a lag check as frequent as the scrapes): nothing cached
    const cold: number[] = [];
    for (let i = 0; i < scrapes; i++) {
      signals = lagSignals(groups, partitions);
      cold.push(await scrape());
    }
    return { series, bytes: Buffer.byteLength(body), wireBytes: wire.length, http, plain, inproc, cold };
  } finally {
    await app.close();
  }
}

export const scenario: Scenario = {
  id: '6',
  title: '/metrics scrape time',
  goal: '≤ 100 ms with 40,000 series',
  limits:
    'The signal gauges render their own exposition text (src/metrics/snapshot-gauge.ts, FastRegistry) and keep each probe result’s lines in a WeakMap keyed by the immutable Signal, so a scrape of unchanged state is a join of pre-rendered chunks; only the scrape-clock ages and the cross-group end offsets are computed at every scrape. Two causes were found by profiling (node --cpu-prof and per-metric renderText timings, bench/.work scratch): (1) prom-client’s per-sample label formatting (~5 µs a series) — replaced by the gauges’ own text; (2) lines grown with += are V8 ropes that every later join walks again, which made joining cached lines cost 5 ms per gauge — building them with Array#join (flat strings) cut registry.metrics() from 30 to 13 ms. Since 2026-12-01 the kept batches are compressed (src/metrics/deflate-segment.ts; for scenario 8’s memory) and a scrape that accepts gzip, as Prometheus does, gets them as they are, ≈ 10× fewer bytes; the rows time that scrape as Prometheus asks for it, read as bytes by undici in the same process (until then fetch, which decoded the body as text in the figure: 17.3 ms median, 31.7 ms p95 at 40,000 series). A client without Accept-Encoding gets the text, inflated by the supervisor a batch at a time (its figures are in the median row’s method). The cold row replaces every signal before each scrape (nothing cached), the worst case of a lag check as frequent as the scrapes; at the default 15 s check and scrape intervals about half the scrapes find fresh signals.',
  async run(ctx: ScenarioContext): Promise<Row[]> {
    // the supervisor's V8 settings (bin/supervisor.js applies them to the daemon)
    applyV8Settings();
    const scrapes = Math.max(ctx.reps, 20);
    const rows: Row[] = [];
    // 667 groups × 20 partitions: per-partition lag, lag seconds and committed offset → ≈ 40,000 series in all.
    const cases = [
      { groups: 667, partitions: 20, label: '≈ 40,000 series (667 groups × 20 partitions)' },
      { groups: 2000, partitions: 20, label: 'scenario 3 state: 2,000 groups × 20 partitions' },
    ];
    for (const c of cases) {
      const m = await measure(c.groups, c.partitions, scrapes);
      ctx.log(
        `${c.label}: ${m.series} series, ${(m.bytes / 1e6).toFixed(1)} MB; HTTP p50 ${round(percentile(m.http, 50), 1)} ms p95 ${round(percentile(m.http, 95), 1)} ms; registry.metrics() p50 ${round(percentile(m.inproc, 50), 1)} ms`,
      );
      const how = `${m.series.toLocaleString('en-US')} series (${(m.bytes / 1e6).toFixed(1)} MB of text) from ${c.groups} synthetic consumer_lag signals × ${c.partitions} partitions fed to registerSignalMetrics on createMetricsRegistry (with process metrics), served by buildApp on loopback; ${scrapes} sequential scrapes after 3 warm-ups`;
      const p50 = round(percentile(m.http, 50), 1);
      const p95 = round(percentile(m.http, 95), 1);
      const is40k = c.groups === 667;
      rows.push({
        scenario: '6',
        metric: `HTTP GET /metrics, ${c.label}, median`,
        unit: 'ms',
        supervisor: p50,
        peers: {},
        ratio: null,
        goal: is40k ? '≤ 100 ms' : '—',
        met: is40k ? p50 <= 100 : null,
        method: `${how}; time from request to the last byte of the body (undici request in the same process, Accept-Encoding: gzip as Prometheus sends it: ${(m.wireBytes / 1e6).toFixed(2)} MB sent), median; without Accept-Encoding (the text, inflated by the supervisor as it sends it) median ${round(percentile(m.plain, 50), 1)} ms, p95 ${round(percentile(m.plain, 95), 1)} ms`,
        detail: {
          series: m.series,
          bytes: m.bytes,
          wireBytes: m.wireBytes,
          http: m.http.map((v) => round(v, 2)),
          plain: m.plain.map((v) => round(v, 2)),
          inproc: m.inproc.map((v) => round(v, 2)),
        },
      });
      rows.push({
        scenario: '6',
        metric: `HTTP GET /metrics, ${c.label}, p95`,
        unit: 'ms',
        supervisor: p95,
        peers: {},
        ratio: null,
        goal: is40k ? '≤ 100 ms' : '—',
        met: is40k ? p95 <= 100 : null,
        method: `${how}; p95 of the same scrapes`,
      });
      rows.push({
        scenario: '6',
        metric: `HTTP GET /metrics, ${c.label}, every signal new since the last scrape, p95`,
        unit: 'ms',
        supervisor: round(percentile(m.cold, 95), 1),
        peers: {},
        ratio: null,
        goal: is40k ? '≤ 100 ms' : '—',
        met: is40k ? percentile(m.cold, 95) <= 100 : null,
        method: `${how}; before each of ${scrapes} further scrapes every signal is replaced by a new object (outside the timing), so no line is cached: the worst case, a lag check running as often as Prometheus scrapes (median ${round(percentile(m.cold, 50), 1)} ms)`,
        detail: { cold: m.cold.map((v) => round(v, 2)) },
      });
      rows.push({
        scenario: '6',
        metric: `HTTP GET /metrics, ${c.label}, fastest scrape`,
        unit: 'ms',
        supervisor: round(Math.min(...m.http), 1),
        peers: {},
        ratio: null,
        goal: '—',
        met: null,
        method: `${how}; the least disturbed of the scrapes (the box is shared: see the load average)`,
      });
      rows.push({
        scenario: '6',
        metric: `registry.metrics() alone, ${c.label}, median`,
        unit: 'ms',
        supervisor: round(percentile(m.inproc, 50), 1),
        peers: {},
        ratio: null,
        goal: '—',
        met: null,
        method: `${how}; the in-process render without HTTP, median`,
      });
    }
    return rows;
  },
};
