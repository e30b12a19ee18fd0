/**
 * The synchronous PostgreSQL facade against the stack's server: a call's deadline against a
 * server that accepts and never answers (loopback), the breaker failing the next calls fast,
 * recovery, reconnection after the server ends the session, what a wrong password, CA or
 * database looks like, and claims racing between two connections (two replicas).
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { isSupervisorError, type SupervisorError } from '../../../src/protocol';
import { openDatabase } from '../../../src/store/database';
import { PostgresDatabase } from '../../../src/store/postgres/database';
import { openPostgresStore, postgresClientConfig } from '../../../src/store/postgres/open';
import { POSTGRES_MIGRATIONS } from '../../../src/store/migrations-postgres';
import { createRunStore } from '../../../src/store/runs';
import { createVariableStore } from '../../../src/store/variables';
import { stackTls } from '../../../stack/tls';
import { createFreshPostgres, type FreshPostgres } from '../../helpers/postgres-store';
import { ensureServices, STACK_TIMEOUT_MS } from '../../helpers/stack';
import fs from 'node:fs';

jest.setTimeout(60_000);

const thrown = (fn: () => unknown): SupervisorError => {
  try {
    fn();
  } catch (err) {
    if (isSupervisorError(err)) return err;
    throw err;
  }
  throw new Error('expected a SupervisorError, nothing was thrown');
};

describe('PostgreSQL facade', () => {
  let fresh: FreshPostgres;
  const opened: PostgresDatabase[] = [];
  const servers: net.Server[] = [];
  const sockets: net.Socket[] = [];

  beforeAll(async () => {
    await ensureServices(['postgres']);
    fresh = await createFreshPostgres('facade');
  }, STACK_TIMEOUT_MS);

  afterEach(async () => {
    for (const db of opened.splice(0)) db.close();
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  afterAll(async () => {
    await fresh?.drop();
  });

  /** A loopback TCP server that accepts connections and never says a word. */
  const silentServer = async (): Promise<number> => {
    const server = net.createServer((socket) => {
      sockets.push(socket);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as net.AddressInfo).port;
  };

  it('fails a call against a server that never answers within the deadline, then fails fast while the breaker is open, then tries again', async () => {
    const port = await silentServer();
    const db = new PostgresDatabase({
      client: { host: '127.0.0.1', port, user: 'nobody', database: 'x', password: 'secret-never-shown', connectionTimeoutMillis: 60_000 },
      display: `postgres://nobody@127.0.0.1:${port}/x`,
      host: `127.0.0.1:${port}`,
      timeoutMs: 400,
      breakerMs: 1_000,
    });
    opened.push(db);
    const t0 = Date.now();
    const first = thrown(() => db.prepare('SELECT 1').get());
    const firstMs = Date.now() - t0;
    expect(first.code).toBe('SUP_ERR_STORE_UNAVAILABLE');
    expect(first.message).toContain(`127.0.0.1:${port}`);
    expect(first.message).toContain('no answer within 400 ms');
    expect(first.message).not.toContain('secret-never-shown');
    expect(firstMs).toBeGreaterThanOrEqual(390);
    expect(firstMs).toBeLessThan(400 + 1_500);

    const t1 = Date.now();
    const fast = thrown(() => db.prepare('SELECT 1').get());
    expect(fast.code).toBe('SUP_ERR_STORE_UNAVAILABLE');
    expect(Date.now() - t1).toBeLessThan(100);
    expect(db.health()).toEqual({ ok: false, reason: expect.stringContaining(`127.0.0.1:${port} is unavailable`) });

    // after the breaker's interval the next call goes to the server again (and waits its deadline)
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const t2 = Date.now();
    expect(thrown(() => db.prepare('SELECT 1').get()).code).toBe('SUP_ERR_STORE_UNAVAILABLE');
    expect(Date.now() - t2).toBeGreaterThanOrEqual(390);
  });

  it('says the store is unavailable when nothing listens, naming the host', async () => {
    const port = await silentServer();
    await new Promise((resolve) => servers.pop()!.close(resolve));
    const settings = { ...fresh.settings, host: '127.0.0.1', port, display: `postgres://x@127.0.0.1:${port}/x`, timeoutMs: 2_000 };
    const err = thrown(() => openDatabase({ store: settings }));
    expect(err.code).toBe('SUP_ERR_STORE_UNAVAILABLE');
    expect(err.message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} is unavailable: .*ECONNREFUSED`));
  });

  it('reconnects after the server ends the session (pg_terminate_backend)', async () => {
    const db = openPostgresStore(fresh.settings, POSTGRES_MIGRATIONS);
    opened.push(db);
    const vars = createVariableStore(db);
    vars.set('k', 'v1', 1);
    const pid = db.prepare<[], { pid: number }>('SELECT pg_backend_pid() AS pid').get()!.pid;
    const admin = await fresh.admin();
    const res = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
    expect(res.rows[0]!.ok).toBe(true);
    expect(vars.get('k')?.value).toBe('v1');
    const newPid = db.prepare<[], { pid: number }>('SELECT pg_backend_pid() AS pid').get()!.pid;
    expect(newPid).not.toBe(pid);
    expect(db.health()).toEqual({ ok: true });
  });

  it('refuses the rest of a transaction whose connection was lost, and commits none of it', async () => {
    const db = openPostgresStore(fresh.settings, POSTGRES_MIGRATIONS);
    opened.push(db);
    const admin = await fresh.admin();
    const vars = createVariableStore(db);
    let pid = 0;
    const tx = db.transaction(() => {
      vars.set('half', 'one', 1);
      pid = db.prepare<[], { pid: number }>('SELECT pg_backend_pid() AS pid').get()!.pid;
      // the session is ended while the transaction is open: this thread is blocked, so end it from a child
      execFileSync(
        process.execPath,
        [
          '-e',
          `const {Client}=require('pg');const c=new Client(JSON.parse(process.argv[1]));c.connect().then(()=>c.query('SELECT pg_terminate_backend($1)',[${pid}])).then(()=>c.end())`,
          JSON.stringify({ ...postgresAdmin(fresh), ssl: { ca: fs.readFileSync(stackTls().caFile, 'utf8'), servername: 'localhost' } }),
        ],
        { cwd: process.cwd() },
      );
      vars.set('half', 'two', 2);
    });
    expect(() => tx()).toThrow(/unavailable/);
    expect(db.inTransaction).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, db.breakerMs + 50));
    expect(vars.get('half')).toBeUndefined();
    expect((await admin.query("SELECT count(*)::int AS n FROM variables WHERE key = 'half'")).rows[0].n).toBe(0);
  });

  it('claims a queued run and inserts a logical date once across two connections (two replicas)', () => {
    const a = openPostgresStore(fresh.settings, POSTGRES_MIGRATIONS);
    const b = openPostgresStore(fresh.settings, POSTGRES_MIGRATIONS);
    opened.push(a, b);
    const runsA = createRunStore(a);
    const runsB = createRunStore(b);
    const one = runsA.insertRun({ pipeline: 'race', logicalDate: 1, kind: 'cron', firedAt: 1, queuedAt: 1 });
    const two = runsB.insertRun({ pipeline: 'race', logicalDate: 1, kind: 'cron', firedAt: 2, queuedAt: 2 });
    expect([one.created, two.created]).toEqual([true, false]);
    expect(two.run.id).toBe(one.run.id);
    // one claim wins: the second finds the run no longer queued
    const claimedB = b.transaction(() => runsB.claimRun(one.run.id, 2, 10))();
    expect(claimedB).toBe(true);
    expect(runsA.claimRun(one.run.id, 1, 11)).toBe(false);
    expect(runsA.getRun(one.run.id)).toMatchObject({ state: 'running', ownerPid: 2 });
  });

  it('explains a wrong password, an untrusted CA and an unknown database as config errors, never showing the password', () => {
    const wrong = 'wrong-password-123';
    const pw = thrown(() => openDatabase({ store: { ...fresh.settings, password: wrong } }));
    expect(pw.code).toBe('SUP_ERR_CONFIG_INVALID');
    expect(pw.message).toMatch(/^store\.password: PostgreSQL at localhost:\d+ refused the login of user "supervisor": wrong password/);
    expect(pw.message).not.toContain(wrong);

    const selfSigned = thrown(() => openDatabase({ store: { ...fresh.settings, ssl: { rejectUnauthorized: true } } }));
    expect(selfSigned.code).toBe('SUP_ERR_CONFIG_INVALID');
    expect(selfSigned.message).toMatch(/^store\.ssl: TLS: the certificate of localhost:\d+ .*(not trusted|self-signed)/);

    const nodb = thrown(() => openDatabase({ store: { ...fresh.settings, database: 'no_such_db_here' } }));
    expect(nodb.code).toBe('SUP_ERR_CONFIG_INVALID');
    expect(nodb.message).toMatch(/^store\.url: PostgreSQL at localhost:\d+ has no database "no_such_db_here"/);
  });

  it('passes the deadline to pg as its connection timeout and statement_timeout', () => {
    expect(postgresClientConfig(fresh.settings)).toMatchObject({ connectionTimeoutMillis: 5_000, statement_timeout: 5_000 });
  });
});

function postgresAdmin(fresh: FreshPostgres): Record<string, unknown> {
  const s = fresh.settings;
  return { host: s.host, port: s.port, database: s.database, user: 'postgres', password: process.env.STACK_POSTGRES_ADMIN_PASSWORD ?? 'stack-pg-admin-secret' };
}
