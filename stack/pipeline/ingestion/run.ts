/**
 * One ingestion run: read the selected sources, parse and normalise each feed, then produce the
 * de-duplicated records. A source whose feed is missing or malformed fails alone; the others are
 * still produced. Kafka/registry access goes through an injected `DomainProducer`.
 */
import type { Logger } from 'pino';
import { FeedError, parseFeed } from './feeds';
import { fetchFeed } from './fetch';
import { processFeed, type ProcessedFeed } from './process';
import { AbortedError, type DomainProducer, type HarmfulDomainValue } from './producer';
import type { SourceConfig } from './sources';

export interface SourceSummary {
  fetched: number;
  valid: number;
  invalid: number;
  duplicates: number;
  produced: number;
  error?: string;
}

export interface RunSummary {
  ok: boolean;
  runId: string;
  logicalDate?: string;
  topic: string;
  sources: Record<string, SourceSummary>;
  /** set when the run as a whole failed (usage, config, abort) */
  error?: string;
  durationMs: number;
}

export interface RunParams {
  sources: SourceConfig[];
  topic: string;
  runId: string;
  logicalDate?: string;
  logger: Logger;
  /** created lazily, only when some source has records to send */
  createProducer: () => DomainProducer;
  signal?: AbortSignal;
  now?: () => number;
}

const empty = (): SourceSummary => ({ fetched: 0, valid: 0, invalid: 0, duplicates: 0, produced: 0 });

function message(err: unknown): string {
  if (err instanceof FeedError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Rejects with AbortedError as soon as the signal fires (the work itself is left to `close()`). */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.reject(new AbortedError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes the work's own rejection through unchanged
        reject(e);
      },
    );
  });
}

export async function runIngestion(params: RunParams): Promise<RunSummary> {
  const now = params.now ?? Date.now;
  const started = now();
  const log = params.logger.child({ component: 'ingestion' });
  const summary: RunSummary = { ok: false, runId: params.runId, topic: params.topic, sources: {}, durationMs: 0 };
  if (params.logicalDate !== undefined) summary.logicalDate = params.logicalDate;
  const ingestedAt = started;

  // 1. Read and normalise every feed; a bad feed fails only its source.
  const ready: { source: SourceConfig; processed: ProcessedFeed }[] = [];
  for (const source of params.sources) {
    const s = (summary.sources[source.name] = empty());
    if (params.signal?.aborted) break;
    try {
      const text = await fetchFeed(source, params.signal);
      const parsed = parseFeed(source.format, text, { ...(source.csv ? { csv: source.csv } : {}), where: source.location });
      const processed = processFeed(parsed);
      Object.assign(s, processed.counts);
      log.info({ source: source.name, format: source.format, ...processed.counts, unique: processed.records.length, invalidByReason: processed.invalidByReason }, 'feed parsed');
      if (processed.invalidSamples.length > 0) log.debug({ source: source.name, samples: processed.invalidSamples }, 'invalid entries (sample)');
      ready.push({ source, processed });
    } catch (err) {
      s.error = message(err);
      log.error({ source: source.name, where: source.location, error: s.error }, 'source failed');
    }
  }

  // 2. Produce, source by source, through one idempotent producer.
  let producer: DomainProducer | undefined;
  try {
    if (ready.some((r) => r.processed.records.length > 0) && !params.signal?.aborted) {
      producer = params.createProducer();
      try {
        await abortable(producer.start(), params.signal);
      } catch (err) {
        const msg = err instanceof AbortedError ? err.message : `cannot start producer: ${message(err)}`;
        for (const r of ready) summary.sources[r.source.name]!.error = msg;
        log.error({ error: msg }, 'producer failed to start');
        ready.length = 0;
      }
      for (const { source, processed } of ready) {
        const s = summary.sources[source.name]!;
        const values: HarmfulDomainValue[] = processed.records.map((r) => ({
          domain: r.domain,
          source: source.name,
          category: source.category,
          first_seen: r.firstSeen ?? ingestedAt,
          ingested_at: ingestedAt,
          run_id: params.runId,
        }));
        try {
          s.produced = await producer.send(values, params.signal);
          log.info({ source: source.name, produced: s.produced, topic: params.topic }, 'source produced');
        } catch (err) {
          s.error = err instanceof AbortedError ? err.message : `produce failed: ${message(err)}`;
          log.error({ source: source.name, error: s.error }, 'produce failed');
          if (err instanceof AbortedError) break;
        }
      }
    }
  } finally {
    await producer?.close();
  }

  if (params.signal?.aborted) {
    summary.error = 'aborted by signal before all sources were ingested';
    for (const source of params.sources) {
      const s = summary.sources[source.name] ?? (summary.sources[source.name] = empty());
      if (s.error === undefined && s.produced === 0 && s.valid > 0) s.error = 'not produced: aborted';
    }
  }
  summary.ok = summary.error === undefined && Object.values(summary.sources).every((s) => s.error === undefined);
  summary.durationMs = now() - started;
  return summary;
}
