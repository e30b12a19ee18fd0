/**
 * E2E (issue 7, scenario 3): stop Kafka under a running supervisor, start it again.
 *
 * A gated pipeline (`gate: { kafka_healthy: true }`) on a 10-second cron runs the real
 * ingestion CLI into a fresh topic. With Kafka stopped (the stack's own broker, `down kafka`),
 * the scheduled tick is recorded `skipped` with a reason naming Kafka, nothing is ingested for
 * it, and `kafka_cluster_down` reaches the webhook receiver and the SMTP sink. With Kafka back,
 * the alert resolves, the next tick ingests, and no logical date ever has a second run.
 *
 * Kafka is shared with the rest of the suite: it is brought back up in `finally` with the owner
 * it had (its data persists on disk), and a pipeline Spark job the outage stopped is restarted.
 * Tests running at the same time against the same broker (jest with several workers, another
 * developer's run) would see the outage too: the suite runs e2e files one at a time on 2 cores.
 */
import { ensureServices, kafkaClient, STACK_TIMEOUT_MS } from '../helpers/stack';
import { freshName, freshTopic } from '../helpers/names';
import { down, up } from '../../stack/manager';
import { liveRecord } from '../../stack/proc';
import { silentLog } from '../../stack/log';
import {
  Api,
  createToken,
  e2eConfig,
  ensureBuilt,
  freePort,
  mailsTo,
  SOURCES_YAML,
  startSupervisor,
  tempDir,
  waitFor,
  WebhookReceiver,
  writeConfig,
  type ApiRun,
  type SupervisorProcess,
} from '../helpers/e2e-supervisor';

const PIPELINE = 'e2e_gated_ingestion';
const log = process.env.STACK_VERBOSE ? undefined : silentLog;

describe('scenario 3: Kafka stops and comes back under a running supervisor', () => {
  const tmp = tempDir('e2e-kafka-');
  const receiver = new WebhookReceiver();
  const topic = freshTopic('e2e-gated');
  const mailTo = `${freshName('kafka')}@example.test`;
  let sup: SupervisorProcess | undefined;
  let pipelineRec: ReturnType<typeof liveRecord>;
  let configFile = '';
  let port = 0;

  beforeAll(async () => {
    await ensureServices(['kafka', 'schema-registry', 'smtp']);
    ensureBuilt();
    await receiver.listen();
    port = await freePort();
    configFile = writeConfig(
      tmp.dir,
      e2eConfig({
        port,
        hookUrl: receiver.url,
        mailTo,
        // the default probe timeout (10 s): see the report on check-wide `*` alerts that never resolve
        checks: { kafka: { kind: 'kafka_cluster', interval: '1s', expected_brokers: 1 } },
        rules: [
          // the default rule, with `for` shortened from 1m
          {
            name: 'kafka_cluster_down',
            match: { kind: 'kafka_cluster' },
            status: 'unknown',
            for: '0s',
            severity: 'critical',
            summary: 'Kafka cluster {{ target }} is down or unreachable',
            description: '{{ summary }}',
          },
        ],
        pipelines: {
          [PIPELINE]: {
            description: 'domain_ingestion every 10 s, gated on Kafka health',
            schedule: '*/10 * * * * *',
            timezone: 'UTC',
            catchup: false,
            overlap: 'skip',
            gate: { kafka_healthy: true },
            defaults: { retries: 0, execution_timeout: '2m' },
            tasks: [
              { id: 'check_kafka_health', operator: 'kafka_health', params: { kafka_servers: '{{ var.kafka_servers }}' } },
              {
                id: 'run_full_ingestion',
                operator: 'ingestion',
                upstream: ['check_kafka_health'],
                params: {
                  source_name: 'scam-domains',
                  config_path: SOURCES_YAML,
                  kafka_servers: '{{ var.kafka_servers }}',
                  schema_registry: '{{ var.schema_registry_url }}',
                  topic,
                  execution_mode: 'subprocess',
                  kill_grace: '5s',
                },
              },
              { id: 'send_success_notification', operator: 'notify', upstream: ['run_full_ingestion'], params: { message: `Domain ingestion finished for ${topic}` } },
            ],
          },
        },
      }),
    );
  }, STACK_TIMEOUT_MS);

  afterAll(async () => {
    await sup?.stop(5_000);
    await receiver.close();
    tmp.cleanup();
    // the Spark job reads this broker; if the outage stopped it, bring it back as it was
    if (pipelineRec && !liveRecord('pipeline')) {
      process.stderr.write('e2e scenario 3: the pipeline Spark job ended during the Kafka outage; restarting it\n');
      await up(['pipeline'], { owner: pipelineRec.owner, ...(log ? { log } : {}) });
    }
  }, STACK_TIMEOUT_MS);

  it('skips the gated tick with a reason naming Kafka, alerts, resolves, and never runs a logical date twice', async () => {
    const t0 = Date.now();
    const kafkaRec = liveRecord('kafka');
    pipelineRec = liveRecord('pipeline');
    const kafkaOwner = kafkaRec?.owner ?? process.env.STACK_OWNER ?? 'cli';
    const token = await createToken(configFile);
    sup = await startSupervisor(configFile, port);
    const api = new Api(sup.url, token);
    // alert and signal transitions, not the engine's per-run lines
    const diagnose = () =>
      `${sup!
        .tail(400)
        .split('\n')
        .filter((l) => !l.includes('"component":"engine"'))
        .slice(-60)
        .join('\n')}\n${receiver.summary()}`;
    const runs = () => api.runs(PIPELINE);

    // 1. a scheduled run goes through while Kafka is healthy
    const before = await waitFor('a successful scheduled run', async () => (await runs()).find((r) => r.kind === 'cron' && r.state === 'success'), {
      timeoutMs: 60_000,
      intervalMs: 500,
      diagnose,
    });
    expect(receiver.matching(/^kafka_cluster_down\|/)).toHaveLength(0);

    let stoppedAt = 0;
    let skipped: ApiRun;
    try {
      // 2. Kafka stops (after a run ended, so the next tick meets a stopped broker)
      await waitFor('no active run', async () => !(await runs()).some((r) => r.state === 'running' || r.state === 'queued'), { timeoutMs: 60_000, diagnose });
      stoppedAt = Date.now();
      expect(await down(['kafka'], { ...(log ? { log } : {}) })).toEqual(['kafka']);
      const downAt = Date.now();

      const firing = await waitFor('kafka_cluster_down firing on the webhook', () => receiver.matching(/^kafka_cluster_down\|.*\|firing\|/)[0], { timeoutMs: 30_000, diagnose });
      expect(firing.json.severity).toBe('critical');
      expect(firing.json.title).toMatch(/kafka_cluster_down/);
      expect(firing.at - downAt).toBeLessThan(15_000);

      skipped = await waitFor(
        'a scheduled tick skipped by the gate',
        async () => (await runs()).find((r) => r.kind === 'cron' && r.state === 'skipped' && r.logicalDate > before.logicalDate),
        { timeoutMs: 40_000, intervalMs: 500, diagnose },
      );
      expect(skipped.reason).toMatch(/^gate: Kafka is unhealthy/);
      expect(skipped.reason).toMatch(/kafka/i);
      expect((await api.tasks(skipped.id)).tasks).toHaveLength(0); // no ingestion started for it
      await waitFor('the alert mail', async () => (await mailsTo(mailTo)).some((m) => /^kafka_cluster_down\|.*\|firing\|/.test(m.headers['x-supervisor-dedup-key'] ?? '')), {
        timeoutMs: 30_000,
        diagnose,
      });
    } finally {
      // 3. Kafka comes back (always: the rest of the suite shares it), with the owner it had
      await up(['kafka'], { owner: kafkaOwner, ...(log ? { log } : {}) });
    }
    const upAt = Date.now();

    // 4. recovery: resolved notification, the next tick ingests
    await waitFor('kafka_cluster_down resolved on the webhook', () => receiver.matching(/^kafka_cluster_down\|.*\|resolved\|/)[0], { timeoutMs: 60_000, diagnose });
    const after = await waitFor(
      'a successful scheduled run after the outage',
      async () => (await runs()).find((r) => r.kind === 'cron' && r.state === 'success' && r.logicalDate > skipped.logicalDate),
      { timeoutMs: 90_000, intervalMs: 500, diagnose },
    );
    expect(after.startedAt!).toBeGreaterThanOrEqual(upAt - 1_000);

    // 5. one run per logical date, ever; the skipped dates were not run later (catchup off)
    const all = await runs();
    const perDate = new Map<number, ApiRun[]>();
    for (const r of all) perDate.set(r.logicalDate, [...(perDate.get(r.logicalDate) ?? []), r]);
    for (const [date, rows] of perDate) expect([new Date(date).toISOString(), rows.length]).toEqual([new Date(date).toISOString(), 1]);
    const skippedRuns = all.filter((r) => r.state === 'skipped');
    expect(skippedRuns.length).toBeGreaterThanOrEqual(1);
    for (const r of skippedRuns) {
      expect(r.reason).toMatch(/^gate: Kafka is unhealthy/);
      expect((await api.tasks(r.id)).tasks).toHaveLength(0);
    }
    // every skipped tick fell inside the outage
    for (const r of skippedRuns) expect(r.logicalDate).toBeGreaterThanOrEqual(stoppedAt - 10_000);
    for (const r of skippedRuns) expect(r.logicalDate).toBeLessThanOrEqual(upAt + 10_000);

    // the topic holds exactly the records of the runs that ingested (none for a skipped tick)
    const ingested = all.filter((r) => r.state === 'success' || r.state === 'failed');
    let produced = 0;
    for (const r of ingested) {
      const t = (await api.tasks(r.id)).tasks.find((x) => x.taskId === 'run_full_ingestion');
      const result = t?.result as { sources?: Record<string, { produced: number }> } | null | undefined;
      produced += Object.values(result?.sources ?? {}).reduce((n, s) => n + s.produced, 0);
    }
    const admin = kafkaClient('e2e-kafka-outage').admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      const inTopic = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
      if (all.some((r) => r.state === 'failed')) expect(inTopic).toBeGreaterThanOrEqual(produced);
      else expect(inTopic).toBe(produced);
    } finally {
      await admin.disconnect();
    }

    expect(await sup.stop()).toEqual({ code: 0, signal: null });
    sup = undefined;
    process.stderr.write(`e2e scenario 3: ${((Date.now() - t0) / 1000).toFixed(1)} s (Kafka down → up ${((upAt - stoppedAt) / 1000).toFixed(1)} s)\n`);
  });
});
