#!/usr/bin/env node
'use strict';
/*
 * Scenario 3's supervisor side, alone in its own process so its RSS is the lag check's:
 * the compiled consumer_lag check (dist/checks/consumer-lag.js) against the bench broker.
 *   node bench/lib/lag-runner.cjs <brokers> <includeRegex> <mode admin|consumer_offsets> <cycles> <lagsOut.json>
 * Prints one JSON line: cycle times, stats, RSS after each cycle.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const fs = require('node:fs');
const path = require('node:path');
const dist = path.resolve(__dirname, '..', '..', 'dist');
const { createConsumerLagCheck } = require(path.join(dist, 'checks', 'consumer-lag.js'));
const { createCommitStore } = require(path.join(dist, 'checks', 'lag-commit-store.js'));
const { createConsumerOffsets$ } = require(path.join(dist, 'streams', 'consumer-offsets.js'));

const [brokers, include, mode, cyclesRaw, lagsOut] = process.argv.slice(2);
const cycles = Number(cyclesRaw);
const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;

(async () => {
  const t0 = performance.now();
  let commitSource;
  let sub;
  if (mode === 'consumer_offsets') {
    commitSource = createCommitStore();
    sub = createConsumerOffsets$({ brokers: [brokers], clientId: 'bench-lag' }).subscribe({ next: (e) => commitSource.apply(e) });
    while (commitSource.state() !== 'live') {
      if (performance.now() - t0 > 120000) throw new Error(`__consumer_offsets stream still ${commitSource.state()} after 120 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const liveMs = performance.now() - t0;
  const check = createConsumerLagCheck({
    name: 'bench_lag',
    options: { brokers: [brokers], include: [include], offsetSource: mode === 'consumer_offsets' ? 'consumer_offsets' : 'admin' },
    ...(commitSource ? { commitSource } : {}),
  });
  const out = { mode, liveMs, cycles: [], rss: [], heapUsed: [], stats: [] };
  let last;
  for (let i = 0; i < cycles; i++) {
    const t = performance.now();
    last = await check.probe({ signal: new AbortController().signal, now: () => Date.now() });
    out.cycles.push(performance.now() - t);
    out.stats.push(check.lastCycle());
    if (global.gc) global.gc();
    out.rss.push(rss());
    out.heapUsed.push(process.memoryUsage().heapUsed);
  }
  const lags = {};
  for (const s of last) for (const p of s.facts?.partitions ?? []) lags[`${s.facts.group}|${p.topic}|${p.partition}`] = p.lag;
  fs.writeFileSync(lagsOut, JSON.stringify(lags));
  out.signals = last.length;
  out.unknown = last
    .filter((s) => s.status === 'unknown')
    .map((s) => s.summary)
    .slice(0, 3);
  process.stdout.write(JSON.stringify(out) + '\n');
  sub?.unsubscribe();
  await check.close();
  setTimeout(() => process.exit(0), 500).unref();
})().catch((err) => {
  process.stderr.write(String((err && err.stack) || err) + '\n');
  process.exit(1);
});
