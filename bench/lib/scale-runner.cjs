#!/usr/bin/env node
'use strict';
/*
 * Scenario 8's supervisor side, alone in its own process so its RSS is what the lag check and
 * /metrics hold at that scale: the compiled __consumer_offsets stream and commit store, the
 * consumer_lag check, the daemon's metrics registry with the signal gauges, and the daemon's
 * HTTP app (buildApp) serving /metrics — the same modules the daemon wires, with the daemon's
 * V8 settings (bin/v8-settings.cjs).
 *   node bench/lib/scale-runner.cjs <brokers> <includeRegex>
 * Prints one JSON line when ready ({ metricsUrl, controlUrl, liveMs, pid }); the bench drives it
 * through a small control server on loopback:
 *   POST /cycle  runs one lag cycle, the signals become what /metrics serves; answers its time
 *   GET  /mem    VmRSS, VmHWM and the V8 heap in use
 *   POST /gc     (only under node --expose-gc, for diagnostics) a full GC, then the same
 *   POST /quit   closes everything and exits
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const root = path.resolve(__dirname, '..', '..');
const dist = path.join(root, 'dist');
require(path.join(root, 'bin', 'v8-settings.cjs')).applyV8Settings();
const { createConsumerLagCheck } = require(path.join(dist, 'checks', 'consumer-lag.js'));
const { createCommitStore } = require(path.join(dist, 'checks', 'lag-commit-store.js'));
const { createConsumerOffsets$ } = require(path.join(dist, 'streams', 'consumer-offsets.js'));
const { createMetricsRegistry } = require(path.join(dist, 'src', 'metrics', 'registry.js'));
const { registerSignalMetrics } = require(path.join(dist, 'src', 'metrics', 'signal-metrics.js'));
const { buildApp } = require(path.join(dist, 'src', 'server', 'app.js'));
const { silentLogger } = require(path.join(dist, 'src', 'shared', 'logger.js'));

const [brokers, include] = process.argv.slice(2);
const status = () => fs.readFileSync('/proc/self/status', 'utf8');
const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status())[1]) * 1024;

(async () => {
  const t0 = performance.now();
  const commitSource = createCommitStore();
  const sub = createConsumerOffsets$({ brokers: [brokers], clientId: 'bench-scale' }).subscribe({ next: (e) => commitSource.apply(e) });
  while (commitSource.state() !== 'live') {
    if (performance.now() - t0 > 300000) throw new Error(`__consumer_offsets stream still ${commitSource.state()} after 300 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const liveMs = performance.now() - t0;
  const check = createConsumerLagCheck({
    name: 'bench_scale',
    options: { brokers: [brokers], include: [include], offsetSource: 'consumer_offsets' },
    commitSource,
  });
  let latest = [];
  const registry = createMetricsRegistry({ version: 'bench' });
  registerSignalMetrics({ registry, latest: () => latest });
  const app = await buildApp({ logger: silentLogger, registry, version: 'bench', tokens: { verify: () => null }, readiness: () => ({ ready: true, components: {} }) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const metricsUrl = `http://127.0.0.1:${app.server.address().port}/metrics`;

  let closing = false;
  const control = http.createServer((req, res) => {
    const reply = (code, body) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const fail = (err) => reply(500, { error: String((err && err.stack) || err) });
    if (req.method === 'POST' && req.url === '/cycle') {
      const t = performance.now();
      check.probe({ signal: new AbortController().signal, now: () => Date.now() }).then((signals) => {
        const ms = performance.now() - t;
        latest = signals;
        // as the daemon's metrics component does on every change of the checks' state
        registry.invalidate();
        const unknown = signals.filter((s) => s.status === 'unknown').map((s) => s.summary);
        let lagSum = 0;
        let partitions = 0;
        for (const s of signals)
          for (const p of (s.facts && s.facts.partitions) || []) {
            partitions++;
            lagSum += p.lag || 0;
          }
        reply(200, { ms, signals: signals.length, partitions, lagSum, unknown: unknown.slice(0, 3), stats: check.lastCycle(), commitStoreSize: commitSource.size() });
      }, fail);
    } else if (req.method === 'GET' && req.url === '/mem') {
      const m = process.memoryUsage();
      reply(200, {
        rss: kb('VmRSS'),
        hwm: kb('VmHWM'),
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        refresh: registry.lastRefreshStats(),
      });
    } else if (req.method === 'POST' && req.url === '/gc' && global.gc) {
      // diagnostics only (node --expose-gc): the live heap after a full collection
      global.gc();
      reply(200, { rss: kb('VmRSS'), heapUsed: process.memoryUsage().heapUsed, external: process.memoryUsage().external });
    } else if (req.method === 'POST' && req.url === '/quit') {
      reply(200, { bye: true });
      if (closing) return;
      closing = true;
      sub.unsubscribe();
      registry.close();
      Promise.allSettled([check.close(), app.close()]).then(() => {
        control.close();
        setTimeout(() => process.exit(0), 200).unref();
      });
    } else reply(404, { error: `no ${req.method} ${req.url}` });
  });
  await new Promise((r) => control.listen(0, '127.0.0.1', r));
  const controlUrl = `http://127.0.0.1:${control.address().port}`;
  process.stdout.write(JSON.stringify({ ready: true, metricsUrl, controlUrl, liveMs, commitStoreSize: commitSource.size(), pid: process.pid }) + '\n');
})().catch((err) => {
  process.stderr.write(String((err && err.stack) || err) + '\n');
  process.exit(1);
});
