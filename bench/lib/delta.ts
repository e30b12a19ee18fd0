/** Writes minimal valid Delta logs straight to the stack's S3 (one PUT per commit, bounded concurrency). */
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

const pad = (v: number): string => String(v).padStart(20, '0');

/** One commit: commitInfo + protocol/metaData at version 0, then an `add` with dataChange=true. */
export function commitBody(version: number, at: number): string {
  const lines: unknown[] = [{ commitInfo: { timestamp: at, operation: version === 0 ? 'CREATE TABLE' : 'WRITE', operationParameters: { mode: 'Append' } } }];
  if (version === 0) {
    lines.push({ protocol: { minReaderVersion: 1, minWriterVersion: 2 } });
    lines.push({
      metaData: {
        id: '00000000-0000-0000-0000-000000000000',
        format: { provider: 'parquet', options: {} },
        schemaString: JSON.stringify({ type: 'struct', fields: [{ name: 'domain', type: 'string', nullable: true, metadata: {} }] }),
        partitionColumns: [],
        configuration: {},
        createdTime: at,
      },
    });
  }
  lines.push({ add: { path: `part-${pad(version)}.parquet`, partitionValues: {}, size: 1024, modificationTime: at, dataChange: true } });
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

export async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * Writes versions [from, to) under `prefix/_delta_log/`. With `checkpointEvery`, also writes a
 * `_last_checkpoint` naming the newest multiple (and an empty placeholder checkpoint object:
 * the freshness check reads only the hint, never the parquet).
 */
export async function writeDeltaLog(
  s3: S3Client,
  bucket: string,
  prefix: string,
  from: number,
  to: number,
  opts: { checkpointEvery?: number; concurrency?: number } = {},
): Promise<void> {
  const versions = Array.from({ length: to - from }, (_, i) => from + i);
  const now = Date.now();
  await mapLimit(versions, opts.concurrency ?? 32, async (v) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/_delta_log/${pad(v)}.json`, Body: commitBody(v, now) }));
  });
  if (opts.checkpointEvery && to - 1 >= opts.checkpointEvery) {
    const cp = Math.floor((to - 1) / opts.checkpointEvery) * opts.checkpointEvery;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/_delta_log/${pad(cp)}.checkpoint.parquet`, Body: 'PAR1' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/_delta_log/_last_checkpoint`, Body: JSON.stringify({ version: cp, size: to }) }));
  }
}
