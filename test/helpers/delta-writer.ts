/**
 * Test helpers that write Delta tables:
 * - hand-made `_delta_log` commits (JSON actions per the Delta protocol) in a local directory
 *   or an S3 prefix, for exact control over versions, times and corrupt files;
 * - real tables written by the `deltalake` Python package (delta-rs) through the stack's venv
 *   (`test/fixtures/delta/write_table.py`).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export type DeltaAction = Record<string, unknown>;

let fileCounter = 0;

export const action = {
  protocol: (ict = false): DeltaAction => ({
    protocol: ict ? { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: [], writerFeatures: ['inCommitTimestamp'] } : { minReaderVersion: 1, minWriterVersion: 2 },
  }),
  metaData: (configuration: Record<string, string> = {}): DeltaAction => ({
    metaData: {
      id: '3f6c1f4e-0000-4000-8000-000000000001',
      format: { provider: 'parquet', options: {} },
      schemaString: JSON.stringify({ type: 'struct', fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }] }),
      partitionColumns: [],
      configuration,
      createdTime: 1700000000000,
    },
  }),
  add: (dataChange = true): DeltaAction => ({
    add: { path: `part-${++fileCounter}.parquet`, partitionValues: {}, size: 100, modificationTime: 1700000000000, dataChange },
  }),
  remove: (dataChange = true): DeltaAction => ({
    remove: { path: `part-${++fileCounter}.parquet`, deletionTimestamp: 1700000000000, dataChange },
  }),
  txn: (version: number): DeltaAction => ({ txn: { appId: 'stream-1', version } }),
  commitInfo: (operation: string, extra: Record<string, unknown> = {}): DeltaAction => ({
    commitInfo: { timestamp: 1700000000000, operation, operationParameters: {}, ...extra },
  }),
};

/** Typical commits. `ict` puts `inCommitTimestamp` first, as the protocol requires. */
export const commits = {
  create: (ict?: number): DeltaAction[] => [
    action.commitInfo('CREATE TABLE', ict !== undefined ? { inCommitTimestamp: ict } : {}),
    action.protocol(ict !== undefined),
    action.metaData(ict !== undefined ? { 'delta.enableInCommitTimestamps': 'true' } : {}),
  ],
  write: (ict?: number): DeltaAction[] => [action.commitInfo('WRITE', ict !== undefined ? { inCommitTimestamp: ict } : {}), action.add()],
  optimize: (ict?: number): DeltaAction[] => [
    action.commitInfo('OPTIMIZE', ict !== undefined ? { inCommitTimestamp: ict } : {}),
    action.add(false),
    action.remove(false),
    action.remove(false),
  ],
  setProperties: (): DeltaAction[] => [action.commitInfo('SET TBLPROPERTIES'), action.metaData({ 'delta.logRetentionDuration': 'interval 7 days' })],
  vacuum: (): DeltaAction[] => [action.commitInfo('VACUUM END')],
  emptyStreamingBatch: (v: number): DeltaAction[] => [action.commitInfo('STREAMING UPDATE'), action.txn(v)],
};

export function commitBody(actions: DeltaAction[]): string {
  return actions.map((a) => JSON.stringify(a)).join('\n') + '\n';
}

export function commitFileName(version: number): string {
  return `${String(version).padStart(20, '0')}.json`;
}

/** Writes `<dir>/_delta_log/<version>.json`; `mtimeMs` sets the file time (the LastModified). */
export function writeLocalCommit(dir: string, version: number, actions: DeltaAction[] | string, mtimeMs?: number): string {
  const log = path.join(dir, '_delta_log');
  fs.mkdirSync(log, { recursive: true });
  const file = path.join(log, commitFileName(version));
  fs.writeFileSync(file, typeof actions === 'string' ? actions : commitBody(actions));
  if (mtimeMs !== undefined) fs.utimesSync(file, mtimeMs / 1000, mtimeMs / 1000);
  return file;
}

export function writeLocalCheckpointHint(dir: string, version: number | string): void {
  const log = path.join(dir, '_delta_log');
  fs.mkdirSync(log, { recursive: true });
  fs.writeFileSync(path.join(log, '_last_checkpoint'), typeof version === 'string' ? version : JSON.stringify({ version, size: 3 }));
  if (typeof version === 'number') fs.writeFileSync(path.join(log, `${String(version).padStart(20, '0')}.checkpoint.parquet`), 'PAR1');
}

/** Puts hand-made commits in S3 with bounded concurrency. */
export async function putCommits(
  client: S3Client,
  bucket: string,
  prefix: string,
  items: Array<{ version: number; actions: DeltaAction[] | string }>,
  concurrency = 32,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `${prefix}/_delta_log/${commitFileName(item.version)}`,
          Body: typeof item.actions === 'string' ? item.actions : commitBody(item.actions),
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

export async function putObject(client: S3Client, bucket: string, key: string, body: string): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

// ---------------------------------------------------------------------------------------
// Real writers (delta-rs through the stack's Python venv)

export const STACK_PYTHON = path.resolve(__dirname, '../../.stack/venv/bin/python');
const SCRIPT = path.resolve(__dirname, '../fixtures/delta/write_table.py');

export function pythonWithDeltalake(): string | null {
  const candidates = [process.env.DELTA_TEST_PYTHON, STACK_PYTHON].filter((p): p is string => !!p);
  return candidates.find((p) => fs.existsSync(p)) ?? null;
}

export interface RealWriteStep {
  /** append: `rows` rows; optimize: compact; properties: set table properties; checkpoint: write one; vacuum. */
  op: 'append' | 'optimize' | 'properties' | 'checkpoint' | 'vacuum';
  rows?: number;
  /** append this many times (one commit each). */
  repeat?: number;
  properties?: Record<string, string>;
}

/**
 * Runs `write_table.py` with the `deltalake` package: `uri` is `s3://bucket/prefix` or a local
 * directory. Returns the table version after the last step.
 */
export function writeRealTable(
  uri: string,
  steps: RealWriteStep[],
  opts: { createProperties?: Record<string, string>; s3?: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string } } = {},
): Promise<{ version: number }> {
  const python = pythonWithDeltalake();
  if (!python) return Promise.reject(new Error(`no Python with deltalake (looked for ${STACK_PYTHON}; run npm run stack -- up s3)`));
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (opts.s3) {
    env.AWS_ENDPOINT_URL = opts.s3.endpoint;
    env.AWS_ACCESS_KEY_ID = opts.s3.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY = opts.s3.secretAccessKey;
    env.AWS_REGION = opts.s3.region;
    env.AWS_ALLOW_HTTP = 'true';
    env.AWS_S3_ALLOW_UNSAFE_RENAME = 'true';
  }
  const spec = JSON.stringify({ uri, steps, createProperties: opts.createProperties ?? {} });
  return new Promise((resolve, reject) => {
    execFile(python, [SCRIPT, spec], { env, cwd: os.tmpdir(), timeout: 540_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`write_table.py failed: ${err.message}\n${stderr}`));
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as { version: number });
      } catch {
        reject(new Error(`write_table.py printed no result: ${stdout}\n${stderr}`));
      }
    });
  });
}

/**
 * Uploads a table written locally (by delta-rs or Spark) to `s3://bucket/prefix`, skipping
 * Hadoop's hidden `.*.crc` side files (S3A never writes them). Files are put in name order
 * with bounded concurrency, so commit LastModified times keep the log's order (to the second).
 */
export async function uploadTable(client: S3Client, bucket: string, prefix: string, dir: string, concurrency = 16): Promise<number> {
  const files: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else files.push(r);
    }
  };
  walk('');
  files.sort();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const rel = files[next++]!;
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${rel}`, Body: fs.readFileSync(path.join(dir, rel)) }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  return files.length;
}

const SPARK_SCRIPT = path.resolve(__dirname, '../fixtures/delta/spark_table.py');

/**
 * Writes a table with Spark + delta-spark in local mode (`spark_table.py`), e.g. with in-commit
 * timestamps, which delta-rs cannot write. Takes ~30 s (JVM start; the first run also fetches
 * the delta-spark jars from Maven Central).
 */
export function writeSparkTable(
  dir: string,
  spec: { properties?: Record<string, string>; appends?: number; optimize?: boolean; appendsAfter?: number },
): Promise<{ version: number }> {
  const python = pythonWithDeltalake();
  if (!python) return Promise.reject(new Error(`no Python with pyspark/delta-spark (looked for ${STACK_PYTHON})`));
  return new Promise((resolve, reject) => {
    execFile(python, [SPARK_SCRIPT, dir, JSON.stringify(spec)], { cwd: os.tmpdir(), timeout: 540_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`spark_table.py failed: ${err.message}\n${stderr.slice(-4000)}`));
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as { version: number });
      } catch {
        reject(new Error(`spark_table.py printed no result: ${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
      }
    });
  });
}
