/**
 * The store modules' public behaviour, the same tests against both backends: the embedded
 * SQLite file and a fresh database on the stack's PostgreSQL (TLS, the supervisor's own
 * facade). Each backend gets a fresh store per suite.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Notification } from '../../../src/protocol';
import { openDatabase } from '../../../src/store/database';
import { MIGRATIONS } from '../../../src/store/migrations';
import { POSTGRES_MIGRATIONS } from '../../../src/store/migrations-postgres';
import { createSqliteAlertStateStore } from '../../../src/store/alert-state';
import { createAuditStore } from '../../../src/store/audit';
import { createSqliteOutboxStore } from '../../../src/store/outbox';
import { createOutboxView } from '../../../src/store/outbox-view';
import { createPipelineStateStore } from '../../../src/store/pipeline-state';
import { createRunGridStore } from '../../../src/store/run-grid';
import { createRunStore } from '../../../src/store/runs';
import { createSqliteSilenceStore } from '../../../src/store/silences';
import { createTaskLogReader } from '../../../src/store/task-log-pages';
import { createTokenStore } from '../../../src/store/tokens';
import { createVariableStore } from '../../../src/store/variables';
import type { SqlDatabase } from '../../../src/store/sql';
import { createFreshPostgres, type FreshPostgres } from '../../helpers/postgres-store';
import { ensureServices, STACK_TIMEOUT_MS } from '../../helpers/stack';

jest.setTimeout(60_000);

const note = (dedupKey: string, title = 'Kafka down'): Notification => ({
  dedupKey,
  kind: 'firing',
  rule: 'kafka_down',
  severity: 'critical',
  title,
  text: 'no broker',
  labels: { cluster: 'local' },
  annotations: {},
  startsAt: 1_000,
  items: [],
});

describe.each(['sqlite', 'postgres'] as const)('state store on %s', (backend) => {
  let db: SqlDatabase;
  let fresh: FreshPostgres | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    if (backend === 'postgres') {
      await ensureServices(['postgres']);
      fresh = await createFreshPostgres('backends');
      db = openDatabase({ store: fresh.settings });
    } else {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-backends-'));
      db = openDatabase({ store: { kind: 'sqlite', path: path.join(dir, 'state.db') } });
    }
  }, STACK_TIMEOUT_MS);

  afterAll(async () => {
    db?.close();
    await fresh?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('speaks its dialect and is open', () => {
    expect(db.dialect).toBe(backend);
    expect(db.open).toBe(true);
  });

  describe('runs', () => {
    it('keeps one run per (pipeline, logical date) unless a rerun is asked for', () => {
      const runs = createRunStore(db);
      const first = runs.insertRun({ pipeline: 'ingest', logicalDate: 3_600_000, kind: 'cron', firedAt: 10, queuedAt: 11, params: { a: 1 } });
      expect(first.created).toBe(true);
      expect(first.run).toMatchObject({ pipeline: 'ingest', logicalDate: 3_600_000, state: 'queued', params: { a: 1 }, rerun: false, firedAt: 10, queuedAt: 11 });
      const again = runs.insertRun({ pipeline: 'ingest', logicalDate: 3_600_000, kind: 'manual', firedAt: 20, queuedAt: 21 });
      expect(again).toEqual({ run: first.run, created: false });
      const rerun = runs.insertRun({ pipeline: 'ingest', logicalDate: 3_600_000, kind: 'manual', firedAt: 30, queuedAt: 31, rerun: true });
      expect(rerun.created).toBe(true);
      expect(rerun.run).toMatchObject({ rerun: true, attemptOf: first.run.id });
      expect(rerun.run.id).not.toBe(first.run.id);
      expect(runs.findRun('ingest', 3_600_000)?.id).toBe(first.run.id);
      expect(runs.listRuns({ pipeline: 'ingest' }).map((r) => r.id)).toEqual([rerun.run.id, first.run.id]);
      expect(runs.countRuns('ingest', ['queued'])).toBe(2);
      expect(runs.countByPipeline(['queued'])).toEqual(new Map([['ingest', 2]]));
    });

    it('claims a queued run once, and transitions only from the given states', () => {
      const runs = createRunStore(db);
      const { run } = runs.insertRun({ pipeline: 'claim', logicalDate: 1, kind: 'cron', firedAt: 1, queuedAt: 1 });
      expect(runs.claimRun(run.id, 100, 50)).toBe(true);
      expect(runs.claimRun(run.id, 200, 60)).toBe(false);
      expect(runs.getRun(run.id)).toMatchObject({ state: 'running', ownerPid: 100, startedAt: 50 });
      expect(runs.transitionRun(run.id, ['queued'], { state: 'failed' })).toBe(false);
      expect(runs.transitionRun(run.id, ['running'], { state: 'success', endedAt: 70, reason: 'done' })).toBe(true);
      expect(runs.getRun(run.id)).toMatchObject({ state: 'success', endedAt: 70, reason: 'done' });
      expect(runs.lastSuccess('claim')?.id).toBe(run.id);
      expect(runs.lastLogicalDate('claim', ['cron'])).toBe(1);
      expect(runs.lastLogicalDate('claim', ['manual'])).toBeNull();
    });

    it('pages queued runs oldest first and finds requested ones', () => {
      const runs = createRunStore(db);
      const ids = [5, 6, 7].map((d) => runs.insertRun({ pipeline: 'queue', logicalDate: d, kind: 'backfill', firedAt: d, queuedAt: 1_000 + d }).run.id);
      const page1 = runs.listQueued({ limit: 2, pipelines: ['queue'] });
      expect(page1.map((r) => r.id)).toEqual(ids.slice(0, 2));
      const last = page1[1]!;
      expect(runs.listQueued({ limit: 2, pipelines: ['queue'], after: { queuedAt: last.queuedAt, id: last.id } }).map((r) => r.id)).toEqual([ids[2]]);
      runs.claimRun(ids[0]!, 4242, 1);
      runs.updateRun(ids[0]!, { requestedState: 'cancelled', requestedBy: 'alice' });
      expect(runs.listRequested(4242).map((r) => [r.id, r.requestedState, r.requestedBy])).toEqual([[ids[0], 'cancelled', 'alice']]);
    });

    it('keeps task instances in insertion order, attempts and logs, and deletes a run whole', () => {
      const runs = createRunStore(db);
      const { run } = runs.insertRun({ pipeline: 'tasks', logicalDate: 9, kind: 'manual', firedAt: 1, queuedAt: 1 });
      for (const taskId of ['zeta', 'alpha', 'mid']) {
        runs.upsertTask({
          runId: run.id,
          taskId,
          state: 'queued',
          tryNumber: 0,
          maxTries: 2,
          startedAt: null,
          endedAt: null,
          nextTryAt: null,
          pid: null,
          result: null,
          reason: null,
        });
      }
      runs.updateTask(run.id, 'alpha', { state: 'success', result: { rows: 3 }, tryNumber: 1 });
      expect(runs.listTasks(run.id).map((t) => t.taskId)).toEqual(['zeta', 'alpha', 'mid']);
      expect(runs.getTask(run.id, 'alpha')).toMatchObject({ state: 'success', result: { rows: 3 }, tryNumber: 1, maxTries: 2 });
      runs.startAttempt({ runId: run.id, taskId: 'alpha', tryNumber: 1, startedAt: 5 });
      runs.updateAttempt(run.id, 'alpha', 1, { state: 'failed', endedAt: 6, exitCode: 3, error: 'exit 3' });
      runs.startAttempt({ runId: run.id, taskId: 'alpha', tryNumber: 2, startedAt: 7 });
      expect(runs.listAttempts(run.id, 'alpha').map((a) => [a.tryNumber, a.state, a.exitCode])).toEqual([
        [1, 'failed', 3],
        [2, 'running', null],
      ]);
      runs.saveLog({ runId: run.id, taskId: 'alpha', tryNumber: 1, content: 'first\n', truncatedBytes: 0 });
      runs.saveLog({ runId: run.id, taskId: 'alpha', tryNumber: 1, content: 'first\nsecond ✓\n', truncatedBytes: 0 });
      expect(runs.getLogs(run.id, 'alpha')).toEqual([{ runId: run.id, taskId: 'alpha', tryNumber: 1, content: 'first\nsecond ✓\n', truncatedBytes: 0 }]);
      runs.deleteRun(run.id);
      expect(runs.getRun(run.id)).toBeNull();
      expect(runs.listTasks(run.id)).toEqual([]);
      expect(runs.getLogs(run.id)).toEqual([]);
    });

    it('rolls a failing transaction back whole', () => {
      const runs = createRunStore(db);
      const tx = db.transaction(() => {
        runs.insertRun({ pipeline: 'rollback', logicalDate: 1, kind: 'manual', firedAt: 1, queuedAt: 1 });
        throw new Error('boom');
      });
      expect(() => tx()).toThrow('boom');
      expect(runs.findRun('rollback', 1)).toBeNull();
      expect(db.inTransaction).toBe(false);
    });
  });

  describe('outbox', () => {
    it('dedups per sink, hands out due entries and records retries, delivery and death', () => {
      const outbox = createSqliteOutboxStore(db);
      const ids = outbox.enqueue(note('k1'), ['slack', 'email', 'slack'], 100);
      expect(ids).toHaveLength(2);
      expect(ids.every((id) => Number.isInteger(id) && id > 0)).toBe(true);
      expect(outbox.enqueue(note('k1'), ['slack', 'email'], 200)).toEqual([]);
      expect(outbox.due(99, 10)).toEqual([]);
      const due = outbox.due(100, 10);
      expect(due.map((e) => [e.id, e.sink, e.dedupKey, e.state, e.attempts])).toEqual([
        [ids[0], 'slack', 'k1', 'pending', 0],
        [ids[1], 'email', 'k1', 'pending', 0],
      ]);
      expect(due[0]!.notification.title).toBe('Kafka down');
      outbox.markRetry(ids[0]!, 500, 'HTTP 429');
      expect(outbox.due(400, 10, 'slack')).toEqual([]);
      expect(outbox.nextDueAt('slack')).toBe(500);
      expect(outbox.due(500, 10, 'slack')[0]).toMatchObject({ attempts: 1, lastError: 'HTTP 429' });
      outbox.markDelivered(ids[0]!, 600);
      outbox.markDead(ids[1]!, 'bad address');
      expect(outbox.stats()).toEqual({ pending: 0, delivered: 1, dead: 1 });
      expect(outbox.list({ state: 'delivered' }).map((e) => [e.id, e.deliveredAt])).toEqual([[ids[0], 600]]);
      const view = createOutboxView(db).list();
      expect(view.map((v) => [v.sink, v.state, v.title])).toEqual([
        ['email', 'failed', 'Kafka down'],
        ['slack', 'delivered', 'Kafka down'],
      ]);
      expect(outbox.prune(101)).toBe(2);
      expect(outbox.stats()).toEqual({ pending: 0, delivered: 0, dead: 0 });
    });
  });

  describe('alert state, silences, tokens, variables, pipeline state, audit', () => {
    it('keeps alerts and groups apart', () => {
      const alerts = createSqliteAlertStateStore(db);
      alerts.saveAlert({ key: 'kafka_down|c=1', rule: 'kafka_down', labels: { c: '1' }, state: 'firing', activeSince: 1, lastTrueAt: 2, summary: 's' });
      alerts.saveGroup({ key: 'kafka_down|', rule: 'kafka_down', labels: {}, episodeSince: 1, sequence: 2, lastNotifiedAt: 3, notifiedAlerts: ['kafka_down|c=1'] });
      alerts.saveAlert({ key: 'kafka_down|c=1', rule: 'kafka_down', labels: { c: '1' }, state: 'resolved', activeSince: 1, lastTrueAt: 2, summary: 's' });
      expect(alerts.loadAlerts().map((a) => [a.key, a.state])).toEqual([['kafka_down|c=1', 'resolved']]);
      expect(alerts.loadGroups().map((g) => [g.key, g.sequence])).toEqual([['kafka_down|', 2]]);
      alerts.deleteGroup('kafka_down|');
      alerts.deleteAlert('kafka_down|c=1');
      expect(alerts.loadAlerts()).toEqual([]);
      expect(alerts.loadGroups()).toEqual([]);
    });

    it('lists active silences, expires one no earlier than its start, tells listeners', () => {
      const silences = createSqliteSilenceStore(db);
      let changes = 0;
      const off = silences.onChange!(() => changes++);
      silences.addSilence({ id: 's1', matchers: { alertname: 'kafka_down' }, startsAt: 1_000, endsAt: 5_000, createdBy: 'alice', comment: 'maintenance' });
      silences.addSilence({ id: 's2', matchers: { cluster: '~loc.*' }, startsAt: 3_000, endsAt: 9_000, createdBy: 'bob', comment: 'later' });
      expect(silences.listSilences(4_000).map((s) => s.id)).toEqual(['s1', 's2']);
      expect(silences.expireSilence('s2', 2_000)).toBe(true);
      expect(silences.listSilences(0, { all: true }).find((s) => s.id === 's2')?.endsAt).toBe(3_000);
      expect(silences.expireSilence('s1', 2_000)).toBe(true);
      expect(silences.listSilences(2_500).map((s) => s.id)).toEqual(['s2']);
      expect(silences.deleteSilence('s1')).toBe(true);
      expect(silences.deleteSilence('s1')).toBe(false);
      expect(changes).toBe(5);
      off();
    });

    it('verifies tokens by hash and revokes them', () => {
      const tokens = createTokenStore(db);
      const { token } = tokens.create('grafana', true, 5);
      expect(tokens.verify(token, 10)).toMatchObject({ name: 'grafana', readOnly: true, createdAt: 5 });
      expect(tokens.verify(`${token}x`)).toBeNull();
      expect(tokens.list()[0]!.lastUsedAt).toBe(10);
      expect(tokens.revoke('grafana')).toBe(true);
      expect(tokens.verify(token)).toBeNull();
    });

    it('sets, lists and deletes variables', () => {
      const vars = createVariableStore(db);
      vars.set('kafka_servers', 'a:9092', 1);
      vars.set('kafka_servers', 'b:9092', 2);
      vars.set('bucket', 'delta', 3);
      expect(vars.get('kafka_servers')).toEqual({ key: 'kafka_servers', value: 'b:9092', updatedAt: 2 });
      expect(vars.asRecord()).toEqual({ bucket: 'delta', kafka_servers: 'b:9092' });
      expect(vars.delete('bucket')).toBe(true);
      expect(vars.list().map((v) => v.key)).toEqual(['kafka_servers']);
    });

    it('records pipelines once, pauses and unpauses them', () => {
      const state = createPipelineStateStore(db);
      state.ensure(
        [
          { id: 'a', paused: true },
          { id: 'b', paused: false },
        ],
        100,
      );
      state.ensure([{ id: 'a', paused: false }], 200);
      expect(state.get('a')).toMatchObject({ paused: true, firstSeenAt: 100 });
      expect(state.setPaused('a', true, 'cli:alice', null, 300).changed).toBe(false);
      const unpaused = state.setPaused('a', false, 'cli:alice', 'back', 400);
      expect(unpaused).toEqual({
        changed: true,
        record: { pipeline: 'a', paused: false, changedAt: 400, changedBy: 'cli:alice', reason: 'back', firstSeenAt: 100, unpausedAt: 400 },
      });
      expect(state.setPaused('b', true, 'token:ops', 'incident', 500).record).toMatchObject({ paused: true, unpausedAt: null });
      expect(state.isPaused('b')).toBe(true);
      expect(state.list().map((p) => p.pipeline)).toEqual(['a', 'b']);
    });

    it('appends the audit trail and pages it newest first', () => {
      const audit = createAuditStore(db);
      const first = audit.record({ at: 1, actor: 'cli:alice', action: 'pause', pipeline: 'ingest', reason: 'why' });
      const second = audit.record({ at: 2, actor: 'token:ops', action: 'cancel', pipeline: 'ingest', runId: 'r1', details: { from: 'running' } });
      expect(second.id).toBeGreaterThan(first.id);
      expect(second).toMatchObject({ at: 2, actor: 'token:ops', action: 'cancel', runId: 'r1', taskId: null, details: { from: 'running' } });
      expect(audit.list({ pipeline: 'ingest' }).map((e) => e.id)).toEqual([second.id, first.id]);
      expect(audit.list({ before: second.id }).map((e) => e.id)).toEqual([first.id]);
      expect(audit.list({ runId: 'r1', limit: 1 }).map((e) => e.action)).toEqual(['cancel']);
    });
  });

  describe("the UI's store reads", () => {
    it('pages the run grid by keyset with task states', () => {
      const runs = createRunStore(db);
      const made = [1, 2, 3].map((d) => runs.insertRun({ pipeline: 'grid', logicalDate: d, kind: 'cron', firedAt: d, queuedAt: d * 10 }).run);
      runs.upsertTask({
        runId: made[2]!.id,
        taskId: 't',
        state: 'running',
        tryNumber: 1,
        maxTries: 1,
        startedAt: 5,
        endedAt: null,
        nextTryAt: null,
        pid: 1,
        result: null,
        reason: null,
      });
      const grid = createRunGridStore(db);
      const page = grid.page({ pipeline: 'grid', limit: 2 });
      expect(page.runs.map((r) => r.id)).toEqual([made[2]!.id, made[1]!.id]);
      expect(page.runs[0]!.tasks).toEqual({ t: { state: 'running', tryNumber: 1, startedAt: 5, endedAt: null } });
      expect(grid.page({ pipeline: 'grid', limit: 2, before: page.next! }).runs.map((r) => r.id)).toEqual([made[0]!.id]);
    });

    it("slices a task log's bytes on the server (multi-byte text, truncated head)", () => {
      const runs = createRunStore(db);
      const { run } = runs.insertRun({ pipeline: 'logs', logicalDate: 1, kind: 'manual', firedAt: 1, queuedAt: 1 });
      const body = Array.from({ length: 50 }, (_, i) => `line ${i} ✓`).join('\n') + '\n';
      const marker = '[… 1000 bytes truncated, tail kept …]\n';
      runs.startAttempt({ runId: run.id, taskId: 't', tryNumber: 1, startedAt: 1 });
      runs.saveLog({ runId: run.id, taskId: 't', tryNumber: 1, content: marker + body, truncatedBytes: 1000 });
      const reader = createTaskLogReader(db);
      const meta = reader.meta(run.id, 't', 1)!;
      expect(meta).toEqual({ tryNumber: 1, start: 1000, size: 1000 + Buffer.byteLength(body), truncatedBytes: 1000, markerBytes: Buffer.byteLength(marker) });
      const tail = reader.pageBefore(run.id, 't', meta, undefined, 40);
      expect(tail.text.length).toBeGreaterThan(0);
      expect(body.endsWith(tail.text)).toBe(true);
      expect(tail.end).toBe(meta.size);
      const head = reader.pageAfter(run.id, 't', meta, 1000, 30);
      expect(head.start).toBe(1000);
      expect(body.startsWith(head.text)).toBe(true);
      expect(head.text.endsWith('\n')).toBe(true);
      expect(reader.tries(run.id, 't')).toEqual([1]);
    });
  });
});

describe('PostgreSQL migrations', () => {
  let fresh: FreshPostgres;
  beforeAll(async () => {
    await ensureServices(['postgres']);
    fresh = await createFreshPostgres('migrate');
  }, STACK_TIMEOUT_MS);
  afterAll(async () => {
    await fresh?.drop();
  });

  it('records each version, upgrades in place, refuses a newer store, rolls a failing migration back', async () => {
    const v1 = openDatabase({ store: fresh.settings, postgresMigrations: POSTGRES_MIGRATIONS.filter((m) => m.version === 1) });
    createVariableStore(v1).set('kept', 'yes', 1);
    v1.close();
    const latest = Math.max(...MIGRATIONS.map((m) => m.version));
    const db = openDatabase({ store: fresh.settings });
    expect(createVariableStore(db).get('kept')?.value).toBe('yes');
    expect(
      db
        .prepare<[], { version: number }>('SELECT version FROM schema_migrations ORDER BY version')
        .all()
        .map((r) => r.version),
    ).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    db.close();

    const bad = { version: latest + 1, name: 'broken', sql: 'CREATE TABLE half_done (a INT); THIS IS NOT SQL' };
    expect(() => openDatabase({ store: fresh.settings, postgresMigrations: [...POSTGRES_MIGRATIONS, bad] })).toThrow(new RegExp(`migration ${latest + 1} \\(broken\\) failed`));
    const admin = await fresh.admin();
    expect((await admin.query("SELECT to_regclass('public.half_done') AS t")).rows[0].t).toBeNull();

    await admin.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES (1000, $1, 0)', ['from the future']);
    expect(() => openDatabase({ store: fresh.settings })).toThrow(/schema version 1000 .* knows only up to/);
  });
});
