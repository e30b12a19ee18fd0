/**
 * Operations against the real supervisor process (`supervisor start`) and the real CLI, with
 * real task subprocesses: cancel mid-ingestion leaves no process behind; clear --only-failed
 * --downstream re-runs exactly the failed task and its downstream; mark success unblocks the
 * downstream; pause stops cron ticks and unpause resumes them; the audit trail names the token
 * or the CLI's OS user; bad input changes nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Api,
  cli,
  createToken,
  e2eConfig,
  ensureBuilt,
  freePort,
  pidAlive,
  sleep,
  startSupervisor,
  tempDir,
  waitFor,
  WebhookReceiver,
  writeConfig,
  type SupervisorProcess,
} from '../helpers/e2e-supervisor';

const FIX = path.resolve(__dirname, '../fixtures/engine');
const node = process.execPath;
const cliUser = `cli:${os.userInfo().username}`;

interface AuditRow {
  actor: string;
  action: string;
  reason: string | null;
  taskId: string | null;
  details: Record<string, unknown>;
}

describe('operations on real runs (supervisor process, CLI, task subprocesses)', () => {
  const tmp = tempDir('sup-ops-');
  const hooks = new WebhookReceiver();
  let sup: SupervisorProcess;
  let api: Api;
  let config: string;
  const pidFile = path.join(tmp.dir, 'ingestion.pids');
  const flag = path.join(tmp.dir, 'b-may-pass');

  beforeAll(async () => {
    ensureBuilt();
    await hooks.listen();
    const port = await freePort();
    // b fails until the flag file exists; c is downstream of b, d of a only
    const passIfFlag = [node, '-e', `process.exit(require('fs').existsSync(${JSON.stringify(flag)}) ? 0 : 3)`];
    config = writeConfig(
      tmp.dir,
      e2eConfig({
        port,
        hookUrl: hooks.url,
        mailTo: 'ops@e2e.local',
        pipelines: {
          ops_ingest: {
            tasks: [
              {
                id: 'run_full_ingestion',
                operator: 'ingestion',
                params: {
                  source_name: null,
                  config_path: 'sources.yaml',
                  kafka_servers: '127.0.0.1:9092',
                  execution_mode: 'subprocess',
                  command: [node, path.join(FIX, 'spawning-ingestion.js')],
                  kill_grace: '2s',
                  env: { FAKE_INGESTION_PIDFILE: pidFile },
                },
              },
            ],
          },
          ops_chain: {
            tasks: [
              { id: 'a', operator: 'command', params: { command: ['true'] } },
              { id: 'b', operator: 'command', upstream: ['a'], params: { command: passIfFlag } },
              { id: 'c', operator: 'command', upstream: ['b'], params: { command: ['true'] } },
              { id: 'd', operator: 'command', upstream: ['a'], params: { command: ['true'] } },
            ],
          },
          ops_cron: { schedule: '* * * * * *', tasks: [{ id: 'tick', operator: 'command', params: { command: ['true'] } }] },
        },
      }),
    );
    fs.writeFileSync(path.join(tmp.dir, 'sources.yaml'), 'topic: t\nsources:\n  alpha: {format: domains, path: a.txt, category: x}\n');
    const token = await createToken(config, 'ops-writer');
    sup = await startSupervisor(config, port);
    api = new Api(sup.url, token);
  });

  afterAll(async () => {
    const stopped = await sup?.stop();
    await hooks.close();
    tmp.cleanup();
    expect(stopped?.code).toBe(0);
  });

  const attemptsOf = async (runId: string) => (await api.tasks(runId)).attempts;
  const auditOf = async (runId: string): Promise<AuditRow[]> => (await api.get<{ entries: AuditRow[] }>(`/audit?run=${encodeURIComponent(runId)}`)).entries;

  it('cancel mid-ingestion: SIGTERM/SIGKILL reach the whole process group, the task and run end cancelled, no process is left', async () => {
    const { json: run } = await api.trigger('ops_ingest');
    const [ingestPid, childPid] = await waitFor(
      'the ingestion and its child to run',
      () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim().split(' ').map(Number).length === 2 && fs.readFileSync(pidFile, 'utf8').trim().split(' ').map(Number),
      { timeoutMs: 30_000, diagnose: () => sup.tail() },
    );
    expect(pidAlive(ingestPid!)).toBe(true);
    expect(pidAlive(childPid!)).toBe(true);

    const res = await cli(config, ['--json', 'runs', 'cancel', run.runId, '--reason', 'maintenance window', '--wait']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ runId: run.runId, state: 'cancelled', tasks: [{ taskId: 'run_full_ingestion', state: 'cancelled' }] });
    await waitFor('the ingestion and its child to be gone', () => !pidAlive(ingestPid!) && !pidAlive(childPid!), { timeoutMs: 10_000 });

    const attempts = await attemptsOf(run.runId);
    expect(attempts).toEqual([expect.objectContaining({ taskId: 'run_full_ingestion', tryNumber: 1, state: 'cancelled' })]);
    expect(attempts[0]!.error).toContain(`cancelled by ${cliUser}: maintenance window`);
    expect((await api.run(run.runId)).reason).toContain('maintenance window');
    const audit = await auditOf(run.runId);
    expect(audit.map((a) => [a.action, a.actor, a.reason])).toEqual([
      ['cancel', cliUser, 'maintenance window'],
      ['trigger', 'ops-writer', null],
    ]);

    // cancelling a finished run is refused and changes nothing
    const again = await cli(config, ['runs', 'cancel', run.runId]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/SUP_ERR_CONFLICT: run ".+" already ended \(cancelled\)/);
    const api409 = await api.request<{ code: string }>('POST', `/runs/${encodeURIComponent(run.runId)}/cancel`, {});
    expect(api409.status).toBe(409);
    expect(await auditOf(run.runId)).toHaveLength(2);
  });

  it('cancel reaches a run executing in a CLI process (`trigger --local`), not only in the daemon', async () => {
    fs.rmSync(pidFile, { force: true });
    const local = cli(config, ['pipelines', 'trigger', 'ops_ingest', '--local', '--logical-date', '2026-02-01T00:00:00Z']);
    const [ingestPid] = await waitFor('the local ingestion to run', () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim().split(' ').map(Number), {
      timeoutMs: 30_000,
    });
    const runId = (await api.runs('ops_ingest')).find((r) => r.logicalDate === Date.parse('2026-02-01T00:00:00Z'))!.id;
    const cancelled = await cli(config, ['runs', 'cancel', runId, '--wait']);
    expect(cancelled.code).toBe(0);
    const res = await local;
    expect(res.code).toBe(1); // the run it waited for did not succeed
    expect(res.stdout).toMatch(/cancelled/);
    expect(pidAlive(ingestPid!)).toBe(false);
  });

  it('clear --only-failed --downstream re-runs exactly the failed task and its downstream, keeping the earlier tries', async () => {
    fs.rmSync(flag, { force: true });
    const { json: first } = await api.trigger('ops_chain', { logical_date: '2026-01-01T00:00:00Z' });
    const failed = await api.waitForRun(first.runId, 30_000, () => sup.tail());
    expect(failed.state).toBe('failed');
    expect(Object.fromEntries(failed.tasks.map((t) => [t.taskId, t.state]))).toEqual({ a: 'success', b: 'failed', c: 'upstream_failed', d: 'success' });

    // bad input first: an unknown task is refused by name, nothing changes
    const bad = await api.request<{ code: string; message: string }>('POST', `/runs/${encodeURIComponent(first.runId)}/clear`, { tasks: ['nope'] });
    expect(bad.status).toBe(404);
    expect(bad.json.message).toMatch(/no task or group "nope"/);
    expect((await api.run(first.runId)).state).toBe('failed');

    fs.writeFileSync(flag, '');
    const cleared = await api.request<{ cleared: string[] }>('POST', `/runs/${encodeURIComponent(first.runId)}/clear`, { only_failed: true, downstream: true, reason: 'fixed b' });
    expect(cleared.status).toBe(200);
    expect(cleared.json.cleared).toEqual(['b', 'c']);
    const done = await waitFor(
      'the cleared run to succeed',
      async () => {
        const r = await api.run(first.runId);
        return r.state === 'success' ? r : undefined;
      },
      { timeoutMs: 30_000, diagnose: () => sup.tail() },
    );
    expect(done.tasks.every((t) => t.state === 'success')).toBe(true);
    const tries = (await attemptsOf(first.runId)).map((a) => `${a.taskId}#${a.tryNumber}:${a.state}`).sort();
    expect(tries).toEqual(['a#1:success', 'b#1:failed', 'b#2:success', 'c#1:success', 'd#1:success']);
    // one run for the logical date, still
    expect((await api.runs('ops_chain')).filter((r) => r.logicalDate === Date.parse('2026-01-01T00:00:00Z'))).toHaveLength(1);
    const audit = await auditOf(first.runId);
    expect(audit[0]).toMatchObject({ action: 'clear', actor: 'ops-writer', reason: 'fixed b', details: { tasks: ['b', 'c'], onlyFailed: true, downstream: true } });
    const metrics = await (await fetch(`${sup.url}/metrics`)).text();
    expect(metrics).toMatch(/supervisor_pipeline_cleared_tasks_total\{pipeline="ops_chain"\} 2/);
  });

  it('mark success of the failed task unblocks its downstream (which runs), without running the task again', async () => {
    fs.rmSync(flag, { force: true });
    const { json: run } = await api.trigger('ops_chain', { logical_date: '2026-01-02T00:00:00Z' });
    expect((await api.waitForRun(run.runId, 30_000, () => sup.tail())).state).toBe('failed');

    const badState = await cli(config, ['tasks', 'mark', run.runId, 'b', 'done']);
    expect(badState.code).toBe(2);
    expect(badState.stderr).toMatch(/"done" is not a state a run or task can be marked \(use success or failed\)/);

    const res = await cli(config, ['tasks', 'mark', run.runId, 'b', 'success', '--reason', 'reprocessed by hand']);
    expect(res.code).toBe(0);
    const done = await waitFor(
      'the marked run to finish',
      async () => {
        const r = await api.run(run.runId);
        return r.state === 'success' ? r : undefined;
      },
      { timeoutMs: 30_000, diagnose: () => sup.tail() },
    );
    expect(Object.fromEntries(done.tasks.map((t) => [t.taskId, t.state]))).toEqual({ a: 'success', b: 'success', c: 'success', d: 'success' });
    const tries = (await attemptsOf(run.runId)).map((a) => `${a.taskId}#${a.tryNumber}:${a.state}`).sort();
    expect(tries).toEqual(['a#1:success', 'b#1:failed', 'c#1:success', 'd#1:success']);
    expect((await auditOf(run.runId))[0]).toMatchObject({ action: 'mark_task', actor: cliUser, taskId: 'b', reason: 'reprocessed by hand' });
  });

  it('pause stops the cron ticks (counted), a manual trigger waits; unpause resumes both; pause survives in the store', async () => {
    const count = async (): Promise<number> => (await api.runs('ops_cron')).length;
    await waitFor('two cron runs', async () => (await count()) >= 2, { timeoutMs: 20_000, diagnose: () => sup.tail() });

    const paused = await cli(config, ['--json', 'dags', 'pause', 'ops_cron', '--reason', 'maintenance']);
    expect(paused.code).toBe(0);
    expect(JSON.parse(paused.stdout)).toMatchObject({ pipeline: 'ops_cron', paused: true, changed: true, changedBy: cliUser, reason: 'maintenance' });
    await sleep(1_500); // a tick already submitted may still land
    const before = await count();
    await sleep(3_000);
    expect(await count()).toBe(before);
    const metrics = await (await fetch(`${sup.url}/metrics`)).text();
    expect(metrics).toMatch(/supervisor_pipeline_skipped_ticks_total\{pipeline="ops_cron",reason="paused"\} [1-9]/);
    expect(metrics).toMatch(/supervisor_pipeline_paused\{pipeline="ops_cron"\} 1/);
    const list = JSON.parse((await cli(config, ['--json', 'dags', 'list'])).stdout) as Array<{ pipeline: string; paused: boolean; pausedBy: string | null }>;
    expect(list.find((p) => p.pipeline === 'ops_cron')).toMatchObject({ paused: true, pausedBy: cliUser });

    // a manual trigger while paused is accepted and waits
    const manual = await api.trigger('ops_cron', { logical_date: '2026-01-03T00:00:00Z' });
    expect(manual.status).toBe(201);
    expect(manual.json).toMatchObject({ state: 'queued', paused: true });
    await sleep(1_500);
    expect((await api.run(manual.json.runId)).state).toBe('queued');

    const resumed = await api.request<{ paused: boolean; by: string }>('POST', '/pipelines/ops_cron/unpause', { reason: 'done' });
    expect(resumed.status).toBe(200);
    expect(resumed.json).toMatchObject({ paused: false, by: 'ops-writer' });
    await waitFor('cron ticks again', async () => (await count()) >= before + 3, { timeoutMs: 20_000, diagnose: () => sup.tail() });
    await waitFor('the waiting manual run to run', async () => (await api.run(manual.json.runId)).state === 'success', { timeoutMs: 20_000, diagnose: () => sup.tail() });
    const audit = (await api.get<{ entries: AuditRow[] }>('/audit?pipeline=ops_cron')).entries.map((e) => [e.action, e.actor]);
    expect(audit.slice(0, 3)).toEqual([
      ['unpause', 'ops-writer'],
      ['trigger', 'ops-writer'],
      ['pause', cliUser],
    ]);
  });

  it('bad input: unknown state, unknown run, a read-only token — each refused by name, nothing changed', async () => {
    const runs = await api.runs('ops_chain');
    const some = runs[0]!;
    const badMark = await api.request<{ message: string }>('POST', `/runs/${encodeURIComponent(some.id)}/mark`, { state: 'paused' });
    expect(badMark.status).toBe(400);
    expect(badMark.json.message).toMatch(/^state: "paused" is not a state/);
    const noRun = await api.request<{ message: string }>('POST', '/runs/nope/cancel', {});
    expect(noRun.status).toBe(404);
    const noPipeline = await cli(config, ['dags', 'pause', 'nope']);
    expect(noPipeline.code).toBe(2);
    expect(noPipeline.stderr).toMatch(/no pipeline "nope"/);
    expect((await api.run(some.id)).state).toBe(some.state);

    const ro = await cli(config, ['--json', 'tokens', 'create', '--name', 'ops-reader', '--read-only']);
    const reader = new Api(sup.url, (JSON.parse(ro.stdout) as { token: string }).token);
    const forbidden = await reader.request('POST', '/pipelines/ops_chain/pause', {});
    expect(forbidden.status).toBe(403);
    expect((await api.get<{ pipelines: Array<{ id: string; paused: boolean }> }>('/pipelines')).pipelines.find((p) => p.id === 'ops_chain')?.paused).toBe(false);
  });
});
