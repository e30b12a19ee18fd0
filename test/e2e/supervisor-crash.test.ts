/**
 * E2E (issue 7, scenario 4): SIGKILL the supervisor mid-ingestion, restart it.
 *
 * Real processes: the supervisor (`node bin/supervisor.js start`), the ingestion as its
 * subprocess (test/fixtures/e2e/slow-ingest.js: a slow first try in front of the real ingestion
 * CLI, producing to Kafka through the schema registry), email through the stack's SMTP sink and
 * a signed webhook to a receiver in this test. Asserts: once the supervisor is SIGKILLed and
 * restarted, no process of the ingestion's group survives (ESRCH) and the orphaned try never
 * ingested; exactly one run for the logical date ends `success` (try 1 orphaned, try 2 ingests);
 * the topic holds exactly one ingestion's records; the success notification arrives exactly once
 * per sink.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { kafkaClient, ensureServices, STACK_TIMEOUT_MS } from '../helpers/stack';
import { freshName, freshTopic } from '../helpers/names';
import {
  Api,
  cli,
  createToken,
  e2eConfig,
  ensureBuilt,
  freePort,
  groupAlive,
  mailsTo,
  pidAlive,
  REPO,
  sleep,
  SOURCES_YAML,
  startSupervisor,
  tempDir,
  waitFor,
  WebhookReceiver,
  writeConfig,
  type SupervisorProcess,
} from '../helpers/e2e-supervisor';

const PIPELINE = 'e2e_crash_ingestion';
const LOGICAL_DATE = '2025-10-05T03:00:00.000Z';

/** Field 5 of /proc/<pid>/stat: the process group. */
function processGroupOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

interface Marker {
  pid: number;
  try: number;
  runId: string;
  at: number;
  cliPid?: number;
}

describe('scenario 4: SIGKILL the supervisor mid-ingestion, then restart it', () => {
  const tmp = tempDir('e2e-crash-');
  const markers = path.join(tmp.dir, 'markers');
  const receiver = new WebhookReceiver();
  const topic = freshTopic('e2e-crash');
  const mailTo = `${freshName('crash')}@example.test`;
  const procs: SupervisorProcess[] = [];
  let configFile = '';
  let port = 0;

  const readMarkers = (kind: 'started' | 'cli'): Marker[] =>
    fs
      .readdirSync(markers)
      .filter((f) => f.startsWith(`${kind}-`))
      .map((f) => JSON.parse(fs.readFileSync(path.join(markers, f), 'utf8')) as Marker)
      .sort((a, b) => a.at - b.at);

  beforeAll(async () => {
    await ensureServices(['kafka', 'schema-registry', 'smtp']);
    ensureBuilt();
    fs.mkdirSync(markers);
    await receiver.listen();
    port = await freePort();
    configFile = writeConfig(
      tmp.dir,
      e2eConfig({
        port,
        hookUrl: receiver.url,
        mailTo,
        pipelines: {
          [PIPELINE]: {
            description: 'domain_ingestion with a slow first ingestion try',
            schedule: null,
            defaults: { retries: 2, retry_delay: '1s', execution_timeout: '3m' },
            tasks: [
              { id: 'check_kafka_health', operator: 'kafka_health', params: { kafka_servers: '{{ var.kafka_servers }}' } },
              {
                id: 'run_full_ingestion',
                operator: 'ingestion',
                upstream: ['check_kafka_health'],
                params: {
                  source_name: null,
                  config_path: SOURCES_YAML,
                  kafka_servers: '{{ var.kafka_servers }}',
                  schema_registry: '{{ var.schema_registry_url }}',
                  topic,
                  execution_mode: 'subprocess',
                  command: [process.execPath, path.join(REPO, 'test/fixtures/e2e/slow-ingest.js')],
                  env: { SLOW_INGEST_MARKER_DIR: markers, SLOW_INGEST_FIRST_TRY_DELAY_MS: '120000' },
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
    await Promise.allSettled(procs.map((p) => p.stop(5_000)));
    // nothing the test started may survive it, whatever happened above
    for (const m of fs.existsSync(markers) ? [...readMarkers('started'), ...readMarkers('cli')] : []) {
      for (const pid of [m.pid, m.cliPid]) {
        if (pid === undefined) continue;
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    await receiver.close();
    tmp.cleanup();
  });

  it('kills the orphaned ingestion, finishes exactly one run for the logical date, notifies once', async () => {
    const t0 = Date.now();
    const token = await createToken(configFile);
    const first = await startSupervisor(configFile, port);
    procs.push(first);
    const api = new Api(first.url, token);
    const diagnose = () => `${first.tail()}\n${receiver.summary()}`;

    const trig = await api.trigger(PIPELINE, { logical_date: LOGICAL_DATE });
    expect(trig.status).toBe(201);
    const runId = trig.json.runId;

    // 1. mid-ingestion: the first try runs in the process group recorded in the store
    const [firstTry] = await waitFor('the first ingestion try to start', () => (readMarkers('started').length > 0 ? readMarkers('started') : undefined), {
      timeoutMs: 60_000,
      diagnose,
    });
    expect(firstTry!.runId).toBe(runId);
    expect(firstTry!.try).toBe(1);
    const ti = await waitFor(
      'the ingestion process group in the store',
      async () => (await api.tasks(runId)).tasks.find((t) => t.taskId === 'run_full_ingestion' && t.pid !== null),
      { timeoutMs: 10_000, diagnose },
    );
    const pgid = ti.pid!;
    expect(ti.state).toBe('running');
    expect(processGroupOf(firstTry!.pid)).toBe(pgid);
    expect((await api.run(runId)).state).toBe('running');

    // 2. SIGKILL: no shutdown code runs in the supervisor
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const killedAt = Date.now();

    // 3. restart: whatever is left of the group is gone, the run resumes under the same id
    const second = await startSupervisor(configFile, port);
    procs.push(second);
    const api2 = new Api(second.url, token);
    const diagnose2 = () => `${second.tail(60)}\n${receiver.summary()}`;
    await waitFor('the orphaned process group to be gone (ESRCH)', () => !groupAlive(pgid), { timeoutMs: 20_000, diagnose: diagnose2 });
    expect(() => process.kill(-pgid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }) as Error);
    process.stderr.write(`e2e scenario 4: the orphaned ingestion group was gone ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the SIGKILL (restart included)\n`);
    // the orphan never got to ingest behind the new supervisor's back
    expect(readMarkers('cli').filter((m) => m.try === 1)).toHaveLength(0);

    const done = await api2.waitForRun(runId, 150_000, diagnose2);
    expect(done.state).toBe('success');

    // exactly one run for that logical date, and it is the one we triggered
    const forDate = (await api2.runs(PIPELINE)).filter((r) => r.logicalDate === Date.parse(LOGICAL_DATE));
    expect(forDate.map((r) => [r.id, r.state])).toEqual([[runId, 'success']]);

    // try 1 closed as orphaned, try 2 ran the real ingestion; no third try
    const { tasks, attempts } = await api2.tasks(runId);
    const ingest = attempts.filter((a) => a.taskId === 'run_full_ingestion').sort((a, b) => a.tryNumber - b.tryNumber);
    expect(ingest.map((a) => [a.tryNumber, a.state])).toEqual([
      [1, 'failed'],
      [2, 'success'],
    ]);
    expect(ingest[0]!.error).toMatch(/SUP_ERR_ORPHANED/);
    expect(ingest[1]!.exitCode).toBe(0);
    expect(tasks.find((t) => t.taskId === 'run_full_ingestion')).toMatchObject({ state: 'success', tryNumber: 2, pid: null });
    expect(tasks.find((t) => t.taskId === 'send_success_notification')).toMatchObject({ state: 'success', tryNumber: 1 });

    // one ingestion reached Kafka: the topic holds exactly what try 2 reports it produced
    const summary = tasks.find((t) => t.taskId === 'run_full_ingestion')!.result as { ok: boolean; runId: string; sources: Record<string, { produced: number }> };
    expect(summary.ok).toBe(true);
    expect(summary.runId).toBe(runId);
    const produced = Object.values(summary.sources).reduce((n, s) => n + s.produced, 0);
    expect(produced).toBeGreaterThan(0);
    const admin = kafkaClient('e2e-crash').admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0)).toBe(produced);
    } finally {
      await admin.disconnect();
    }

    // no orphan: every process either try started is gone
    const started = readMarkers('started');
    expect(started.map((m) => m.try)).toEqual([1, 2]);
    const clis = readMarkers('cli');
    expect(clis.map((m) => m.try)).toEqual([2]);
    for (const m of [...started, ...clis]) {
      expect(pidAlive(m.pid)).toBe(false);
      if (m.cliPid !== undefined) expect(pidAlive(m.cliPid)).toBe(false);
    }

    // the success notification: exactly once on the webhook (dedup key header) and once by mail
    const key = `${runId}|send_success_notification`;
    await waitFor('the success notification on the webhook', () => receiver.matching(/./).some((r) => r.dedupKey === key), { timeoutMs: 30_000, diagnose: diagnose2 });
    await waitFor('the success mail', async () => (await mailsTo(mailTo)).some((m) => m.headers['x-supervisor-dedup-key'] === key), { timeoutMs: 30_000, diagnose: diagnose2 });
    // a re-trigger of the same logical date (CLI, like a duplicate cron tick) starts nothing
    const again = await cli(configFile, ['--json', 'pipelines', 'trigger', PIPELINE, '--logical-date', LOGICAL_DATE]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout.trim())).toMatchObject({ runId, created: false, state: 'success' });
    expect(again.stderr).toContain('already exists');
    await sleep(3_000); // time for a duplicate delivery to show up, if there were one
    expect((await api2.runs(PIPELINE)).filter((r) => r.logicalDate === Date.parse(LOGICAL_DATE))).toHaveLength(1);
    const hooks = receiver.requests.filter((r) => r.dedupKey === key);
    expect(hooks).toHaveLength(1);
    expect(hooks[0]!.json).toMatchObject({ kind: 'info', labels: { pipeline: PIPELINE } });
    expect(hooks[0]!.headers['x-supervisor-signature-256']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(receiver.requests).toHaveLength(1); // and nothing else: no failed-run alert for a recovered try
    const mails = (await mailsTo(mailTo)).filter((m) => m.headers['x-supervisor-dedup-key'] === key);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toContain(`Domain ingestion finished for ${topic}`);

    // a clean stop of the second supervisor
    expect(await second.stop()).toEqual({ code: 0, signal: null });
    process.stderr.write(`e2e scenario 4: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  });
});
