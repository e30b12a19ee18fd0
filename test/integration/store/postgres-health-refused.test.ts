/**
 * health() of the PostgreSQL facade while the server refuses every connection to the store's
 * database: failed transactions must not make it look healthy. The ROLLBACK after a failed
 * transaction is acknowledged by the worker without the server (the connection is gone), and
 * used to count as the store answering, so /readyz of a worker polling in transactions stayed
 * 200 through an outage.
 */
import { Client } from 'pg';
import { POSTGRES_MIGRATIONS } from '../../../src/store/migrations-postgres';
import type { PostgresDatabase } from '../../../src/store/postgres/database';
import { openPostgresStore } from '../../../src/store/postgres/open';
import { createFreshPostgres, type FreshPostgres } from '../../helpers/postgres-store';
import { ensureServices, postgresConfig, STACK_TIMEOUT_MS } from '../../helpers/stack';

jest.setTimeout(60_000);

describe('PostgreSQL facade: health() while connections are refused', () => {
  let fresh: FreshPostgres;
  let db: PostgresDatabase;
  let refused = false;

  const allowConnections = async (allow: boolean): Promise<void> => {
    const owner = new Client(postgresConfig());
    await owner.connect();
    try {
      await owner.query(`ALTER DATABASE ${owner.escapeIdentifier(fresh.database)} ALLOW_CONNECTIONS ${allow}`);
      refused = !allow;
      if (!allow) await owner.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [fresh.database]);
    } finally {
      await owner.end();
    }
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeAll(async () => {
    await ensureServices(['postgres']);
    fresh = await createFreshPostgres('health');
    db = openPostgresStore(fresh.settings, POSTGRES_MIGRATIONS);
  }, STACK_TIMEOUT_MS);

  afterAll(async () => {
    if (refused) await allowConnections(true);
    db?.close();
    await fresh?.drop();
  });

  it('reports the refusal after failed transactions, and healthy again once connections are allowed', async () => {
    expect(db.health()).toEqual({ ok: true });
    await allowConnections(false);
    const claim = db.transaction(() => db.prepare('SELECT 1 AS x').get());
    const seen: Array<{ ok: boolean; reason?: string }> = [];
    // a poller's rhythm: a failing transaction every 300 ms, health read between them
    for (let i = 0; i < 12; i++) {
      await sleep(300);
      expect(() => claim()).toThrow(/not currently accepting connections/);
      seen.push(db.health());
    }
    // the last answers (past the one second an earlier success counts for) name the refusal
    for (const h of seen.slice(-6)) expect(h).toEqual({ ok: false, reason: expect.stringMatching(/database "sup_health_[a-z0-9_]+" is not currently accepting connections/) });

    await allowConnections(true);
    await sleep(1_100);
    expect(db.health()).toEqual({ ok: true });
    expect(claim()).toEqual({ x: 1 });
  });
});
