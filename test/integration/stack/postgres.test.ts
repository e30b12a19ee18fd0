/**
 * The stack's PostgreSQL with the `pg` client: TLS verified against the stack's CA
 * (sslmode=verify-full, by config object and by connection string), a round trip in a fresh
 * database the stack's user may create, and what a wrong password or the wrong CA looks like.
 */
import * as fs from 'node:fs';
import { Client } from 'pg';
import { stackTls } from '../../../stack/tls';
import { freshTable } from '../../helpers/names';
import { STACK_TIMEOUT_MS, endpoints, ensureServices, postgresConfig } from '../../helpers/stack';

jest.setTimeout(60_000);

describe('local stack: postgres', () => {
  const clients: Client[] = [];
  const client = (overrides: Parameters<typeof postgresConfig>[0] = {}) => {
    const c = new Client(postgresConfig(overrides));
    clients.push(c);
    return c;
  };
  let freshDb: string | undefined;

  beforeAll(async () => {
    await ensureServices(['postgres']);
  }, STACK_TIMEOUT_MS);

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
  });

  afterAll(async () => {
    if (!freshDb) return;
    const c = client();
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(freshDb)}`);
    await c.end();
  });

  it('connects over TLS verifying the stack CA, as the stack user who owns the stack database', async () => {
    const c = client();
    await c.connect();
    const res = await c.query<{ user: string; db: string; ssl: boolean; version: string }>(
      'SELECT current_user AS user, current_database() AS db, ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    expect(res.rows).toEqual([{ user: endpoints.postgres.user, db: endpoints.postgres.database, ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) }]);
    const server = await c.query<{ server_version: string }>('SHOW server_version');
    expect(server.rows[0]!.server_version).toMatch(/^15\./);
  });

  it('takes a sslmode=verify-full connection string and round-trips rows in a fresh database', async () => {
    const pg = endpoints.postgres;
    freshDb = freshTable('pgtest');
    const admin = client();
    await admin.connect();
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(freshDb)}`);

    const url = `postgres://${encodeURIComponent(pg.user)}:${encodeURIComponent(pg.password)}@localhost:${pg.port}/${freshDb}?sslmode=verify-full&sslrootcert=${encodeURIComponent(stackTls().caFile)}`;
    const c = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    clients.push(c);
    await c.connect();
    await c.query('CREATE TABLE runs (id bigserial PRIMARY KEY, pipeline text NOT NULL, logical_date timestamptz NOT NULL, UNIQUE (pipeline, logical_date))');
    await c.query('INSERT INTO runs (pipeline, logical_date) VALUES ($1, $2), ($1, $3)', ['domain_ingestion', '2026-12-01T10:00:00Z', '2026-12-01T11:00:00Z']);
    const dup = await c.query('INSERT INTO runs (pipeline, logical_date) VALUES ($1, $2) ON CONFLICT DO NOTHING', ['domain_ingestion', '2026-12-01T10:00:00Z']);
    expect(dup.rowCount).toBe(0);
    const rows = await c.query<{ pipeline: string; logical_date: Date }>('SELECT pipeline, logical_date FROM runs ORDER BY logical_date');
    expect(rows.rows.map((r) => [r.pipeline, r.logical_date.toISOString()])).toEqual([
      ['domain_ingestion', '2026-12-01T10:00:00.000Z'],
      ['domain_ingestion', '2026-12-01T11:00:00.000Z'],
    ]);
  });

  it('refuses a wrong password with a clear error that does not echo the password', async () => {
    const wrong = 'not-the-password-123';
    const err = await client({ password: wrong })
      .connect()
      .then(
        () => undefined,
        (e: unknown) => e as { code?: string; message?: string },
      );
    // 28P01 = invalid_password; the server names the user, never the password
    expect(err).toMatchObject({ code: '28P01', message: `password authentication failed for user "${endpoints.postgres.user}"` });
    expect(String(err?.message)).not.toContain(wrong);
  });

  it('fails verify-full against a CA that did not sign the server certificate', async () => {
    const err = await client({ ssl: { ca: fs.readFileSync(stackTls().otherCaFile, 'utf8'), servername: 'localhost', rejectUnauthorized: true } })
      .connect()
      .then(
        () => undefined,
        (e: unknown) => e as { code?: string },
      );
    expect(err?.code).toMatch(/^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/);
  });
});
