/**
 * Delta freshness against the local stack's real S3 server, on tables written by real writers:
 * delta-rs (`deltalake`) directly to S3, and Spark + delta-spark (in-commit timestamps) written
 * locally then uploaded. Each test uses a fresh key prefix.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createDeltaFreshnessCheck, dataFreshnessTask, type DeltaFreshnessCheck } from '../../../checks/delta-freshness';
import type { DeltaFacts, ProbeContext, Signal } from '../../../src/protocol';
import { commits, putCommits, putObject, uploadTable, writeRealTable, writeSparkTable } from '../../helpers/delta-writer';
import { freshName } from '../../helpers/names';
import { endpoints, ensureServices, s3Client, STACK_TIMEOUT_MS } from '../../helpers/stack';

const bucket = endpoints.s3Bucket;
const s3 = {
  endpoint: endpoints.s3Endpoint,
  region: endpoints.s3Region,
  accessKeyId: endpoints.s3AccessKeyId,
  secretAccessKey: endpoints.s3SecretAccessKey,
};
const writerS3 = { endpoint: s3.endpoint, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };

let client: S3Client;
const checks: DeltaFreshnessCheck[] = [];
const prefixes: string[] = [];
const tmpDirs: string[] = [];

beforeAll(async () => {
  await ensureServices(['s3']);
  client = s3Client();
}, STACK_TIMEOUT_MS);

afterEach(async () => {
  await Promise.all(checks.splice(0).map((c) => c.close()));
  for (const d of tmpDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

afterAll(async () => {
  for (const p of prefixes) await deletePrefix(p).catch(() => undefined);
  client?.destroy();
});

async function deletePrefix(prefix: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

function freshPrefix(name: string): string {
  const p = `it-delta/${freshName(name)}`;
  prefixes.push(p);
  return p;
}

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'delta-it-'));
  tmpDirs.push(d);
  return d;
}

function make(prefix: string, options: Record<string, unknown> = {}, scheme = 's3a'): DeltaFreshnessCheck {
  const c = createDeltaFreshnessCheck({ name: 'bronze_freshness', options: { path: `${scheme}://${bucket}/${prefix}`, maxAge: 1800, s3, ...options } });
  checks.push(c);
  return c;
}

function ctx(): ProbeContext {
  return { signal: new AbortController().signal, now: () => Date.now() };
}

async function run(c: DeltaFreshnessCheck): Promise<{ signal: Signal; facts: DeltaFacts }> {
  const [signal] = await c.probe(ctx());
  return { signal: signal!, facts: signal!.facts as DeltaFacts };
}

describe('delta freshness on S3 (real writers)', () => {
  test('delta-rs table with a checkpoint, then OPTIMIZE, SET TBLPROPERTIES and VACUUM after the last write', async () => {
    const prefix = freshPrefix('rs');
    const uri = `s3://${bucket}/${prefix}`;
    // 12 appends (v0..v11), a checkpoint, 2 more appends (v12, v13), then maintenance.
    const { version: lastWrite } = await writeRealTable(uri, [{ op: 'append', rows: 5, repeat: 12 }, { op: 'checkpoint' }, { op: 'append', rows: 3, repeat: 2 }], { s3: writerS3 });
    expect(lastWrite).toBe(13);
    const { version } = await writeRealTable(uri, [{ op: 'optimize' }, { op: 'properties', properties: { 'delta.logRetentionDuration': 'interval 7 days' } }, { op: 'vacuum' }], {
      s3: writerS3,
    });
    expect(version).toBe(lastWrite + 4); // OPTIMIZE, SET TBLPROPERTIES, VACUUM START, VACUUM END

    const c = make(prefix);
    const first = await run(c);
    expect(first.signal.status).toBe('ok');
    expect(first.facts).toMatchObject({
      table: uri,
      version,
      checkpointVersion: 11,
      lastDataChangeVersion: lastWrite,
      timeSource: 'lastModified',
      lastOperation: 'VACUUM END',
    });
    expect(first.facts.ageSeconds!).toBeLessThan(120);
    expect(first.facts.lastCommitAt!).toBeGreaterThanOrEqual(first.facts.lastDataChangeAt!);
    // _last_checkpoint + LIST + newest + 4 older commits walked back (v16, v15, v14, v13).
    expect(first.facts.requests).toBe(7);
    expect(first.signal.summary).toContain(`at v${lastWrite}`);
    expect(first.signal.summary).toContain('VACUUM END');

    // Steady state: nothing changed → 2 requests.
    const second = await run(c);
    expect(second.facts).toMatchObject({ version, lastDataChangeVersion: lastWrite, requests: 2 });

    // New data: 3 requests, freshness follows it.
    await writeRealTable(uri, [{ op: 'append', rows: 1 }], { s3: writerS3 });
    const third = await run(c);
    expect(third.facts).toMatchObject({ version: version + 1, lastDataChangeVersion: version + 1, requests: 3 });

    // A fresh check with a tiny maxAge is crit once the data is older than it.
    await new Promise((r) => setTimeout(r, 2100));
    const strict = await run(make(prefix, { maxAge: 1 }, 's3'));
    expect(strict.signal.status).toBe('crit');
  }, 300_000);

  test('more commits than one listing page (1,100 delta-rs commits, no checkpoint)', async () => {
    const dir = tmpDir();
    const { version } = await writeRealTable(dir, [{ op: 'append', rows: 1, repeat: 1100 }], {
      createProperties: { 'delta.checkpointInterval': '1000000' },
    });
    expect(version).toBe(1099);
    const prefix = freshPrefix('big');
    expect(await uploadTable(client, bucket, prefix, dir, 32)).toBeGreaterThanOrEqual(2200); // 1100 commits + 1100 parquet files
    const c = make(prefix);
    const first = await run(c);
    expect(first.facts).toMatchObject({ version: 1099, lastDataChangeVersion: 1099, checkpointVersion: null });
    // _last_checkpoint + first page (v0..v999, truncated) + probe at v1999 (empty) + bisect + GET newest
    expect(first.facts.requests).toBeGreaterThan(3);
    expect(first.facts.requests).toBeLessThanOrEqual(8);
    const second = await run(c);
    expect(second.facts).toMatchObject({ version: 1099, requests: 2 });
    // An OPTIMIZE on top (written by delta-rs, uploaded): the remembered data change is kept.
    await writeRealTable(dir, [{ op: 'optimize' }]);
    await uploadTable(client, bucket, prefix, dir, 32);
    const third = await run(c);
    expect(third.facts).toMatchObject({ version: 1100, lastDataChangeVersion: 1099, lastOperation: 'OPTIMIZE', requests: 3 });
  }, 300_000);

  test('Spark + delta-spark table with in-commit timestamps and OPTIMIZE after the last write', async () => {
    const dir = path.join(tmpDir(), 'ict');
    const { version } = await writeSparkTable(dir, {
      properties: { 'delta.enableInCommitTimestamps': 'true', 'delta.checkpointInterval': '3' },
      appends: 4,
      optimize: true,
    });
    expect(version).toBe(5); // v0 CREATE, v1..v4 WRITE, v5 OPTIMIZE
    const ict = (v: number): number =>
      (
        JSON.parse(fs.readFileSync(path.join(dir, '_delta_log', `${String(v).padStart(20, '0')}.json`), 'utf8').split('\n')[0]!) as {
          commitInfo: { inCommitTimestamp: number };
        }
      ).commitInfo.inCommitTimestamp;
    // Uploading later gives the objects a LastModified of "now": the check must use the ICT.
    await new Promise((r) => setTimeout(r, 1500));
    const prefix = freshPrefix('ict');
    await uploadTable(client, bucket, prefix, dir);
    const { signal, facts } = await run(make(prefix));
    expect(facts).toMatchObject({
      version: 5,
      checkpointVersion: 3,
      lastDataChangeVersion: 4,
      lastDataChangeAt: ict(4),
      lastCommitAt: ict(5),
      timeSource: 'inCommitTimestamp',
      lastOperation: 'OPTIMIZE',
      requests: 4,
    });
    expect(signal.status).toBe('ok');

    // The same table read from its local path gives the same answer.
    const local = createDeltaFreshnessCheck({ name: 'local', options: { path: dir, maxAge: 1800 } });
    checks.push(local);
    const l = await run(local);
    expect(l.facts).toMatchObject({ version: 5, lastDataChangeVersion: 4, lastDataChangeAt: ict(4), timeSource: 'inCommitTimestamp' });
  }, 400_000);

  test('a missing table and a missing bucket are crit and name the path', async () => {
    const prefix = freshPrefix('missing');
    const { signal, facts } = await run(make(prefix));
    expect(signal.status).toBe('crit');
    expect(signal.error?.code).toBe('SUP_ERR_DELTA_TABLE_MISSING');
    expect(signal.summary).toContain(`s3://${bucket}/${prefix}`);
    expect(facts.requests).toBe(2);

    const c = createDeltaFreshnessCheck({ name: 'nobucket', options: { path: `s3://no-such-bucket-${Date.now()}/t`, maxAge: 60, s3 } });
    checks.push(c);
    const nb = await run(c);
    expect(nb.signal.status).toBe('crit');
    expect(nb.signal.error?.message).toMatch(/bucket does not exist/);
  });

  test('a corrupt newest commit is unknown naming the S3 object; a corrupt _last_checkpoint is ignored', async () => {
    const prefix = freshPrefix('corrupt');
    await putCommits(client, bucket, prefix, [
      { version: 0, actions: commits.create() },
      { version: 1, actions: commits.write() },
      { version: 2, actions: '{"commitInfo": {"operation": "WRITE"}}\n{"add": {"path": "x.parquet", "dataChange": tru' },
    ]);
    await putObject(client, bucket, `${prefix}/_delta_log/_last_checkpoint`, '{"version":');
    const { signal } = await run(make(prefix));
    expect(signal.status).toBe('unknown');
    expect(signal.error?.code).toBe('SUP_ERR_DELTA_CORRUPT');
    expect(signal.error?.message).toContain(`s3://${bucket}/${prefix}/_delta_log/00000000000000000002.json`);

    await putCommits(client, bucket, prefix, [{ version: 3, actions: commits.write() }]);
    const ok = await run(make(prefix));
    expect(ok.signal.status).toBe('ok');
    expect(ok.facts).toMatchObject({ version: 3, lastDataChangeVersion: 3, checkpointVersion: null });
    expect(ok.signal.summary).toContain('ignored unreadable');
  });

  test('wrong credentials are unknown with an S3 error, without leaking the secret', async () => {
    const prefix = freshPrefix('creds');
    await putCommits(client, bucket, prefix, [{ version: 0, actions: commits.write() }]);
    const c = make(prefix, { s3: { ...s3, secretAccessKey: 'wrong-secret-value' } });
    const { signal } = await run(c);
    expect(signal.status).toBe('unknown');
    expect(signal.error?.code).toBe('SUP_ERR_S3');
    expect(JSON.stringify(signal)).not.toContain('wrong-secret-value');
  });

  test('an unreachable endpoint is unknown naming the object', async () => {
    const c = make('whatever', { s3: { ...s3, endpoint: 'http://127.0.0.1:1', maxAttempts: 1 } });
    const { signal } = await run(c);
    expect(signal.status).toBe('unknown');
    expect(signal.error?.message).toContain(`s3://${bucket}/whatever/_delta_log/_last_checkpoint`);
  });

  test('dataFreshnessTask reads S3 (the seed operator)', async () => {
    const prefix = freshPrefix('task');
    await writeRealTable(`s3://${bucket}/${prefix}`, [{ op: 'append', rows: 2 }], { s3: writerS3 });
    const signal = await dataFreshnessTask({ delta_path: `s3a://${bucket}/${prefix}`, max_age_minutes: 30, s3, name: 'check_bronze_freshness' }, ctx());
    expect(signal.status).toBe('ok');
    expect((signal.facts as DeltaFacts).version).toBe(0);
  });
});
