/**
 * `supervisor store migrate --to postgres://…`: a SQLite store with data in every kind of
 * table is copied into a fresh database on the stack's PostgreSQL, through the CLI; the copy
 * reads back through the stores the same (ids, order, sequences continuing); a second copy into
 * the now non-empty store is refused and changes nothing; bad input exits 2 without the password.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli/main';
import { openDatabase } from '../../../src/store/database';
import { createAuditStore } from '../../../src/store/audit';
import { createSqliteOutboxStore } from '../../../src/store/outbox';
import { createRunStore } from '../../../src/store/runs';
import { createTokenStore } from '../../../src/store/tokens';
import { createVariableStore } from '../../../src/store/variables';
import { stackTls } from '../../../stack/tls';
import { createFreshPostgres, type FreshPostgres } from '../../helpers/postgres-store';
import { endpoints, ensureServices, STACK_TIMEOUT_MS } from '../../helpers/stack';

jest.setTimeout(120_000);

describe('supervisor store migrate', () => {
  let fresh: FreshPostgres;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    await ensureServices(['postgres']);
    fresh = await createFreshPostgres('migrate_cli');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-migrate-'));
    const config = path.join(dir, 'supervisor.yaml');
    fs.copyFileSync(path.join(__dirname, '../../../config/supervisor.yaml'), config);
    fs.writeFileSync(path.join(dir, 'pg-password'), `${endpoints.postgres.password}\n`);
    env = { SUPERVISOR_CONFIG: config, SUPERVISOR_STORE: path.join(dir, 'state.db'), LOG_LEVEL: 'silent' };
  }, STACK_TIMEOUT_MS);

  afterAll(async () => {
    await fresh?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await main(argv, { env, stdout: (s) => (out += `${s}\n`), stderr: (s) => (err += `${s}\n`) });
    return { code, out, err };
  };
  const tlsArgs = () => ['--password-file', path.join(dir, 'pg-password'), '--ca-file', stackTls().caFile];

  it('copies every table into an empty PostgreSQL store, keeps ids and order, refuses a second copy', async () => {
    const sqlite = openDatabase({ file: env.SUPERVISOR_STORE! });
    const runs = createRunStore(sqlite);
    const made = [3, 1, 2].map((d) => runs.insertRun({ pipeline: 'ingest', logicalDate: d * 3_600_000, kind: 'cron', firedAt: d, queuedAt: 100 + d }).run);
    for (const t of ['z_last', 'a_first']) {
      runs.upsertTask({
        runId: made[0]!.id,
        taskId: t,
        state: 'success',
        tryNumber: 1,
        maxTries: 1,
        startedAt: 1,
        endedAt: 2,
        nextTryAt: null,
        pid: null,
        result: { ok: t },
        reason: null,
      });
    }
    runs.startAttempt({ runId: made[0]!.id, taskId: 'a_first', tryNumber: 1, startedAt: 1 });
    runs.saveLog({ runId: made[0]!.id, taskId: 'a_first', tryNumber: 1, content: 'hello ✓\n', truncatedBytes: 0 });
    createVariableStore(sqlite).set('kafka_servers', 'kafka:9092', 5);
    const { token } = createTokenStore(sqlite).create('grafana', true, 6);
    const outboxIds = createSqliteOutboxStore(sqlite).enqueue(
      { dedupKey: 'k1', kind: 'info', rule: 'r', severity: 'info', title: 't', text: 'x', labels: {}, annotations: {}, startsAt: 1, items: [] },
      ['webhook', 'email'],
      7,
    );
    const audits = [1, 2].map((at) => createAuditStore(sqlite).record({ at, actor: 'cli:alice', action: 'pause', pipeline: 'ingest' }).id);
    sqlite.close();

    const res = await run('store', 'migrate', '--to', fresh.url, ...tlsArgs());
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    expect(res.out).toContain(`copied ${env.SUPERVISOR_STORE} → ${fresh.url}`);
    expect(res.out).toMatch(/runs\s+3\n/);
    expect(res.out).toMatch(/task_instances\s+2\n/);
    expect(res.out).toMatch(/outbox\s+2\n/);
    expect(res.out).not.toContain(endpoints.postgres.password);

    const pg = openDatabase({ store: fresh.settings });
    try {
      const pgRuns = createRunStore(pg);
      expect(pgRuns.listRuns({ pipeline: 'ingest' }).map((r) => r.id)).toEqual([...made].sort((a, b) => b.queuedAt - a.queuedAt).map((r) => r.id));
      expect(pgRuns.getRun(made[0]!.id)).toEqual(made[0]);
      expect(pgRuns.listTasks(made[0]!.id).map((t) => [t.taskId, t.result])).toEqual([
        ['z_last', { ok: 'z_last' }],
        ['a_first', { ok: 'a_first' }],
      ]);
      expect(pgRuns.getLogs(made[0]!.id)[0]?.content).toBe('hello ✓\n');
      expect(createVariableStore(pg).get('kafka_servers')).toEqual({ key: 'kafka_servers', value: 'kafka:9092', updatedAt: 5 });
      expect(createTokenStore(pg).verify(token)?.name).toBe('grafana');
      const outbox = createSqliteOutboxStore(pg);
      expect(outbox.due(10, 10).map((e) => e.id)).toEqual(outboxIds);
      // the sequences continue after the copied ids
      const next = outbox.enqueue(
        { dedupKey: 'k2', kind: 'info', rule: 'r', severity: 'info', title: 't', text: 'x', labels: {}, annotations: {}, startsAt: 1, items: [] },
        ['webhook'],
        8,
      );
      expect(next[0]).toBe(Math.max(...outboxIds) + 1);
      expect(createAuditStore(pg).record({ at: 3, actor: 'cli:bob', action: 'unpause', pipeline: 'ingest' }).id).toBe(Math.max(...audits) + 1);
    } finally {
      pg.close();
    }

    const again = await run('store', 'migrate', '--to', fresh.url, ...tlsArgs());
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/SUP_ERR_CONFLICT: the PostgreSQL store is not empty \(table \w+ has \d+ row\(s\)\)/);
  });

  it('exits 2 naming the problem: a password in the URL, a wrong password, no TLS trust', async () => {
    const inUrl = await run('store', 'migrate', '--to', `postgres://supervisor:hunter2@localhost:${endpoints.postgres.port}/x`);
    expect(inUrl.code).toBe(2);
    expect(inUrl.err).toMatch(/--to: holds a password/);
    expect(inUrl.err).not.toContain('hunter2');

    fs.writeFileSync(path.join(dir, 'wrong'), 'not-it-42\n');
    const wrong = await run('store', 'migrate', '--to', fresh.url, '--password-file', path.join(dir, 'wrong'), '--ca-file', stackTls().caFile);
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/store\.password: PostgreSQL at localhost:\d+ refused the login of user "supervisor": wrong password/);
    expect(wrong.err).not.toContain('not-it-42');

    const noCa = await run('store', 'migrate', '--to', fresh.url, '--password-file', path.join(dir, 'pg-password'), '--server-name', 'localhost');
    expect(noCa.code).toBe(2);
    expect(noCa.err).toMatch(/store\.ssl: TLS: the certificate of localhost:\d+ .*(not trusted|self-signed)/);
  });
});
