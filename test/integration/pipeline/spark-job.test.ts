/**
 * The reference Spark Structured Streaming job on the stack's standalone master: ingest the
 * sample feeds into a fresh topic, run the job against fresh table prefixes, and wait until
 * bronze, silver and gold have Delta commits in S3 and gold holds the per-source counts.
 * Slow (a cold Spark driver and three streaming queries on 2 cores): a few minutes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { installPipelineJars, activeApp, pipelineSubmitSpec } from '../../../stack/services/pipeline';
import { readDelta } from '../../helpers/delta-read';
import { silentLog } from '../../../stack/log';
import { endpoints, ensureServices, s3Client, STACK_TIMEOUT_MS } from '../../helpers/stack';
import { freshName, freshTopic } from '../../helpers/names';
import { runCli, SHIPPED_SOURCES } from './ingestion-run';

jest.setTimeout(8 * 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const s3 = s3Client();

async function deltaCommits(prefix: string): Promise<string[]> {
  const res = await s3.send(new ListObjectsV2Command({ Bucket: endpoints.s3Bucket, Prefix: `${prefix}_delta_log/` }));
  return (res.Contents ?? []).map((o) => o.Key!).filter((k) => /\/\d{20}\.json$/.test(k));
}

let job: ChildProcess | undefined;
let jobLog = '';

beforeAll(async () => {
  await ensureServices(['kafka', 'schema-registry', 's3', 'spark-worker']);
  await installPipelineJars(silentLog);
}, STACK_TIMEOUT_MS);

afterAll(async () => {
  s3.destroy();
  if (job?.pid !== undefined && job.exitCode === null) {
    const exited = new Promise((r) => job!.once('exit', r));
    try {
      process.kill(-job.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 30_000)))]);
    clearTimeout(timer);
    try {
      process.kill(-job.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

it('streams the ingested records into bronze, silver and gold Delta tables', async () => {
  const topic = freshTopic('harmful-domains');
  const prefix = `${freshName('pipeline-it')}/`;
  const appName = freshName('harmful-domains-streaming');
  const base = `s3a://${endpoints.s3Bucket}/${prefix}`;
  const uiPort = await freePort();

  const t0 = Date.now();
  const ingest = await runCli([
    '--config',
    SHIPPED_SOURCES,
    '--kafka-servers',
    endpoints.kafkaBrokers.join(','),
    '--schema-registry',
    endpoints.schemaRegistryUrl,
    '--topic',
    topic,
  ]);
  expect(ingest.code).toBe(0);
  const ingestMs = Date.now() - t0;

  const logFile = path.join(fs.mkdtempSync(path.join(tmpdir(), 'pipeline-job-')), 'job.log');
  const spec = pipelineSubmitSpec({
    appName,
    topic,
    bronzePath: `${base}bronze`,
    silverPath: `${base}silver`,
    goldPath: `${base}gold`,
    checkpointRoot: `${base}_checkpoints`,
    triggerSeconds: 5,
    uiPort,
    progressFile: path.join(path.dirname(logFile), 'progress.json'),
  });
  expect(spec.args.join(' ')).not.toContain(endpoints.s3SecretAccessKey);
  const out = fs.openSync(logFile, 'a');
  const started = Date.now();
  job = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  job.on('exit', () => (jobLog = fs.readFileSync(logFile, 'utf8')));
  const failIfDead = () => {
    if (job!.exitCode !== null) throw new Error(`job exited (${job!.exitCode}); log ${logFile}:\n${fs.readFileSync(logFile, 'utf8').slice(-4000)}`);
  };

  // 1. the master lists it RUNNING under its name (what SparkJobCheckOperator(job_name) looks for)
  let runningAt = 0;
  while (Date.now() - started < 180_000) {
    failIfDead();
    const app = await activeApp(appName);
    if (app?.state === 'RUNNING') {
      runningAt = Date.now();
      break;
    }
    await sleep(2000);
  }
  expect(runningAt).toBeGreaterThan(0);

  // 2. bronze, silver, gold get Delta commits; gold holds the per-source counts
  const expectedGold = [
    { source: 'malware-hosts', category: 'malware', domains: 19 },
    { source: 'malware-urls-csv', category: 'malware_distribution', domains: 14 },
    { source: 'phishing-urls', category: 'phishing', domains: 19 },
    { source: 'scam-domains', category: 'scam', domains: 17 },
  ];
  let gold: { source: string; category: string; domains: number }[] = [];
  let goldAt = 0;
  while (Date.now() - started < 360_000) {
    failIfDead();
    // a transient S3 error (the shared server restarting) only delays the next poll
    const goldCommits = await deltaCommits(`${prefix}gold/`).catch(() => []);
    if (goldCommits.length > 0) {
      gold = readDelta(`s3://${endpoints.s3Bucket}/${prefix}gold`)
        .map((r) => ({ source: String(r.source), category: String(r.category), domains: Number(r.domains) }))
        .sort((a, b) => a.source.localeCompare(b.source));
      if (gold.length === expectedGold.length) {
        goldAt = Date.now();
        break;
      }
    }
    await sleep(5000);
  }
  expect(gold).toEqual(expectedGold);
  expect((await deltaCommits(`${prefix}bronze/`)).length).toBeGreaterThan(0);
  expect((await deltaCommits(`${prefix}silver/`)).length).toBeGreaterThan(1); // create + first MERGE
  expect(readDelta(`s3://${endpoints.s3Bucket}/${prefix}bronze`)).toHaveLength(69);
  const silver = readDelta(`s3://${endpoints.s3Bucket}/${prefix}silver`);
  expect(silver).toHaveLength(69);
  expect(new Set(silver.map((r) => `${String(r.domain)}|${String(r.source)}`)).size).toBe(69);

  // 3. streaming metrics on the driver's Prometheus servlet
  const metrics = await (await fetch(`http://127.0.0.1:${uiPort}/metrics/prometheus`)).text();
  for (const q of ['bronze', 'silver', 'gold']) expect(metrics).toContain(`harmful_domains_driver_spark_streaming_${q}_`);

  process.stderr.write(`pipeline timings: ingest ${ingestMs} ms; submit → RUNNING ${runningAt - started} ms; submit → gold rows ${goldAt - started} ms\n`);
  void jobLog;
});
