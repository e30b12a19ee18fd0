/**
 * The daemon on a PostgreSQL store (a fresh database on the stack's server, TLS verified, the
 * password from a file): `supervisor start` with store.url, a token created by the CLI in that
 * store, a run of a `command` pipeline triggered through the API succeeds, /readyz names the
 * store ready; after a restart the run, its task and its log are still there.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stackTls } from '../../stack/tls';
import { createFreshPostgres, type FreshPostgres } from '../helpers/postgres-store';
import { ensureServices } from '../helpers/stack';
import { Api, createToken, e2eConfig, ensureBuilt, freePort, startSupervisor, tempDir, waitFor, writeConfig, type SupervisorProcess } from '../helpers/e2e-supervisor';

describe('daemon on a PostgreSQL store', () => {
  let pg: FreshPostgres;
  let tmp: ReturnType<typeof tempDir>;
  let sup: SupervisorProcess | undefined;

  beforeAll(async () => {
    ensureBuilt();
    await ensureServices(['postgres']);
    pg = await createFreshPostgres('e2e_daemon');
    tmp = tempDir('sup-pg-e2e-');
  }, 600_000);

  afterAll(async () => {
    await sup?.stop();
    await pg?.drop();
    tmp?.cleanup();
  });

  it('runs a triggered pipeline, and the run survives a restart', async () => {
    const port = await freePort();
    const config = e2eConfig({ port, hookUrl: 'http://127.0.0.1:9/unused', mailTo: 'nobody@localhost' });
    config.alerts = { sinks: {}, route: { sinks: [] }, rules: [] };
    fs.writeFileSync(path.join(tmp.dir, 'pg-password'), `${pg.settings.password}\n`);
    config.store = { url: pg.url, password_file: 'pg-password', ssl: { ca_file: stackTls().caFile }, timeout: '5s' };
    config.pipelines = { hello: { tasks: [{ id: 'say', operator: 'command', params: { command: ['sh', '-c', 'echo hello from postgres'] } }] } };
    const file = writeConfig(tmp.dir, config);
    const token = await createToken(file);

    sup = await startSupervisor(file, port);
    const ready = (await (await fetch(`${sup.url}/readyz`)).json()) as { components: Record<string, unknown> };
    expect(ready.components.store).toBe(true);
    const api = new Api(sup.url, token);
    const trigger = await api.trigger('hello', { logical_date: '2026-12-01T10:00:00Z' });
    expect(trigger.status).toBeLessThan(300);
    const runId = trigger.json.runId;
    const done = await waitFor(
      'the run to end',
      async () => {
        const r = await api.run(runId);
        return r.state === 'success' || r.state === 'failed' ? r : undefined;
      },
      { timeoutMs: 60_000, diagnose: () => sup!.tail() },
    );
    expect(done.state).toBe('success');
    // no SQLite file was made beside the config: the state is in PostgreSQL
    expect(fs.existsSync(path.join(tmp.dir, 'state.db'))).toBe(false);

    await sup.stop();
    sup = await startSupervisor(file, port);
    const again = new Api(sup.url, token);
    expect((await again.run(runId)).state).toBe('success');
    const { tasks } = await again.tasks(runId);
    expect(tasks.map((t) => [t.taskId, t.state])).toEqual([['say', 'success']]);
    const admin = await pg.admin();
    const log = await admin.query<{ content: string }>('SELECT content FROM task_logs WHERE run_id = $1', [runId]);
    expect(log.rows.map((r) => r.content).join('')).toContain('hello from postgres');
  });
});
