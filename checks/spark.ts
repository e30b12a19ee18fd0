/**
 * Spark check: the standalone master's `/json/` (status ALIVE, alive workers vs expected,
 * expected applications RUNNING, their durations) and, when a driver metrics URL is
 * configured, Structured Streaming query health (input vs processed rows per second and how
 * long the query's progress has not changed).
 *
 * Entry points: `sparkOptionsSchema` (strict), `createSparkCheck(...)` (a `CheckProbe` that
 * keeps one undici Agent and the per-query progress memory between runs) and `sparkJobTask`
 * (the seed's `SparkJobCheckOperator(spark_master, job_name)`).
 *
 * Status: the worst of
 * - master: ALIVE ok; STANDBY/RECOVERING/COMPLETING_RECOVERY warn; anything else crit;
 *   connection refused crit (nothing listens); timeouts and other errors unknown;
 * - workers: alive < expected → warn, no alive worker while some are expected → crit;
 * - apps: an expected name without a RUNNING application → crit; with no names configured,
 *   any active app not RUNNING → warn and no active app at all → `noAppsStatus` (warn);
 * - queries: an expected query missing from the metrics → crit; progress unchanged for more
 *   than `maxProgressAge` while rows were coming in → warn; processed < input × ratio → warn;
 *   metrics unreadable → unknown.
 * Spark JSON missing fields or malformed → unknown naming the field.
 */
import { z } from 'zod';
import { describeError, isSupervisorError, SupervisorError, worstStatus } from '../src/protocol';
import { createHttpAgent, httpRequest, type HttpAgent, type HttpResponse } from '../src/shared/http-client';
import { silentLogger } from '../src/shared/logger';
import { systemClock } from '../src/shared/clock';
import type { CheckProbe, Clock, Logger, ProbeContext, Signal, SparkAppFacts, SparkFacts, Status, StreamingQueryFacts } from '../src/protocol';
import { describeTlsError, hasTlsSettings, hostPortOf, pickTlsSettings, readTlsFiles, tlsSettingsShape, type TlsSettings } from '../src/shared/tls';
import { parseStreamingMetrics, prometheusName, type QueryGauges } from './spark-metrics';

const DEFAULT_MASTER_UI_PORT = 8080;

/** `spark://host:7077` → `http://host:<uiPort>`; http(s) URLs are kept (trailing slash dropped). */
export function masterUiUrl(raw: string, uiPort = DEFAULT_MASTER_UI_PORT): string {
  const input = raw.trim();
  if (/^spark:\/\//i.test(input)) {
    // spark://h1:7077,h2:7077 (HA): the first master.
    const first = input.slice('spark://'.length).split(',')[0] ?? '';
    const host = first.split('/')[0]!.replace(/:\d+$/, '');
    if (!host || !URL.canParse(`http://${host}:${uiPort}`)) {
      throw new SupervisorError('SUP_ERR_CONFIG_INVALID', 'spark:// URL without a valid host', { where: input });
    }
    return `http://${host}:${uiPort}`;
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', 'the Spark master is not a URL (expected http://host:8080 or spark://host:7077)', {
      where: input,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `unsupported Spark master URL scheme ${url.protocol}`, { where: input });
  }
  return input.replace(/\/+$/, '').replace(/\/json$/, '');
}

function urlString(what: string) {
  return z.string().refine((s) => /^https?:\/\//i.test(s) && URL.canParse(s), { message: `${what} must be an http(s) URL` });
}

const basicAuthSchema = z.strictObject({ username: z.string().min(1), password: z.string() });
const headersSchema = z.record(z.string().min(1), z.string());

export const sparkOptionsSchema = z
  .strictObject({
    /** Master web UI (`http://host:8080`) or the master URL (`spark://host:7077`, mapped to the UI port). */
    masterUrl: z.string().min(1),
    /** UI port used when `masterUrl` is a spark:// URL. */
    masterUiPort: z.number().int().min(1).max(65535).default(DEFAULT_MASTER_UI_PORT),
    expectedWorkers: z.number().int().min(0).default(1),
    /** Application names that must be RUNNING; empty = every active application must be RUNNING. */
    apps: z.array(z.string().min(1)).default([]),
    /** Status when `apps` is empty and no application is active at all. */
    noAppsStatus: z.enum(['ok', 'warn', 'crit']).default('warn'),
    /** Driver metrics servlet: `http://driver:4040/metrics/json` or `/metrics/prometheus`. */
    driverMetricsUrl: urlString('driverMetricsUrl').optional(),
    streaming: z
      .strictObject({
        /** Query names that must report metrics (empty = whatever queries report). */
        queries: z.array(z.string().min(1)).default([]),
        /** Seconds without any change of a query's progress gauges (while rows came in) before warn. */
        maxProgressAge: z.number().positive().default(300),
        /** Warn when processed rows/s < input rows/s × this ratio (0 disables). */
        minProcessedRatio: z.number().min(0).max(10).default(1),
      })
      .prefault({}),
    /** Per-request timeout, seconds. */
    requestTimeout: z.number().positive().max(300).default(10),
    /** HTTP basic auth for the master UI (a reverse proxy's). */
    auth: basicAuthSchema.optional(),
    /** Extra request headers for the master UI (e.g. `X-Api-Key`). */
    headers: headersSchema.optional(),
    /** TLS for the master UI: `caFile`, `certFile`/`keyFile`/`keyPassword`, `servername`, `rejectUnauthorized`. */
    ...tlsSettingsShape,
    /**
     * The driver metrics URL's own auth, headers and TLS. Each of `auth`, `headers` and the TLS
     * settings not given here is the master's.
     */
    driver: z.strictObject({ auth: basicAuthSchema.optional(), headers: headersSchema.optional(), ...tlsSettingsShape }).optional(),
  })
  .superRefine((o, ctx) => {
    try {
      masterUiUrl(o.masterUrl, o.masterUiPort);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['masterUrl'], message: describeError(err).message });
    }
    if (o.streaming.queries.length > 0 && o.driverMetricsUrl === undefined) {
      ctx.addIssue({ code: 'custom', path: ['streaming', 'queries'], message: 'needs driverMetricsUrl' });
    }
  });

export type SparkOptions = z.output<typeof sparkOptionsSchema>;
export type SparkOptionsInput = z.input<typeof sparkOptionsSchema>;

export function parseSparkOptions(name: string, options: unknown): SparkOptions {
  const r = sparkOptionsSchema.safeParse(options);
  if (!r.success) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `invalid options for spark check "${name}"`, {
      where: `checks.${name}`,
      problems: r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(options)'}: ${i.message}`),
    });
  }
  return Object.freeze(r.data);
}

// ---------------------------------------------------------------------------------------
// The master's /json/ answer (fields this check needs; everything else is ignored)

const masterWorkerSchema = z.object({ id: z.string(), state: z.string() });
const masterAppSchema = z.object({
  id: z.string(),
  name: z.string(),
  state: z.string(),
  starttime: z.number(),
  duration: z.number().optional(),
  cores: z.number().optional(),
});
export const masterJsonSchema = z.object({
  status: z.string(),
  aliveworkers: z.number().int().min(0).optional(),
  workers: z.array(masterWorkerSchema),
  activeapps: z.array(masterAppSchema),
});
export type MasterJson = z.output<typeof masterJsonSchema>;

/** Validates a parsed `/json/` document; throws SUP_ERR_SPARK_BAD_RESPONSE naming each bad field. */
export function parseMasterJson(doc: unknown, where: string): MasterJson {
  const r = masterJsonSchema.safeParse(doc);
  if (r.success) return r.data;
  const problems = r.error.issues.slice(0, 10).map((i) => {
    const field = formatPath(i.path);
    return i.code === 'invalid_type' && /received undefined/.test(i.message) ? `missing field ${field}` : `${field}: ${i.message}`;
  });
  throw new SupervisorError('SUP_ERR_SPARK_BAD_RESPONSE', `unexpected master JSON: ${problems.join('; ')}`, { where, problems });
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(document)';
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

// ---------------------------------------------------------------------------------------

export interface SparkCheckParams {
  name: string;
  options: SparkOptionsInput;
  logger?: Logger;
  clock?: Clock;
  intervalMs?: number;
  timeoutMs?: number;
  labels?: Readonly<Record<string, string>>;
}

export interface SparkCheck extends CheckProbe {
  readonly masterUiUrl: string;
  close(): Promise<void>;
}

interface ProgressMemory {
  fingerprint: string;
  /** Epoch ms of the first probe that saw the current values. */
  since: number;
  /** Whether the values changed at least once while observed (then `since` is a real change time). */
  changed: boolean;
}

export function createSparkCheck(params: SparkCheckParams): SparkCheck {
  const options = parseSparkOptions(params.name, params.options);
  const base = masterUiUrl(options.masterUrl, options.masterUiPort);
  const logger = (params.logger ?? silentLogger).child({ component: 'checks', name: params.name });
  const clock = params.clock ?? systemClock;
  const timeoutMs = options.requestTimeout * 1000;
  const agents: Partial<Record<'master' | 'driver', HttpAgent>> = {};
  let closed: Promise<void> | null = null;
  let lastStatus: Status | null = null;
  const progress = new Map<string, ProgressMemory>();
  const access = accessSettings(options);
  const where = `checks.${params.name}`;

  // One agent per role when their TLS differs (undici's connect options are per agent). The TLS
  // files are read when an agent is built: the first probe, and again after it failed.
  const dispatcher = (what: 'master' | 'driver'): HttpAgent => {
    if (closed) throw new SupervisorError('SUP_ERR_PROBE_FAILED', `check "${params.name}" is closed`);
    const role = what === 'driver' && access.driver.ownTls ? 'driver' : 'master';
    const tls = access[role].tls;
    agents[role] ??= createHttpAgent({
      connectTimeout: timeoutMs,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      keepAliveTimeout: 30_000,
      ...(hasTlsSettings(tls) ? { connect: readTlsFiles(tls, role === 'driver' ? `${where}.driver` : where) } : {}),
    });
    return agents[role];
  };

  /** GET with up to 3 redirects (Spark's servlets redirect `/metrics/prometheus` to `.../`). */
  async function fetchText(url: string, what: 'master' | 'driver', signal: AbortSignal, redirects = 3): Promise<string> {
    let res: HttpResponse;
    try {
      res = await httpRequest(url, { method: 'GET', dispatcher: dispatcher(what), signal, headers: { accept: 'application/json, text/plain', ...access[what].headers } });
      const location = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(res.statusCode) && typeof location === 'string' && redirects > 0) {
        await res.body.dump();
        const next = new URL(location, url);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw new SupervisorError('SUP_ERR_SPARK_BAD_RESPONSE', `redirected to a non-HTTP URL ${next.protocol}`, { where: url });
        }
        return await fetchText(next.toString(), what, signal, redirects - 1);
      }
    } catch (err) {
      if (isSupervisorError(err)) throw err;
      const tlsProblem = signal.aborted ? null : describeTlsError(err, hostPortOf(url));
      if (tlsProblem) throw new SupervisorError('SUP_ERR_SPARK_UNREACHABLE', tlsProblem, { where: url, cause: err });
      const code = (err as { code?: string }).code ?? (err as Error).name;
      throw new SupervisorError(
        'SUP_ERR_SPARK_UNREACHABLE',
        `the Spark ${what === 'master' ? 'master' : 'driver'} did not answer: ${code}${(err as Error).message ? ` (${(err as Error).message})` : ''}`,
        { where: url, cause: err },
      );
    }
    const text = await res.body.text().catch((err: unknown) => {
      throw new SupervisorError('SUP_ERR_SPARK_UNREACHABLE', `reading the answer failed: ${(err as Error).message}`, { where: url, cause: err });
    });
    if (res.statusCode === 401 || res.statusCode === 403) {
      const who = what === 'master' ? 'the Spark master' : 'the Spark driver';
      const given = access[what].headers.authorization !== undefined || Object.keys(access[what].headers).length > 0;
      throw new SupervisorError(
        'SUP_ERR_SPARK_UNREACHABLE',
        res.statusCode === 401
          ? `${who} refused the credentials: 401 Unauthorized from ${url}${given ? '' : ' (no credentials configured: set username/password or headers)'}`
          : `${who} refused the request: 403 Forbidden: the credentials lack permission for GET ${url}`,
        { where: url },
      );
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      throw new SupervisorError('SUP_ERR_SPARK_BAD_RESPONSE', `HTTP ${res.statusCode}: ${text.slice(0, 200).replace(/\s+/g, ' ')}`, { where: url });
    }
    return text;
  }

  async function readMaster(signal: AbortSignal): Promise<MasterJson> {
    const url = `${base}/json/`;
    const text = await fetchText(url, 'master', signal);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new SupervisorError('SUP_ERR_SPARK_BAD_RESPONSE', `the master answered with invalid JSON (${(err as Error).message})`, { where: url });
    }
    return parseMasterJson(doc, url);
  }

  async function probe(ctx: ProbeContext): Promise<Signal[]> {
    const started = clock.now();
    const statuses: Status[] = [];
    const problems: string[] = [];
    let error: { code: string; message: string } | undefined;
    const facts: SparkFacts = {
      kind: 'spark',
      masterStatus: null,
      aliveWorkers: 0,
      expectedWorkers: options.expectedWorkers,
      apps: [],
      expectedApps: options.apps.map((name) => ({ name, running: false })),
    };
    let master: MasterJson | null = null;
    try {
      master = await readMaster(ctx.signal);
    } catch (err) {
      error = errorOf(err, ctx.signal);
      const refused = isSupervisorError(err) && (err.cause as { code?: string } | undefined)?.code === 'ECONNREFUSED';
      statuses.push(refused ? 'crit' : 'unknown');
      problems.push(refused ? `master ${base} refused the connection` : `master ${base}: ${error.message}`);
    }

    if (master) judgeMaster(master, options, ctx.now(), facts, { statuses, problems });

    if (options.driverMetricsUrl !== undefined) {
      try {
        const text = await fetchText(options.driverMetricsUrl, 'driver', ctx.signal);
        const { queries } = parseStreamingMetrics(text, options.driverMetricsUrl);
        facts.queries = judgeQueries(queries, ctx.now(), statuses, problems);
      } catch (err) {
        const e = errorOf(err, ctx.signal);
        error ??= e;
        statuses.push('unknown');
        problems.push(`driver metrics ${options.driverMetricsUrl}: ${e.message}`);
      }
    }

    const status = worstStatus(statuses);
    const summary = sparkSummary(master, base, options.expectedWorkers, facts, problems);

    const signal: Signal = {
      check: params.name,
      kind: 'spark',
      target: base,
      labels: { master: base, ...params.labels },
      status,
      value: facts.aliveWorkers,
      unit: 'count',
      threshold: options.expectedWorkers,
      observedAt: ctx.now(),
      durationMs: Math.max(0, clock.now() - started),
      summary,
      facts,
      ...(error ? { error } : {}),
    };
    // transitions are logged once, by the signal-state stream; this is the probe's own detail
    if (status !== lastStatus) {
      logger.debug({ status, was: lastStatus }, `now ${status.toUpperCase()}: ${summary}`);
      lastStatus = status;
    }
    return [signal];
  }

  function judgeQueries(queries: QueryGauges[], now: number, statuses: Status[], problems: string[]): StreamingQueryFacts[] {
    const { streaming } = options;
    const out: StreamingQueryFacts[] = [];
    const seen = new Set<string>();
    for (const q of queries) {
      seen.add(q.name);
      const fingerprint = JSON.stringify([q.inputRowsPerSecond, q.processedRowsPerSecond, q.latencyMs, q.watermarkMs, q.stateRows]);
      const mem = progress.get(q.name);
      let age: number | null = null;
      if (!mem) progress.set(q.name, { fingerprint, since: now, changed: false });
      else if (mem.fingerprint !== fingerprint) progress.set(q.name, { fingerprint, since: now, changed: true });
      else age = Math.max(0, (now - mem.since) / 1000);
      const facts: StreamingQueryFacts = {
        name: q.name,
        inputRowsPerSecond: q.inputRowsPerSecond,
        processedRowsPerSecond: q.processedRowsPerSecond,
        lastProgressAgeSeconds: age === null ? (mem ? 0 : null) : round3(age),
        ...(q.latencyMs !== null ? { latencyMs: q.latencyMs } : {}),
        ...(q.watermarkMs !== null && q.watermarkMs > 0 ? { watermarkAgeSeconds: round3(Math.max(0, (now - q.watermarkMs) / 1000)) } : {}),
      };
      out.push(facts);
      const input = q.inputRowsPerSecond ?? 0;
      if (age !== null && age > streaming.maxProgressAge && input > 0) {
        statuses.push('warn');
        problems.push(`query "${q.name}" made no progress for ${fmtSeconds(age)} (last input ${fmtRate(input)} rows/s)`);
      }
      if (streaming.minProcessedRatio > 0 && input > 0 && q.processedRowsPerSecond !== null && q.processedRowsPerSecond < input * streaming.minProcessedRatio) {
        statuses.push('warn');
        problems.push(`query "${q.name}" falls behind: processed ${fmtRate(q.processedRowsPerSecond)} rows/s < input ${fmtRate(input)} rows/s`);
      }
    }
    for (const name of streaming.queries) {
      const found = seen.has(name) || seen.has(prometheusName(name));
      if (!found) {
        statuses.push('crit');
        problems.push(`query "${name}" reports no metrics (not running, or spark.sql.streaming.metricsEnabled is off)`);
        out.push({ name, inputRowsPerSecond: null, processedRowsPerSecond: null, lastProgressAgeSeconds: null });
      }
    }
    for (const name of [...progress.keys()]) if (!seen.has(name)) progress.delete(name);
    if (out.length === 0) statuses.push('ok');
    return out;
  }

  return {
    name: params.name,
    kind: 'spark',
    intervalMs: params.intervalMs ?? 60_000,
    timeoutMs: params.timeoutMs ?? 20_000,
    masterUiUrl: base,
    // what cannot be observed at all propagates: the scheduler turns it into the check-wide signal (CheckProbe)
    probe,
    close(): Promise<void> {
      if (!closed) {
        const open = Object.values(agents);
        closed = (async () => {
          try {
            await Promise.all(open.map((a) => a.close()));
          } catch (err) {
            logger.warn({ err: describeError(err) }, 'closing the HTTP agent failed');
          }
        })();
      }
      return closed;
    },
  };
}

/** What the steps of one probe found: the statuses to combine and the problems to name. */
export interface SparkVerdict {
  statuses: Status[];
  problems: string[];
}

/**
 * Master status → workers → applications: fills `facts` from the master's `/json/` answer and
 * adds what is wrong (master not ALIVE, too few workers, an expected app not RUNNING, no app).
 */
export function judgeMaster(master: MasterJson, options: SparkOptions, now: number, facts: SparkFacts, verdict: SparkVerdict): void {
  const { statuses, problems } = verdict;
  facts.masterStatus = master.status;
  facts.aliveWorkers = master.aliveworkers ?? master.workers.filter((w) => w.state === 'ALIVE').length;
  facts.apps = master.activeapps.map((a): SparkAppFacts => ({
    id: a.id,
    name: a.name,
    state: a.state,
    durationSeconds: Math.max(0, Math.round((a.duration ?? now - a.starttime) / 1000)),
    ...(a.cores !== undefined ? { cores: a.cores } : {}),
  }));
  if (master.status === 'ALIVE') statuses.push('ok');
  else {
    const s: Status = ['STANDBY', 'RECOVERING', 'COMPLETING_RECOVERY'].includes(master.status) ? 'warn' : 'crit';
    statuses.push(s);
    problems.push(`master is ${master.status}`);
  }
  if (facts.aliveWorkers < options.expectedWorkers) {
    statuses.push(facts.aliveWorkers === 0 ? 'crit' : 'warn');
    problems.push(`${facts.aliveWorkers}/${options.expectedWorkers} workers alive`);
  }
  judgeApps(options, facts, verdict);
}

/** Expected apps must be RUNNING; without a list, no app is `noAppsStatus` and a non-running app warns. */
export function judgeApps(options: Pick<SparkOptions, 'apps' | 'noAppsStatus'>, facts: SparkFacts, verdict: SparkVerdict): void {
  const { statuses, problems } = verdict;
  if (options.apps.length > 0) {
    facts.expectedApps = options.apps.map((name) => {
      const matches = facts.apps.filter((a) => a.name === name);
      const running = matches.some((a) => a.state === 'RUNNING');
      if (!running) {
        statuses.push('crit');
        problems.push(matches.length ? `app "${name}" is ${matches.map((a) => a.state).join('/')}` : `app "${name}" is not running`);
      }
      return { name, running };
    });
  } else if (facts.apps.length === 0) {
    statuses.push(options.noAppsStatus);
    if (options.noAppsStatus !== 'ok') problems.push('no active application');
  } else {
    for (const a of facts.apps) {
      if (a.state !== 'RUNNING') {
        statuses.push('warn');
        problems.push(`app "${a.name}" (${a.id}) is ${a.state}`);
      }
    }
  }
}

/** The signal's summary: the problems first, then what was seen (master, workers, apps, queries). */
export function sparkSummary(master: MasterJson | null, base: string, expectedWorkers: number, facts: SparkFacts, problems: readonly string[]): string {
  const appsText = facts.apps.length ? facts.apps.map((a) => `${a.name} ${a.state} ${fmtSeconds(a.durationSeconds)}`).join(', ') : 'no active apps';
  const queriesText = facts.queries?.length
    ? `; queries: ${facts.queries.map((q) => `${q.name} in ${fmtRate(q.inputRowsPerSecond)}/s processed ${fmtRate(q.processedRowsPerSecond)}/s`).join(', ')}`
    : '';
  const head = master ? `master ${master.status}, ${facts.aliveWorkers}/${expectedWorkers} workers, ${appsText}${queriesText}` : `master ${base} unavailable`;
  return problems.length && master ? `${problems.join('; ')} (${head})` : problems.length ? problems.join('; ') : head;
}

interface Access {
  headers: Record<string, string>;
  tls: TlsSettings;
}

/** Request headers and TLS of the master and of the driver (each driver field defaults to the master's). */
function accessSettings(o: SparkOptions): { master: Access; driver: Access & { ownTls: boolean } } {
  const headersOf = (auth: SparkOptions['auth'], headers: SparkOptions['headers']): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = v;
    if (auth) out.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    return out;
  };
  const masterTls = pickTlsSettings(o);
  const driverTls = o.driver ? pickTlsSettings(o.driver) : {};
  const ownTls = hasTlsSettings(driverTls);
  return {
    master: { headers: headersOf(o.auth, o.headers), tls: masterTls },
    driver: {
      headers: headersOf(o.driver?.auth ?? o.auth, o.driver?.headers ?? o.headers),
      tls: ownTls ? { ...masterTls, ...driverTls } : masterTls,
      ownTls,
    },
  };
}

function errorOf(err: unknown, signal: AbortSignal): { code: string; message: string } {
  if (signal.aborted || (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError'))) {
    const reason: unknown = signal.reason;
    return { code: 'SUP_ERR_PROBE_TIMEOUT', message: `aborted: ${reason instanceof Error ? reason.message : describeError(err).message}` };
  }
  return describeError(err, 'SUP_ERR_SPARK_UNREACHABLE');
}

/** The seed's `SparkJobCheckOperator(spark_master, job_name)`: job_name null/undefined = all apps. */
export interface SparkJobTaskParams {
  spark_master: string;
  job_name?: string | null;
  expected_workers?: number;
  driver_metrics_url?: string;
  /** Auth, headers and TLS of the master (and driver), e.g. from `connections.spark`. */
  connection?: Pick<SparkOptionsInput, 'auth' | 'headers' | 'driver' | keyof typeof tlsSettingsShape>;
  name?: string;
  logger?: Logger;
}

export async function sparkJobTask(params: SparkJobTaskParams, ctx: ProbeContext): Promise<Signal> {
  const check = createSparkCheck({
    name: params.name ?? 'spark_job',
    options: {
      ...params.connection,
      masterUrl: params.spark_master,
      apps: params.job_name ? [params.job_name] : [],
      ...(params.expected_workers !== undefined ? { expectedWorkers: params.expected_workers } : {}),
      ...(params.driver_metrics_url !== undefined ? { driverMetricsUrl: params.driver_metrics_url } : {}),
    },
    ...(params.logger ? { logger: params.logger } : {}),
  });
  try {
    const [signal] = await check.probe(ctx);
    if (!signal) throw new SupervisorError('SUP_ERR_INTERNAL', 'spark probe returned no signal');
    return signal;
  } finally {
    await check.close();
  }
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function fmtRate(n: number | null): string {
  if (n === null) return '?';
  return n >= 100 ? String(Math.round(n)) : String(Math.round(n * 10) / 10);
}

function fmtSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600) ? `${Math.floor((s % 86400) / 3600)}h` : ''}`;
}
