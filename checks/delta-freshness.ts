/**
 * Delta freshness check: how long ago did the data of a Delta table (S3 or local path) last
 * change, compared with a maximum age. One module, three entry points:
 *
 * - `deltaFreshnessOptionsSchema`: the options of a `kind: delta_freshness` check (strict);
 * - `createDeltaFreshnessCheck(...)`: a `CheckProbe` that keeps its S3 client and what it
 *   learnt about the log between runs (so a steady state costs ≤ 3 requests);
 * - `dataFreshnessTask(...)`: the seed's `DataFreshnessCheckOperator(delta_path, max_age_minutes)`.
 *
 * Status: `ok` when the last data change is younger than `maxAge` (`warn` past `warnAge`),
 * `crit` when older or when the table does not exist, `unknown` when the log cannot be read
 * (S3 error, corrupt commit — the error names the file).
 */
import { z } from 'zod';
import { describeError, isSupervisorError, SupervisorError } from '../src/protocol';
import { silentLogger } from '../src/shared/logger';
import { systemClock } from '../src/shared/clock';
import type { CheckProbe, Clock, DeltaFacts, Logger, ProbeContext, Signal, Status } from '../src/protocol';
import { createDeltaLogReader, type DeltaLogReader, type DeltaSnapshot } from './delta-log';
import { createObjectStore, parseStoreLocation, s3ConnectionSchema, type ObjectStore, type StoreLocation } from './object-store';

export const deltaFreshnessOptionsSchema = z
  .strictObject({
    /** `s3a://bucket/prefix`, `s3://bucket/prefix`, `file:///dir` or a local directory. */
    path: z.string().min(1),
    /** Maximum age of the last data change, in seconds (`crit` above). */
    maxAge: z.number().positive(),
    /** Optional earlier warning threshold, in seconds (must be below maxAge). */
    warnAge: z.number().positive().optional(),
    /** S3 connection (ignored for local paths). Defaults: region us-east-1, path-style. */
    s3: s3ConnectionSchema.prefault({}),
    /** Older commits read per run when the newest commits did not change data (OPTIMIZE...). */
    maxWalkBack: z.number().int().min(0).max(1000).default(20),
  })
  .superRefine((o, ctx) => {
    if (o.warnAge !== undefined && o.warnAge >= o.maxAge) {
      ctx.addIssue({ code: 'custom', path: ['warnAge'], message: `warnAge (${o.warnAge}s) must be below maxAge (${o.maxAge}s)` });
    }
    try {
      parseStoreLocation(o.path);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['path'], message: describeError(err).message });
    }
  });

export type DeltaFreshnessOptions = z.output<typeof deltaFreshnessOptionsSchema>;
export type DeltaFreshnessOptionsInput = z.input<typeof deltaFreshnessOptionsSchema>;

export interface DeltaFreshnessCheckParams {
  name: string;
  /** Raw options (validated here) or already-validated ones. */
  options: DeltaFreshnessOptionsInput;
  logger?: Logger;
  /** Used for the probe duration; ages use `ctx.now()`. */
  clock?: Clock;
  /** Scheduling, filled in by the composition root (defaults: 60 s / 20 s). */
  intervalMs?: number;
  timeoutMs?: number;
  labels?: Readonly<Record<string, string>>;
}

/** Validates options, naming the check in the error. */
export function parseDeltaFreshnessOptions(name: string, options: unknown): DeltaFreshnessOptions {
  const r = deltaFreshnessOptionsSchema.safeParse(options);
  if (!r.success) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `invalid options for delta_freshness check "${name}"`, {
      where: `checks.${name}`,
      problems: r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(options)'}: ${i.message}`),
    });
  }
  return Object.freeze(r.data);
}

export interface DeltaFreshnessCheck extends CheckProbe {
  /** The table location as reported in signals (never contains credentials). */
  readonly location: StoreLocation;
  close(): Promise<void>;
}

export function createDeltaFreshnessCheck(params: DeltaFreshnessCheckParams): DeltaFreshnessCheck {
  const options = parseDeltaFreshnessOptions(params.name, params.options);
  const location = parseStoreLocation(options.path);
  const logger = (params.logger ?? silentLogger).child({ component: 'checks', name: params.name });
  const clock = params.clock ?? systemClock;
  // Connect to nothing yet: the S3 client is built on the first probe.
  let store: ObjectStore | null = null;
  let reader: DeltaLogReader | null = null;
  let closed: Promise<void> | null = null;
  let lastStatus: Status | null = null;

  const ensure = (): DeltaLogReader => {
    if (closed) throw new SupervisorError('SUP_ERR_PROBE_FAILED', `check "${params.name}" is closed`);
    if (!store) store = createObjectStore(location, options.s3);
    if (!reader) reader = createDeltaLogReader({ store, maxWalkBack: options.maxWalkBack, logger });
    return reader;
  };

  return {
    name: params.name,
    kind: 'delta_freshness',
    intervalMs: params.intervalMs ?? 60_000,
    timeoutMs: params.timeoutMs ?? 20_000,
    location,
    async probe(ctx: ProbeContext): Promise<Signal[]> {
      const started = clock.now();
      const before = store?.requestCount() ?? 0;
      let signal: Signal;
      try {
        const snapshot = await ensure().read(ctx.signal);
        signal = snapshotSignal(params.name, options, location, snapshot, ctx.now(), params.labels);
      } catch (err) {
        signal = errorSignal(params.name, options, location, err, ctx, (store?.requestCount() ?? 0) - before, params.labels);
      }
      signal.durationMs = Math.max(0, clock.now() - started);
      // transitions are logged once, by the signal-state stream; this is the probe's own detail
      if (signal.status !== lastStatus) {
        logger.debug({ status: signal.status, was: lastStatus, requests: (signal.facts as DeltaFacts).requests }, `now ${signal.status.toUpperCase()}: ${signal.summary}`);
        lastStatus = signal.status;
      }
      return [signal];
    },
    close(): Promise<void> {
      if (!closed) {
        const s = store;
        store = null;
        reader = null;
        closed = (async () => {
          try {
            await s?.close();
          } catch (err) {
            logger.warn({ err: describeError(err) }, 'closing the object store failed');
          }
        })();
      }
      return closed;
    },
  };
}

/** The seed's `DataFreshnessCheckOperator(delta_path, max_age_minutes)` as a one-shot task. */
export interface DataFreshnessTaskParams {
  delta_path: string;
  max_age_minutes: number;
  s3?: z.input<typeof s3ConnectionSchema>;
  /** Check name used in the signal (default `data_freshness`). */
  name?: string;
  logger?: Logger;
}

export async function dataFreshnessTask(params: DataFreshnessTaskParams, ctx: ProbeContext): Promise<Signal> {
  const name = params.name ?? 'data_freshness';
  const check = createDeltaFreshnessCheck({
    name,
    options: { path: params.delta_path, maxAge: params.max_age_minutes * 60, ...(params.s3 ? { s3: params.s3 } : {}) },
    ...(params.logger ? { logger: params.logger } : {}),
  });
  try {
    const [signal] = await check.probe(ctx);
    if (!signal) throw new SupervisorError('SUP_ERR_INTERNAL', 'delta freshness probe returned no signal');
    return signal;
  } finally {
    await check.close();
  }
}

// ---------------------------------------------------------------------------------------

function snapshotSignal(
  name: string,
  options: DeltaFreshnessOptions,
  location: StoreLocation,
  s: DeltaSnapshot,
  now: number,
  labels: Readonly<Record<string, string>> | undefined,
): Signal {
  const threshold = options.maxAge;
  const dataTime = s.lastDataChange?.time ?? s.unresolved?.noDataChangeSince.time ?? null;
  const age = dataTime === null ? null : Math.max(0, (now - dataTime) / 1000);
  const facts: DeltaFacts = {
    kind: 'delta_freshness',
    table: location.url,
    version: s.version,
    lastCommitAt: s.latest.time,
    lastDataChangeAt: s.lastDataChange?.time ?? null,
    lastDataChangeVersion: s.lastDataChange?.version ?? null,
    ageSeconds: age === null ? null : round3(age),
    thresholdSeconds: threshold,
    timeSource: (s.lastDataChange ?? s.latest).timeSource,
    requests: s.requests,
    checkpointVersion: s.checkpointVersion,
    lastOperation: s.latest.operation,
    ...(s.unresolved ? { lowerBound: s.unresolved.reason } : {}),
  };
  let status: Status;
  let summary: string;
  const newest =
    s.lastDataChange && s.lastDataChange.version === s.version
      ? ''
      : `; newest commit v${s.version}${s.latest.operation ? ` ${s.latest.operation}` : ''} ${fmtSeconds((now - s.latest.time) / 1000)} ago changed no data`;
  if (s.lastDataChange && age !== null) {
    status = age > threshold ? 'crit' : options.warnAge !== undefined && age > options.warnAge ? 'warn' : 'ok';
    summary = `${location.url} data last changed ${fmtSeconds(age)} ago at v${s.lastDataChange.version} (threshold ${fmtSeconds(threshold)})${newest}`;
  } else if (s.unresolved && age !== null) {
    const since = `v${s.unresolved.noDataChangeSince.version}`;
    const why =
      s.unresolved.reason === 'no-data-ever'
        ? `no commit since the table was created (${since}) changed data`
        : s.unresolved.reason === 'history-removed'
          ? `no data change since ${since}, the oldest commit still in the log`
          : `no data change in the commits read so far (down to ${since}); older commits will be read on the next runs`;
    if (age > threshold) status = 'crit';
    else status = s.unresolved.reason === 'no-data-ever' ? 'warn' : 'unknown';
    summary = `${location.url} data is at least ${fmtSeconds(age)} old: ${why} (threshold ${fmtSeconds(threshold)})`;
  } else {
    status = 'unknown';
    summary = `${location.url}: last data change unknown`;
  }
  if (s.notes.length) summary += ` [${s.notes.join('; ')}]`;
  return {
    check: name,
    kind: 'delta_freshness',
    target: location.url,
    labels: { table: location.url, ...labels },
    status,
    ...(age !== null ? { value: round3(age) } : {}),
    unit: 'seconds',
    threshold,
    observedAt: now,
    durationMs: 0,
    summary,
    facts,
  };
}

function errorSignal(
  name: string,
  options: DeltaFreshnessOptions,
  location: StoreLocation,
  err: unknown,
  ctx: ProbeContext,
  requests: number,
  labels: Readonly<Record<string, string>> | undefined,
): Signal {
  const missing = isSupervisorError(err) && err.code === 'SUP_ERR_DELTA_TABLE_MISSING';
  const aborted = ctx.signal.aborted || (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError'));
  const error = aborted
    ? { code: 'SUP_ERR_PROBE_TIMEOUT', message: `reading the Delta log of ${location.url} was aborted: ${describeError(err).message}` }
    : describeError(err, location.kind === 's3' ? 'SUP_ERR_S3' : 'SUP_ERR_PROBE_FAILED');
  return {
    check: name,
    kind: 'delta_freshness',
    target: location.url,
    labels: { table: location.url, ...labels },
    status: missing ? 'crit' : 'unknown',
    unit: 'seconds',
    threshold: options.maxAge,
    observedAt: ctx.now(),
    durationMs: 0,
    summary: missing ? `Delta table missing: ${error.message}` : `cannot read the Delta log of ${location.url}: ${error.message}`,
    facts: {
      kind: 'delta_freshness',
      table: location.url,
      version: null,
      lastCommitAt: null,
      lastDataChangeAt: null,
      lastDataChangeVersion: null,
      ageSeconds: null,
      thresholdSeconds: options.maxAge,
      timeSource: null,
      requests,
    },
    error,
  };
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** 42s, 3m12s, 2h, 1h30m, 2d4h. */
export function fmtSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600) ? `${Math.floor((s % 86400) / 3600)}h` : ''}`;
}
