/**
 * E2E (issue 16): deadline alerts and missed-schedule detection, by the real daemon process, to a
 * webhook receiver in the test.
 *
 * - `gated` runs every 2 s behind a gate on a consumer group's lag on a fresh topic of the
 *   stack's Kafka (5 messages, a group that never committed: lag 5 > 0): every tick is recorded
 *   `skipped` by the gate, and 3 s later `PipelineDeadlineMissed` reaches the webhook naming the
 *   pipeline, a logical date and the gate's reason.
 * - `frequent` runs every 5 s (a command that succeeds) with a 4 s deadline. The daemon is stopped,
 *   ticks pass while it is down, it is started again: the deadline of a tick that passed while it
 *   was down is on the webhook before a 5 s timeout from the start, and the missed ticks are
 *   reported (signal with cause `daemon_down`, `PipelineScheduleMissed`, the counter on /metrics).
 * - `held` (every 2 s, 1 s deadline) is paused in the pipeline-state store before the first start:
 *   its signals are ok "paused" and no alert of either rule names it.
 */
import type { Admin, Producer } from 'kafkajs';
import { openDatabase } from '../../src/store/database';
import { createPipelineStateStore } from '../../src/store/pipeline-state';
import { freshGroup, freshTopic } from '../helpers/names';
import { ensureServices, kafkaClient, STACK_TIMEOUT_MS } from '../helpers/stack';
import {
  Api,
  createToken,
  e2eConfig,
  ensureBuilt,
  freePort,
  sleep,
  startSupervisor,
  tempDir,
  waitFor,
  WebhookReceiver,
  writeConfig,
  type Hook,
  type SupervisorProcess,
} from '../helpers/e2e-supervisor';
import * as path from 'node:path';

const ok = { id: 'work', operator: 'command', params: { command: ['true'] } };

describe('deadline alerts and missed schedules (real daemon, real Kafka gate, webhook sink)', () => {
  const tmp = tempDir('e2e-deadlines-');
  const receiver = new WebhookReceiver();
  const topic = freshTopic('e2e-deadline-gate');
  const group = freshGroup('e2e-deadline-gate');
  let admin: Admin;
  let producer: Producer;
  let sup: SupervisorProcess | undefined;
  let configFile = '';
  let port = 0;
  let api: Api;

  const firing = (rule: string, pipeline: string, after = 0): Hook[] =>
    receiver.requests.filter((r) => r.json.kind === 'firing' && r.json.rule === rule && r.json.labels?.pipeline === pipeline && r.at >= after);
  const text = (h: Hook): string => `${h.json.title ?? ''}\n${h.json.text ?? ''}\n${JSON.stringify(h.json.annotations ?? {})}`;
  const diagnose = (): string => `${receiver.summary()}\n${sup?.tail(30) ?? ''}`;

  beforeAll(async () => {
    await ensureServices(['kafka']);
    ensureBuilt();
    const kafka = kafkaClient('e2e-deadlines');
    admin = kafka.admin();
    producer = kafka.producer();
    await admin.connect();
    await producer.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await producer.send({ topic, messages: Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
    await receiver.listen();
    port = await freePort();
    const config = e2eConfig({
      port,
      hookUrl: receiver.url,
      mailTo: 'unused@example.test',
      pipelines: {
        gated: { schedule: '*/2 * * * * *', gate: { max_lag: { group, topic, max_lag: 0 } }, deadline: { after: '3s' }, tasks: [ok] },
        frequent: { schedule: '*/5 * * * * *', deadline: { after: '4s' }, tasks: [ok] },
        held: { schedule: '*/2 * * * * *', deadline: { after: '1s' }, tasks: [ok] },
      },
    });
    // the webhook only (no SMTP needed here)
    const alerts = config.alerts as { sinks: Record<string, unknown>; route: { sinks: string[] } };
    delete alerts.sinks.mail;
    alerts.route.sinks = ['hook'];
    configFile = writeConfig(tmp.dir, config);
    api = new Api(`http://127.0.0.1:${port}`, await createToken(configFile));
    // pause `held` in the store before the daemon ever runs (what `dags pause` writes)
    const db = openDatabase({ file: path.join(tmp.dir, 'state.db') });
    try {
      const state = createPipelineStateStore(db);
      state.ensure([{ id: 'held', paused: false }], Date.now());
      state.setPaused('held', true, 'cli:e2e', 'maintenance window', Date.now());
    } finally {
      db.close();
    }
  }, STACK_TIMEOUT_MS);

  afterAll(async () => {
    await sup?.stop();
    await receiver.close();
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await producer?.disconnect();
    await admin?.disconnect();
    tmp.cleanup();
  });

  it('a run stuck behind its gate pages PipelineDeadlineMissed by webhook, naming the pipeline, the logical date and the gate', async () => {
    sup = await startSupervisor(configFile, port);
    const hook = await waitFor('PipelineDeadlineMissed for gated on the webhook', () => firing('PipelineDeadlineMissed', 'gated')[0], { timeoutMs: 30_000, diagnose });
    const body = text(hook);
    expect(hook.json.severity).toBe('critical');
    expect(body).toContain('gated');
    expect(body).toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z was skipped by its gate/);
    expect(body).toContain(`consumer group ${group} lags 5 messages on ${topic}`);
    // the runs behind it really are gate skips recorded by the engine
    const runs = await api.runs('gated');
    expect(runs.length).toBeGreaterThan(0);
    expect(runs.every((r) => r.state === 'skipped' && /^gate: /.test(r.reason ?? ''))).toBe(true);
    const signal = (await api.signals('pipeline_deadline')).find((s) => s.target === 'gated');
    expect(signal).toMatchObject({ kind: 'pipeline_deadline', status: 'crit' });
  }, 120_000);

  it('a deadline that passed while the daemon was stopped fires right after the start, and the ticks missed meanwhile are reported', async () => {
    // `frequent` has run (and succeeded) while the daemon was up
    await waitFor('a successful run of frequent', async () => (await api.runs('frequent')).some((r) => r.state === 'success'), { timeoutMs: 30_000, diagnose });
    // while up, every run made its deadline: no alert yet (else the restart would find it firing already)
    expect(firing('PipelineDeadlineMissed', 'frequent')).toEqual([]);
    await sup!.stop();
    const stoppedAt = Date.now();
    // at least two 5-second ticks pass while it is down, and the 4 s deadline of at least one
    await sleep(12_000);
    const startedAt = Date.now();
    sup = await startSupervisor(configFile, port);
    // the first evaluation is at the start: before a 5 s timeout from readiness (the spawn took startedAt → now)
    const hook = await waitFor('PipelineDeadlineMissed for frequent after the restart', () => firing('PipelineDeadlineMissed', 'frequent', startedAt)[0], {
      timeoutMs: 5_000,
      intervalMs: 100,
      diagnose,
    });
    expect(text(hook)).toMatch(/has no run: the supervisor was not running then/);
    const dates = [...text(hook).matchAll(/(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z) has no run/g)].map((m) => Date.parse(m[1]!));
    expect(dates.length).toBeGreaterThan(0);
    for (const d of dates) expect(d).toBeGreaterThan(stoppedAt - 5_000);
    // the signal behind it, on /api/v1/health: the same dates, reason no_run
    const deadlineSignal = (await api.signals('pipeline_deadline')).find((s) => s.target === 'frequent');
    expect(deadlineSignal?.status).toBe('crit');
    const overdue = (deadlineSignal?.facts as { overdue?: Array<{ logicalDate: number; reason: string }> } | undefined)?.overdue ?? [];
    expect(overdue.filter((m) => m.reason === 'no_run').map((m) => m.logicalDate)).toEqual(expect.arrayContaining(dates));

    // missed ticks: the webhook, the counter, and (until a later run succeeds) the signal's facts
    const missedHook = await waitFor('PipelineScheduleMissed for frequent', () => firing('PipelineScheduleMissed', 'frequent', startedAt)[0], { timeoutMs: 10_000, diagnose });
    expect(missedHook.json.severity).toBe('warning');
    expect(text(missedHook)).toContain('the supervisor was not running');
    const metrics = await (await fetch(`${sup.url}/metrics`)).text();
    const counted = /^supervisor_pipeline_missed_schedules_total\{pipeline="frequent"\} (\d+)$/m.exec(metrics);
    expect(Number(counted?.[1])).toBeGreaterThanOrEqual(2);
    expect(metrics).toMatch(/^supervisor_pipeline_deadline_misses_total\{pipeline="frequent"\} [1-9]/m);
    expect(metrics).toMatch(/^supervisor_pipeline_runs_past_deadline\{pipeline="frequent"\} [1-9]/m);
  }, 120_000);

  it('a paused pipeline has no deadline or missed-schedule alert: its signals say paused', async () => {
    const signals = [...(await api.signals('pipeline_deadline')), ...(await api.signals('pipeline_schedule'))].filter((s) => s.target === 'held');
    expect(signals.map((s) => [s.kind, s.status, s.summary])).toEqual([
      ['pipeline_deadline', 'ok', 'pipeline held is paused'],
      ['pipeline_schedule', 'ok', 'pipeline held is paused'],
    ]);
    expect(receiver.requests.filter((r) => r.json.labels?.pipeline === 'held')).toEqual([]);
  });
});
