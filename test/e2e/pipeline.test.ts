/**
 * E2E (issue 7, scenarios 1 and 2) against the whole local stack and the reference pipeline
 * (stack service `pipeline`: the PySpark streaming job Kafka → bronze/silver/gold Delta on S3).
 * One supervisor process (`node bin/supervisor.js start`) with the shipped pipelines and checks
 * on short intervals, sinks: a signed webhook to a receiver in this test and the stack's SMTP sink.
 *
 * 1. Happy path: domain_ingestion (real ingestion CLI → topic harmful-domains) → the records
 *    decode through the schema registry → the Spark job carries them into silver and gold →
 *    bronze/silver/gold freshness checks OK (continuous checks and the monitoring DAG) → the
 *    success notification arrives once by webhook and once by mail.
 * 2. Spark: SIGKILL the job's driver → the spark check goes crit and `spark_unhealthy` reaches
 *    the webhook within 10 s (the monitoring DAG's check_spark fails meanwhile) → restart the job
 *    (the stack service, same owner) → resolved notification.
 */
import { ListObjectsV2Command, type _Object } from '@aws-sdk/client-s3';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { endpoints, ensureServices, kafkaClient, s3Client, STACK_TIMEOUT_MS } from '../helpers/stack';
import { freshGroup, freshName } from '../helpers/names';
import { up } from '../../stack/manager';
import { liveRecord } from '../../stack/proc';
import { silentLog } from '../../stack/log';
import { readDelta } from '../helpers/delta-read';
import { PIPELINE_APP_NAME, PIPELINE_TOPIC } from '../../stack/services/pipeline';
import {
  Api,
  createToken,
  e2eConfig,
  ensureBuilt,
  freePort,
  groupAlive,
  mailsTo,
  SOURCES_YAML,
  startSupervisor,
  tempDir,
  waitFor,
  WebhookReceiver,
  writeConfig,
  type SupervisorProcess,
} from '../helpers/e2e-supervisor';

/** task id → state, with the reason appended for failed tasks (so a mismatch shows why). */
function taskStates(tasks: readonly { taskId: string; state: string; reason: string | null }[]): Record<string, string> {
  return Object.fromEntries(tasks.map((t) => [t.taskId, t.state === 'failed' ? `failed: ${t.reason ?? ''}` : t.state]));
}

const log = process.env.STACK_VERBOSE ? undefined : silentLog;
const s3 = s3Client();

/** Commit files of a Delta table's log (S3 keys with LastModified), oldest first. */
async function deltaCommits(table: 'bronze' | 'silver' | 'gold'): Promise<_Object[]> {
  const out: _Object[] = [];
  let token: string | undefined;
  do {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: endpoints.s3Bucket, Prefix: `${table}/_delta_log/`, ...(token ? { ContinuationToken: token } : {}) }));
    out.push(...(res.Contents ?? []).filter((o) => /\/\d{20}\.json$/.test(o.Key!)));
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return out.sort((a, b) => a.Key!.localeCompare(b.Key!));
}

interface Decoded {
  key: string;
  runIdHeader: string;
  schemaId: number;
  value: { domain: string; source: string; category: string; run_id: string };
}

/** Reads the records between two offset snapshots of a topic and decodes them through the registry. */
async function readRecords(topic: string, from: Map<number, number>, to: Map<number, number>): Promise<Decoded[]> {
  const registry = new SchemaRegistry({ host: endpoints.schemaRegistryUrl });
  const consumer = kafkaClient('e2e-happy').consumer({ groupId: freshGroup('e2e-happy') });
  const out: Decoded[] = [];
  const seen = new Map<number, number>();
  const complete = () => [...to].every(([p, end]) => end <= (from.get(p) ?? 0) || (seen.get(p) ?? -1) >= end - 1);
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: false });
    // kafkajs refuses seek() until the consumer has joined its group ("Consumer group was not initialized")
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const offset = Number(message.offset);
        if (offset < (from.get(partition) ?? 0) || offset >= (to.get(partition) ?? 0)) return;
        const value = message.value!;
        out.push({
          key: message.key!.toString(),
          runIdHeader: String(message.headers?.run_id ?? ''),
          schemaId: value.readInt32BE(1),
          value: (await registry.decode(value)) as Decoded['value'],
        });
        seen.set(partition, Math.max(seen.get(partition) ?? -1, offset));
      },
    });
    await joined;
    for (const [partition, offset] of from) consumer.seek({ topic, partition, offset: String(offset) });
    await waitFor('the ingested records', () => complete(), { timeoutMs: 60_000 });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

async function topicOffsets(topic: string): Promise<Map<number, number>> {
  const admin = kafkaClient('e2e-happy-admin').admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

describe('the reference pipeline under the supervisor', () => {
  const tmp = tempDir('e2e-pipeline-');
  const receiver = new WebhookReceiver();
  const mailTo = `${freshName('pipeline')}@example.test`;
  let sup: SupervisorProcess | undefined;
  let api: Api;
  const diagnose = () => `${sup?.tail(60) ?? ''}\n${receiver.summary()}`;

  beforeAll(async () => {
    await ensureServices(['kafka', 'schema-registry', 's3', 'smtp', 'spark-worker', 'pipeline']);
    ensureBuilt();
    // provisioned like a deployment would (the checks require it; the ingestion would create it on its first run)
    const admin = kafkaClient('e2e-provision').admin();
    await admin.connect();
    try {
      if (!(await admin.listTopics()).includes(PIPELINE_TOPIC)) await admin.createTopics({ topics: [{ topic: PIPELINE_TOPIC, numPartitions: 3 }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
    await receiver.listen();
    const port = await freePort();
    const configFile = writeConfig(
      tmp.dir,
      e2eConfig({
        port,
        hookUrl: receiver.url,
        mailTo,
        variables: { domains_topic: PIPELINE_TOPIC, spark_job_name: PIPELINE_APP_NAME },
        checks: {
          kafka: { kind: 'kafka_cluster', interval: '2s', expected_brokers: 1, topics: ['{{ var.domains_topic }}'] },
          schema_registry: { kind: 'schema_registry', interval: '5s', topics: ['{{ var.domains_topic }}'] },
          // the job mirrors its processed offsets into a group named after the app
          consumer_lag: { kind: 'consumer_lag', interval: '2s', groups: ['{{ var.spark_job_name }}'], topics: ['{{ var.domains_topic }}'] },
          spark: { kind: 'spark', interval: '1s', expected_workers: 1, apps: ['{{ var.spark_job_name }}'], driver_metrics_url: `${endpoints.sparkDriverUi}/metrics/prometheus` },
          bronze_freshness: { kind: 'delta_freshness', interval: '3s', path: '{{ var.bronze_path }}', max_age: '30m' },
          silver_freshness: { kind: 'delta_freshness', interval: '3s', path: '{{ var.silver_path }}', max_age: '60m' },
          gold_freshness: { kind: 'delta_freshness', interval: '3s', path: '{{ var.gold_path }}', max_age: '120m' },
        },
        rules: [
          // the default rule, with `for` shortened from 2m
          {
            name: 'spark_unhealthy',
            match: { kind: 'spark' },
            status: 'unknown',
            for: '0s',
            severity: 'critical',
            summary: 'Spark {{ target }} is unhealthy',
            description: '{{ summary }}',
          },
        ],
        pipelines: {
          // the shipped domain_ingestion_dag and monitoring_dag, manual here (no cron), without retries
          domain_ingestion: {
            aliases: ['domain_ingestion_dag'],
            schedule: null,
            defaults: { retries: 0, execution_timeout: '3m' },
            tasks: [
              { id: 'check_kafka_health', operator: 'kafka_health', params: { kafka_servers: '{{ var.kafka_servers }}', topics: ['{{ var.domains_topic }}'] } },
              {
                id: 'run_full_ingestion',
                operator: 'ingestion',
                upstream: ['check_kafka_health'],
                params: {
                  source_name: null,
                  config_path: SOURCES_YAML,
                  kafka_servers: '{{ var.kafka_servers }}',
                  schema_registry: '{{ var.schema_registry_url }}',
                  execution_mode: 'subprocess',
                },
              },
              {
                id: 'send_success_notification',
                operator: 'notify',
                upstream: ['run_full_ingestion'],
                params: { message: 'Domain ingestion finished for {{ var.domains_topic }}' },
              },
            ],
          },
          monitoring: {
            aliases: ['monitoring_dag'],
            schedule: null,
            defaults: { retries: 0, execution_timeout: '1m' },
            tasks: [
              {
                id: 'check_kafka',
                group: 'infrastructure_health',
                operator: 'kafka_health',
                params: { kafka_servers: '{{ var.kafka_servers }}', topics: ['{{ var.domains_topic }}'] },
              },
              {
                id: 'check_spark',
                group: 'infrastructure_health',
                operator: 'spark_job',
                params: { spark_master: '{{ var.spark_master }}', job_name: '{{ var.spark_job_name }}' },
              },
              { id: 'check_bronze_freshness', group: 'data_quality', operator: 'data_freshness', params: { delta_path: '{{ var.bronze_path }}', max_age_minutes: 30 } },
              { id: 'check_silver_freshness', group: 'data_quality', operator: 'data_freshness', params: { delta_path: '{{ var.silver_path }}', max_age_minutes: 60 } },
              { id: 'check_gold_freshness', group: 'data_quality', operator: 'data_freshness', params: { delta_path: '{{ var.gold_path }}', max_age_minutes: 120 } },
              { id: 'collect_metrics', operator: 'collect_metrics', upstream: ['infrastructure_health', 'data_quality'], trigger_rule: 'all_done' },
              { id: 'alert_on_failure', operator: 'alert', upstream: ['infrastructure_health', 'data_quality'], trigger_rule: 'one_failed' },
            ],
          },
        },
      }),
    );
    const token = await createToken(configFile);
    sup = await startSupervisor(configFile, port);
    api = new Api(sup.url, token);
  }, STACK_TIMEOUT_MS);

  afterAll(async () => {
    await sup?.stop(5_000);
    await receiver.close();
    s3.destroy();
    tmp.cleanup();
  });

  describe('scenario 1: happy path', () => {
    it('ingests, decodes through the registry, updates gold, every freshness check OK, notifies by mail and webhook', async () => {
      const t0 = Date.now();
      const before = await topicOffsets(PIPELINE_TOPIC);
      const goldBefore = (await deltaCommits('gold')).at(-1)?.Key ?? '';

      // 1. an ingestion run of the shipped DAG
      const trig = await api.trigger('domain_ingestion_dag', { logical_date: new Date().toISOString() });
      expect(trig.status).toBe(201);
      const runId = trig.json.runId;
      const run = await api.waitForRun(runId, 120_000, diagnose);
      expect(run.state).toBe('success');
      expect(run.tasks.map((t) => [t.taskId, t.state])).toEqual([
        ['check_kafka_health', 'success'],
        ['run_full_ingestion', 'success'],
        ['send_success_notification', 'success'],
      ]);
      const { tasks } = await api.tasks(runId);
      const ingestion = tasks.find((t) => t.taskId === 'run_full_ingestion')!;
      const summary = ingestion.result as { ok: boolean; runId: string; topic: string; sources: Record<string, { produced: number }> };
      expect(summary).toMatchObject({ ok: true, runId, topic: PIPELINE_TOPIC });
      const produced = Object.values(summary.sources).reduce((n, s) => n + s.produced, 0);
      expect(Object.keys(summary.sources).sort()).toEqual(['malware-hosts', 'malware-urls-csv', 'phishing-urls', 'scam-domains']);
      const ingestedAt = Date.now();

      // 2. the run's records decode through the registry (Confluent wire format, registered schema)
      const after = await topicOffsets(PIPELINE_TOPIC);
      const records = (await readRecords(PIPELINE_TOPIC, before, after)).filter((r) => r.runIdHeader === runId);
      expect(records).toHaveLength(produced);
      for (const r of records) {
        expect(r.value.run_id).toBe(runId);
        expect(r.key).toBe(r.value.domain);
        expect(Object.keys(summary.sources)).toContain(r.value.source);
        expect(r.schemaId).toBeGreaterThan(0);
      }

      // 3. the Spark job carries them to silver (MERGE on domain+source)…
      // (three chained streaming queries on 10 s triggers; a cold driver on 2 busy cores takes minutes)
      const ingestedFloor = Math.floor(ingestedAt / 1000) * 1000 - 1000;
      const pair = (r: Record<string, unknown>) => `${String(r.domain)}|${String(r.source)}`;
      const ours = new Set(records.map((r) => `${r.value.domain}|${r.value.source}`));
      const silverDeadline = Date.now() + 240_000;
      const { silverRows, silverCommit } = await waitFor(
        "the run's records in silver",
        async () => {
          const commits = (await deltaCommits('silver')).filter((o) => o.LastModified!.getTime() >= ingestedFloor);
          if (commits.length === 0) return undefined;
          const rows = readDelta(`s3://${endpoints.s3Bucket}/silver`, ['domain', 'source', 'last_run_id']);
          const tagged = rows.filter((r) => r.last_run_id === runId);
          return tagged.length > 0 ? { silverRows: rows, silverCommit: commits.at(-1)! } : undefined;
        },
        { timeoutMs: 240_000, intervalMs: 5_000, diagnose },
      );
      const latest = await topicOffsets(PIPELINE_TOPIC);
      const tagged = new Set(silverRows.filter((r) => r.last_run_id === runId).map(pair));
      expect([...ours].filter((k) => !new Set(silverRows.map(pair)).has(k))).toEqual([]); // every record of the run is in silver
      if ([...latest].every(([p, end]) => after.get(p) === end))
        expect(tagged).toEqual(ours); // the MERGE recorded our run on each of them
      else expect([...tagged].filter((k) => !ours.has(k))).toEqual([]); // someone ingested since: later runs may have re-tagged rows

      // …and gold recounts after that silver commit
      const goldCommit = await waitFor(
        "a gold commit after the silver commit with the run's records",
        async () => (await deltaCommits('gold')).find((o) => o.Key! > goldBefore && o.LastModified!.getTime() >= silverCommit.LastModified!.getTime()),
        { timeoutMs: Math.max(30_000, silverDeadline - Date.now()), intervalMs: 3_000, diagnose },
      );
      const gold = readDelta(`s3://${endpoints.s3Bucket}/gold`, ['source', 'category', 'domains']);
      for (const source of Object.keys(summary.sources)) {
        const row = gold.find((g) => g.source === source);
        expect(row).toBeDefined();
        expect(Number(row!.domains)).toBeGreaterThanOrEqual(records.filter((r) => r.value.source === source).length);
      }

      // 4. every freshness check OK, seen after the gold commit: the continuous checks…
      const committedAt = goldCommit.LastModified!.getTime();
      for (const check of ['bronze_freshness', 'silver_freshness', 'gold_freshness']) {
        const sig = await waitFor(`${check} OK after the gold commit`, async () => (await api.signals(check)).find((s) => s.observedAt > committedAt + 1000 && s.status === 'ok'), {
          timeoutMs: 30_000,
          diagnose,
        });
        expect(sig.value!).toBeLessThan(300); // seconds since the last data-changing commit
      }
      // …the Spark job's offsets, mirrored into its group, reach the run's records: lag 0 on every partition
      const lag = await waitFor(
        "the Spark job's group committed past the run's records",
        async () =>
          (await api.signals('consumer_lag')).find((s) => {
            const f = s.facts as { group?: string; partitions?: Array<{ topic: string; partition: number; committedOffset: number | null }> } | undefined;
            return (
              f?.group === PIPELINE_APP_NAME &&
              [...after].every(([p, end]) => (f.partitions ?? []).some((x) => x.topic === PIPELINE_TOPIC && x.partition === p && (x.committedOffset ?? -1) >= end))
            );
          }),
        { timeoutMs: 60_000, diagnose },
      );
      expect(lag.status).not.toBe('unknown');
      // …and the monitoring DAG
      const mon = await api.trigger('monitoring_dag', { logical_date: new Date().toISOString() });
      const monRun = await api.waitForRun(mon.json.runId, 60_000, diagnose);
      const states = taskStates(monRun.tasks);
      expect(states).toMatchObject({
        check_kafka: 'success',
        check_spark: 'success',
        check_bronze_freshness: 'success',
        check_silver_freshness: 'success',
        check_gold_freshness: 'success',
        collect_metrics: 'success',
      });
      expect(states.alert_on_failure).not.toBe('success'); // one_failed: nothing failed
      expect(monRun.state).toBe('success');

      // 5. the success notification, once by webhook and once by mail
      const key = `${runId}|send_success_notification`;
      const hook = await waitFor('the success notification on the webhook', () => receiver.requests.find((r) => r.dedupKey === key), { timeoutMs: 30_000, diagnose });
      expect(hook.json).toMatchObject({ kind: 'info', labels: { pipeline: 'domain_ingestion' } });
      expect(hook.json.text).toContain(`Domain ingestion finished for ${PIPELINE_TOPIC}`);
      const mail = await waitFor('the success mail', async () => (await mailsTo(mailTo)).find((m) => m.headers['x-supervisor-dedup-key'] === key), { timeoutMs: 30_000, diagnose });
      expect(mail.subject).toContain(`Domain ingestion finished for ${PIPELINE_TOPIC}`);
      expect(receiver.requests.filter((r) => r.dedupKey === key)).toHaveLength(1);
      expect((await mailsTo(mailTo)).filter((m) => m.headers['x-supervisor-dedup-key'] === key)).toHaveLength(1);
      process.stderr.write(`e2e scenario 1: ${((Date.now() - t0) / 1000).toFixed(1)} s (ingestion → gold commit ${((committedAt - ingestedAt) / 1000).toFixed(1)} s)\n`);
    }, 420_000);
  });

  describe('scenario 2: the Spark application dies and comes back', () => {
    it('alerts within 10 s of the kill, check_spark fails, resolves after the restart', async () => {
      const t0 = Date.now();
      await waitFor('the spark check OK', async () => (await api.signals('spark')).every((s) => s.status === 'ok') && (await api.signals('spark')).length > 0, {
        timeoutMs: 60_000,
        diagnose,
      });
      expect(receiver.matching(/^spark_unhealthy\|/)).toHaveLength(0);
      const rec = liveRecord('pipeline');
      expect(rec).toBeDefined();

      // 1. kill the application: SIGKILL to the driver's process group (spark-submit, client mode)
      let restarted = false;
      try {
        process.kill(-rec!.pid, 'SIGKILL');
        const killedAt = Date.now();
        await waitFor('the driver group to be gone', () => !groupAlive(rec!.pid), { timeoutMs: 10_000 });

        const firing = await waitFor('spark_unhealthy firing on the webhook', () => receiver.matching(/^spark_unhealthy\|.*\|firing\|/)[0], {
          timeoutMs: 30_000,
          intervalMs: 100,
          diagnose,
        });
        expect(firing.at - killedAt).toBeLessThan(10_000);
        expect(firing.json.severity).toBe('critical');
        const crit = await waitFor('the spark check crit', async () => (await api.signals('spark')).find((s) => s.status === 'crit'), { timeoutMs: 20_000, diagnose });
        expect(crit.summary).toMatch(new RegExp(`${PIPELINE_APP_NAME}.*not running|not running|refused`));

        // the monitoring DAG sees it too: check_spark fails, alert_on_failure runs
        const mon = await api.trigger('monitoring_dag', { logical_date: new Date().toISOString() });
        const monRun = await api.waitForRun(mon.json.runId, 60_000, diagnose);
        expect(taskStates(monRun.tasks)).toMatchObject({
          check_kafka: 'success',
          check_spark: expect.stringMatching(new RegExp(`^failed: crit: .*${PIPELINE_APP_NAME}`)) as string,
          alert_on_failure: 'success',
        });
        expect(monRun.state).toBe('failed');

        // 2. restart it (the stack service, as it was)
        const restartAt = Date.now();
        await up(['pipeline'], { owner: rec!.owner, ...(log ? { log } : {}) });
        restarted = true;
        const restartMs = Date.now() - restartAt;

        // 3. resolved
        const resolved = await waitFor('spark_unhealthy resolved on the webhook', () => receiver.matching(/^spark_unhealthy\|.*\|resolved\|/)[0], { timeoutMs: 60_000, diagnose });
        expect(resolved.json.kind).toBe('resolved');
        expect(receiver.matching(/^spark_unhealthy\|.*\|firing\|/).length).toBeGreaterThanOrEqual(1);
        await waitFor('the resolved mail', async () => (await mailsTo(mailTo)).some((m) => /^spark_unhealthy\|.*\|resolved\|/.test(m.headers['x-supervisor-dedup-key'] ?? '')), {
          timeoutMs: 30_000,
          diagnose,
        });
        process.stderr.write(
          `e2e scenario 2: ${((Date.now() - t0) / 1000).toFixed(1)} s (kill → alert ${((firing.at - killedAt) / 1000).toFixed(1)} s, restart ${(restartMs / 1000).toFixed(1)} s)\n`,
        );
      } finally {
        // never leave the stack without its pipeline
        if (!restarted) await up(['pipeline'], { owner: rec!.owner, ...(log ? { log } : {}) }).catch(() => undefined);
      }
    });
  });
});
