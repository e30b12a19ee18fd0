/**
 * Scenario 3's installable peer: the OpenTelemetry Collector with the contrib kafkametrics
 * receiver (consumer-group lag and offset per partition) exported through the contrib
 * prometheus exporter. kminion and kafka_exporter are not served by the Go module proxy here
 * (see kafka-exporters.ts); the collector's modules are.
 *
 * bench/peers/otelcol/ holds the source only: a main.go of the shape the OTel builder (ocb)
 * generates, with go.mod/go.sum pinning one collector release — contrib v0.140.1
 * (kafkametricsreceiver, prometheusexporter) with core v0.140.0 / v1.46.0. (The table of served
 * modules points at the v0.165 release, but kafkametricsreceiver@v0.165.1 answers 403 "This
 * module version is not available"; v0.140.1 is served.) It is built here with `go build`,
 * GOPATH/GOMODCACHE/GOCACHE under bench/.work, into bench/.work/bin/otelcol-kafkametrics,
 * rebuilt only when the source changes.
 *
 * One run: the collector scrapes the consumer groups back to back (collection_interval 100 ms,
 * shorter than a scrape, so the scraper's ticker always has a tick waiting), with the
 * collector's own internal-telemetry spans printed by its console span exporter on stdout:
 * `scraper/kafkametrics/ScrapeMetrics` (the receiver's scrape) and `exporter/prometheus/metrics`
 * (the hand-off to the exporter that serves /metrics). A cycle is the start of a scrape to the
 * end of the export that follows it; the timings are the collector's own, not the harness's.
 */
import { execFile, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { rssBytes, sleep } from '../lib/stats';
import type { ScenarioContext } from '../lib/types';

const run = promisify(execFile);

export const OTELCOL_SRC = path.join(__dirname, 'otelcol');
export const OTELCOL_RELEASE = 'contrib v0.140.1 (kafkametricsreceiver, prometheusexporter), core v0.140.0 / v1.46.0';
export const OTELCOL_PORT = Number(process.env.BENCH_OTELCOL_PORT ?? 29464);

/** The receiver's two Kafka clients: Sarama (the default; protocol_version left at its default 2.1.0) and franz-go (feature gate). */
export const OTELCOL_CLIENTS = [
  { client: 'sarama', name: 'OTel Collector kafkametrics, Sarama (substitute)', featureGates: [] as string[] },
  { client: 'franz-go', name: 'OTel Collector kafkametrics, franz-go (substitute)', featureGates: ['receiver.kafkametricsreceiver.UseFranzGo'] },
] as const;
export type OtelClient = (typeof OTELCOL_CLIENTS)[number];

function goEnv(ctx: ScenarioContext): NodeJS.ProcessEnv {
  const gopath = path.join(ctx.work, 'gopath');
  return { ...process.env, GOPATH: gopath, GOMODCACHE: path.join(gopath, 'pkg', 'mod'), GOCACHE: path.join(ctx.work, 'gocache'), GOFLAGS: '-buildvcs=false -p=1 -mod=readonly' };
}

function sourceHash(): string {
  const h = crypto.createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) h.update(fs.readFileSync(path.join(OTELCOL_SRC, f)));
  return h.digest('hex').slice(0, 16);
}

/** Builds (or reuses) the collector binary; returns its path or the exact error. */
export async function buildOtelCollector(ctx: ScenarioContext): Promise<{ bin: string; built: boolean; seconds: number } | { error: string }> {
  const bin = path.join(ctx.work, 'bin', 'otelcol-kafkametrics');
  const stamp = `${bin}.src`;
  const hash = sourceHash();
  if (fs.existsSync(bin) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === hash) return { bin, built: false, seconds: 0 };
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  ctx.log(`building the OpenTelemetry Collector (${OTELCOL_RELEASE}) into ${bin} (go build -p=1 under nice; a few minutes on first use)…`);
  const t0 = performance.now();
  try {
    await run('nice', ['-n', '10', 'go', 'build', '-trimpath', '-ldflags=-s -w', '-o', bin, '.'], { cwd: OTELCOL_SRC, env: goEnv(ctx), timeout: 30 * 60_000, maxBuffer: 20e6 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { error: `go build in bench/peers/otelcol: ${(e.stderr || e.message).trim().replace(/\s+/g, ' ').slice(0, 2000)}` };
  }
  if (!fs.existsSync(bin)) return { error: 'go build in bench/peers/otelcol produced no binary' };
  fs.writeFileSync(stamp, `${hash}\n`);
  return { bin, built: true, seconds: (performance.now() - t0) / 1000 };
}

export interface OtelCycle {
  /** ScrapeMetrics span: the receiver's scrape (ListGroups … one OffsetFetch per group). */
  scrapeMs: number;
  /** exporter/prometheus/metrics span that follows it: the picture handed to /metrics. */
  exportMs: number;
  /** Start of the scrape to the end of that export. */
  cycleMs: number;
  startedAt: number;
  ok: boolean;
}

export interface OtelRun {
  config: string;
  /** Spawn to the end of the first export (process start, connections and the first scrape). */
  firstCompleteMs: number;
  /** Every cycle, the first one included (callers exclude it as for the supervisor). */
  cycles: OtelCycle[];
  /** Start-to-start periods of successive scrapes. */
  periods: number[];
  /** VmRSS samples (bytes) every 100 ms over the cycles after the first. */
  rss: number[];
  /** Highest VmRSS sample from spawn to the end (first cycle included). */
  peakRss: number;
  /** GET /metrics once at the end: wall time, bytes and series. */
  get: { ms: number; bytes: number; lagSeries: number };
  /** group|topic|partition → lag, from kafka_consumer_group_lag in the exporter's text. */
  lags: Record<string, number>;
  errors: string[];
}

interface Span {
  name: string;
  start: number;
  end: number;
  error: boolean;
}

/** RFC 3339 with nanoseconds → epoch ms with sub-ms precision. */
function isoMs(s: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(s);
  if (!m) return NaN;
  return Date.parse(`${m[1]}Z`) + (m[2] ? Number(`0.${m[2]}`) * 1000 : 0);
}

/** The console span exporter writes indented JSON objects, each closed by a "}" line. */
function parseSpans(text: string): Span[] {
  const out: Span[] = [];
  let from = 0;
  for (const m of text.matchAll(/^}$/gm)) {
    const to = m.index + 1;
    const chunk = text.slice(from, to);
    from = to;
    try {
      const o = JSON.parse(chunk) as { Name: string; StartTime: string; EndTime: string; Status?: { Code?: string } };
      out.push({ name: o.Name, start: isoMs(o.StartTime), end: isoMs(o.EndTime), error: o.Status?.Code === 'Error' });
    } catch {
      /* partial object at the end of the file */
    }
  }
  return out;
}

function cyclesOf(spans: Span[]): OtelCycle[] {
  const scrapes = spans.filter((s) => s.name === 'scraper/kafkametrics/ScrapeMetrics').sort((a, b) => a.start - b.start);
  const exports = spans.filter((s) => s.name === 'exporter/prometheus/metrics').sort((a, b) => a.start - b.start);
  const out: OtelCycle[] = [];
  for (const s of scrapes) {
    const e = exports.find((x) => x.start >= s.end - 1);
    if (!e) break;
    out.push({ scrapeMs: s.end - s.start, exportMs: e.end - e.start, cycleMs: e.end - s.start, startedAt: s.start, ok: !s.error && !e.error });
  }
  return out;
}

function httpGet(url: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(parts).toString('utf8')) : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** kafka_consumer_group_lag (the exporter appends _ratio for unit "1") per group|topic|partition. */
export function parseLagText(text: string): Record<string, number> {
  const lags: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^kafka_consumer_group_lag(?:_ratio)?\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    if (labels.group !== undefined && labels.topic !== undefined && labels.partition !== undefined) lags[`${labels.group}|${labels.topic}|${labels.partition}`] = Number(m[2]);
  }
  return lags;
}

function configYaml(o: { brokers: string; groupMatch: string; topicMatch: string }): string {
  return `# written by bench/peers/otel-collector.ts
receivers:
  kafkametrics:
    brokers: [${JSON.stringify(o.brokers)}]
    client_id: bench-otelcol
    scrapers: [consumers]
    group_match: ${JSON.stringify(o.groupMatch)}
    topic_match: ${JSON.stringify(o.topicMatch)}
    collection_interval: 100ms
    initial_delay: 0s
exporters:
  prometheus:
    endpoint: 127.0.0.1:${OTELCOL_PORT}
service:
  telemetry:
    logs:
      level: info
    metrics:
      level: none
    traces:
      processors:
        - simple:
            exporter:
              console: {}
  pipelines:
    metrics:
      receivers: [kafkametrics]
      exporters: [prometheus]
`;
}

/**
 * Runs the collector until `cycles` complete cycles were exported (or `timeoutMs`), sampling its
 * RSS, then reads /metrics once and stops it (SIGTERM, SIGKILL after 10 s).
 */
export async function runOtelCollector(
  ctx: ScenarioContext,
  bin: string,
  peer: OtelClient,
  o: { brokers: string; groupMatch: string; topicMatch: string; cycles: number; timeoutMs?: number },
): Promise<OtelRun> {
  const dir = path.join(ctx.work, 'otelcol');
  fs.mkdirSync(dir, { recursive: true });
  const config = path.join(dir, `${peer.client}.yaml`);
  fs.writeFileSync(config, configYaml(o));
  const spansFile = path.join(dir, `${peer.client}.spans.json`);
  const logFile = path.join(dir, `${peer.client}.log`);
  const outFd = fs.openSync(spansFile, 'w');
  const errFd = fs.openSync(logFile, 'w');
  const args = [`--config=file:${config}`, ...peer.featureGates.map((g) => `--feature-gates=${g}`)];
  const spawnedAt = Date.now();
  const child = spawn(bin, args, { stdio: ['ignore', outFd, errFd] });
  fs.closeSync(outFd);
  fs.closeSync(errFd);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((r) => child.on('exit', (code) => ((exitCode = code), r())));
  child.on('error', () => (exitCode = -1));
  const pid = child.pid!;
  const rss: number[] = [];
  let peakRss = 0;
  const errors: string[] = [];
  const deadline = Date.now() + (o.timeoutMs ?? 5 * 60_000);
  let cycles: OtelCycle[] = [];
  let spans: Span[] = [];
  let lastParse = 0;
  try {
    while (Date.now() < deadline && exitCode === undefined) {
      await sleep(100);
      const r = rssBytes(pid);
      peakRss = Math.max(peakRss, r);
      if (cycles.length >= 1 && r > 0) rss.push(r);
      if (Date.now() - lastParse >= 250) {
        lastParse = Date.now();
        spans = parseSpans(fs.readFileSync(spansFile, 'utf8'));
        cycles = cyclesOf(spans);
        if (cycles.length >= o.cycles) break;
      }
    }
    if (exitCode !== undefined) errors.push(`collector exited with ${exitCode}: ${fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' | ')}`);
    else if (cycles.length < o.cycles) errors.push(`only ${cycles.length} of ${o.cycles} cycles within ${((o.timeoutMs ?? 5 * 60_000) / 1000).toFixed(0)} s`);
    let get = { ms: NaN, bytes: 0, lagSeries: 0 };
    let lags: Record<string, number> = {};
    if (exitCode === undefined && cycles.length > 0) {
      const t0 = performance.now();
      try {
        const text = await httpGet(`http://127.0.0.1:${OTELCOL_PORT}/metrics`, 60_000);
        get = { ms: performance.now() - t0, bytes: Buffer.byteLength(text), lagSeries: 0 };
        lags = parseLagText(text);
        get.lagSeries = Object.keys(lags).length;
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    const scrapeErrors = fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => /\terror\t/.test(l));
    if (scrapeErrors.length) errors.push(`${scrapeErrors.length} error lines in the collector's log, first: ${scrapeErrors[0]!.slice(0, 600)}`);
    const starts = spans
      .filter((s) => s.name === 'scraper/kafkametrics/ScrapeMetrics')
      .map((s) => s.start)
      .sort((a, b) => a - b);
    const periods = starts.slice(1).map((s, i) => s - starts[i]!);
    const firstEnd = cycles[0] ? cycles[0].startedAt + cycles[0].cycleMs : NaN;
    return { config: fs.readFileSync(config, 'utf8'), firstCompleteMs: firstEnd - spawnedAt, cycles, periods, rss, peakRss, get, lags, errors };
  } finally {
    if (exitCode === undefined) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
  }
}
