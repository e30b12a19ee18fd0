/**
 * A fresh PostgreSQL database per test suite on the stack's server (created by the stack's
 * user, who may create databases; dropped by `drop()`), and the store settings to open it with
 * the supervisor's own code (TLS verified against the stack's CA).
 */
import { Client } from 'pg';
import type { PostgresStoreSettings } from '../../src/config/store';
import { stackTls } from '../../stack/tls';
import { freshTable } from './names';
import { endpoints, postgresConfig } from './stack';
import fs from 'node:fs';

export interface FreshPostgres {
  database: string;
  settings: PostgresStoreSettings;
  /** The store's URL (no password) as `store.url` takes it. */
  url: string;
  /** A superuser connection to the fresh database (pg_terminate_backend, checks). */
  admin(): Promise<Client>;
  drop(): Promise<void>;
}

export async function createFreshPostgres(prefix = 'store'): Promise<FreshPostgres> {
  const database = freshTable(`sup_${prefix}`).toLowerCase();
  const owner = new Client(postgresConfig());
  await owner.connect();
  try {
    await owner.query(`CREATE DATABASE ${owner.escapeIdentifier(database)}`);
  } finally {
    await owner.end();
  }
  const pg = endpoints.postgres;
  const clients: Client[] = [];
  return {
    database,
    url: `postgres://${pg.user}@localhost:${pg.port}/${database}`,
    settings: {
      kind: 'postgres',
      host: 'localhost',
      port: pg.port,
      database,
      user: pg.user,
      password: pg.password,
      ssl: { ca: [fs.readFileSync(stackTls().caFile)] },
      timeoutMs: 5_000,
      display: `postgres://${pg.user}@localhost:${pg.port}/${database}`,
    },
    async admin() {
      const c = new Client(postgresConfig({ database, user: pg.adminUser, password: pg.adminPassword }));
      c.on('error', () => undefined);
      await c.connect();
      clients.push(c);
      return c;
    },
    async drop() {
      await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
      const c = new Client(postgresConfig());
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(database)} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
