/**
 * A fresh PostgreSQL database on the stack's server for one bench run, dropped afterwards (as
 * scenarios 11–13 do): the stack's PostgreSQL is started when it is not running
 * (`npm run stack -- up postgres`), the database is created by the stack's user, and the store
 * settings are those a `store: { url, password_file, ssl: { ca_file } }` section resolves to
 * (TLS verified against the stack's CA, scram-sha-256 password).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { endpoints } from '../../stack/endpoints';
import { up } from '../../stack/manager';
import { stackPostgresConfig } from '../../stack/services/postgres';
import { stackTls } from '../../stack/tls';
import { DEFAULT_STORE_TIMEOUT_MS, type PostgresStoreSettings } from '../../src/config/store';

/** Runs `fn` with the settings of a new database named `<prefix>_<pid>_<ms>`; drops it (WITH FORCE) whatever `fn` does. */
export async function withFreshPostgresStore<T>(prefix: string, log: (m: string) => void, fn: (store: PostgresStoreSettings) => Promise<T>): Promise<T> {
  await up(['postgres'], { log: { info: () => undefined, warn: log } });
  const database = `${prefix}_${process.pid}_${Date.now()}`;
  const owner = new Client(stackPostgresConfig());
  await owner.connect();
  try {
    await owner.query(`CREATE DATABASE ${owner.escapeIdentifier(database)}`);
    try {
      const pg = endpoints.postgres;
      return await fn({
        kind: 'postgres',
        host: 'localhost',
        port: pg.port,
        database,
        user: pg.user,
        password: pg.password,
        ssl: { ca: [fs.readFileSync(stackTls().caFile)] },
        timeoutMs: DEFAULT_STORE_TIMEOUT_MS,
        display: `postgres://${pg.user}@localhost:${pg.port}/${database}`,
      });
    } finally {
      await owner.query(`DROP DATABASE IF EXISTS ${owner.escapeIdentifier(database)} WITH (FORCE)`);
    }
  } finally {
    await owner.end();
  }
}

/** The server's version (`server_version`, e.g. "15.14"), for the method text. */
export async function postgresServerVersion(): Promise<string> {
  const c = new Client(stackPostgresConfig());
  await c.connect();
  try {
    const r = await c.query<{ server_version: string }>('SHOW server_version');
    return r.rows[0]?.server_version.split(' ')[0] ?? 'unknown';
  } finally {
    await c.end();
  }
}

/**
 * The `store:` section of a supervisor config for these settings (YAML, 2-space indent): the
 * URL without the password, the password in a file written into `dir`, TLS verified against the
 * stack's CA. `remove()` deletes the password file.
 */
export function postgresStoreSection(store: PostgresStoreSettings, dir: string): { yaml: string; remove(): void } {
  fs.mkdirSync(dir, { recursive: true });
  const passwordFile = path.join(dir, `${store.database}.password`);
  fs.writeFileSync(passwordFile, store.password ?? '', { mode: 0o600 });
  const yaml = `store:\n  url: "postgres://${store.user}@${store.host}:${store.port}/${store.database}"\n  password_file: ${JSON.stringify(passwordFile)}\n  ssl: { ca_file: ${JSON.stringify(stackTls().caFile)} }\n`;
  return { yaml, remove: () => fs.rmSync(passwordFile, { force: true }) };
}
