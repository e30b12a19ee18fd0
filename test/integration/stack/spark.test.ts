/**
 * The stack's Spark standalone cluster: master ALIVE with a worker, and a PySpark job submitted
 * to it with the pre-resolved jars writes a Delta table to the stack's S3 through s3a; the
 * commit file is then read back with the S3 client, and the app shows as FINISHED on the master.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { sparkSubmit } from '../../../stack/spark';
import type { MasterJson } from '../../../stack/services/spark-master';
import { freshName, freshPrefix } from '../../helpers/names';
import { STACK_TIMEOUT_MS, endpoints, ensureServices, s3Client } from '../../helpers/stack';

jest.setTimeout(240_000);

const JOB = `
import sys
from pyspark.sql import SparkSession
path = sys.argv[1]
spark = SparkSession.builder.getOrCreate()
df = spark.range(0, 10).selectExpr("id", "concat('d', id, '.example') as domain")
df.write.format("delta").mode("overwrite").save(path)
n = spark.read.format("delta").load(path).count()
print(f"ROWS={n}")
spark.stop()
`;

describe('local stack: spark', () => {
  let s3: S3Client;
  let dir: string;
  beforeAll(async () => {
    await ensureServices(['spark-worker', 's3']);
    s3 = s3Client();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-spark-'));
  }, STACK_TIMEOUT_MS);
  afterAll(() => {
    s3?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('has an ALIVE master with an ALIVE worker', async () => {
    const json = (await (await fetch(`${endpoints.sparkMasterUi}/json/`)).json()) as MasterJson;
    expect(json.status).toBe('ALIVE');
    expect(json.workers.filter((w) => w.state === 'ALIVE').length).toBeGreaterThanOrEqual(1);
  });

  it('runs a PySpark job that writes a Delta table to s3a://delta-lake', async () => {
    const script = path.join(dir, 'write_delta.py');
    fs.writeFileSync(script, JOB);
    const prefix = freshPrefix('stack-spark');
    const name = freshName('stack-spark-test');
    const logPath = path.join(dir, 'job.log');
    await sparkSubmit({ script, name, args: [`s3a://${endpoints.s3Bucket}/${prefix}table`], logPath, timeoutMs: 200_000 });
    expect(fs.readFileSync(logPath, 'utf8')).toContain('ROWS=10');

    const log = await s3.send(new ListObjectsV2Command({ Bucket: endpoints.s3Bucket, Prefix: `${prefix}table/_delta_log/` }));
    const keys = (log.Contents ?? []).map((o) => o.Key);
    expect(keys).toContain(`${prefix}table/_delta_log/00000000000000000000.json`);
    const commit = await s3.send(new GetObjectCommand({ Bucket: endpoints.s3Bucket, Key: `${prefix}table/_delta_log/00000000000000000000.json` }));
    const actions = (await commit.Body!.transformToString())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(actions.some((a) => 'add' in a)).toBe(true);
    expect(actions.some((a) => 'commitInfo' in a)).toBe(true);

    const master = (await (await fetch(`${endpoints.sparkMasterUi}/json/`)).json()) as MasterJson;
    expect(master.completedapps.find((a) => a.name === name)?.state).toBe('FINISHED');
  });
});
