/**
 * The `store:` section: the embedded SQLite file (the default) or a PostgreSQL server.
 *
 *     store:
 *       path: ../var/supervisor.db            # SQLite (default), relative to the config file
 *     store:
 *       url: postgres://supervisor@db.internal:5432/supervisor
 *       password_file: /run/secrets/pg        # or password: ${PG_PASSWORD}, or PGPASSWORD in the environment
 *       ssl: { ca_file: ca.pem, server_name: db.internal }   # TLS, verified (cert_file/key_file: mutual TLS)
 *       timeout: 5s                           # deadline of one store call (then SUP_ERR_STORE_UNAVAILABLE)
 *
 * The password never goes in the URL (URLs are logged and shown); it is refused there.
 */
import path from 'node:path';
import { z } from 'zod';
import { SupervisorError } from '../protocol';
import { durationSchema } from '../shared/duration';
import { resolveSecret } from '../shared/secrets';
import { readTlsFiles, type TlsOptions } from '../shared/tls';

export const DEFAULT_STORE_PATH = '../var/supervisor.db';
export const DEFAULT_STORE_TIMEOUT_MS = 5_000;

export const storeSchema = z.strictObject({
  /** SQLite file, relative to the config file's folder. */
  path: z.string().default(DEFAULT_STORE_PATH),
  /** PostgreSQL instead of SQLite: postgres://user@host:port/database (no password here). */
  url: z.string().min(1).optional(),
  password: z.string().optional(),
  password_file: z.string().min(1).optional(),
  ssl: z
    .strictObject({
      ca_file: z.string().min(1).optional(),
      cert_file: z.string().min(1).optional(),
      key_file: z.string().min(1).optional(),
      server_name: z.string().min(1).optional(),
      reject_unauthorized: z.boolean().optional(),
    })
    .optional(),
  /** Deadline of one store call (PostgreSQL): a hung server costs at most this once. */
  timeout: durationSchema({ min: 100, max: 120_000 }).default(DEFAULT_STORE_TIMEOUT_MS),
});

export type StoreSection = z.infer<typeof storeSchema>;

export interface PostgresStoreSettings {
  kind: 'postgres';
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  /** TLS options for pg (`ssl`), or undefined for a plain connection. */
  ssl?: TlsOptions;
  timeoutMs: number;
  /** `postgres://user@host:port/database`: for messages and `db.name` (no password). */
  display: string;
}

export type StoreSettings = { kind: 'sqlite'; path: string } | PostgresStoreSettings;

const invalid = (key: string, message: string): SupervisorError => new SupervisorError('SUP_ERR_CONFIG_INVALID', `${key}: ${message}`, { where: key });

/** Parses a PostgreSQL URL into settings (without password and TLS); `key` names it in errors. Never echoes a password. */
export function parsePostgresUrl(text: string, key = 'store.url'): Omit<PostgresStoreSettings, 'timeoutMs' | 'ssl' | 'password'> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(key, `is not a URL; expected postgres://user@host:port/database`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw invalid(key, `must start with postgres:// (got ${url.protocol}//)`);
  if (url.password) throw invalid(key, `holds a password; give it as store.password_file, store.password (\${ENV}) or PGPASSWORD instead, the URL is shown in logs`);
  if (!url.hostname) throw invalid(key, 'names no host; expected postgres://user@host:port/database');
  if (url.search) throw invalid(key, `takes no query parameters (${url.search.slice(0, 40)}); TLS goes in store.ssl`);
  const port = url.port ? Number(url.port) : 5432;
  const user = decodeURIComponent(url.username);
  if (!user) throw invalid(key, 'names no user; expected postgres://user@host:port/database');
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || user;
  if (database.includes('/')) throw invalid(key, `the database name ${JSON.stringify(database)} contains a /`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { kind: 'postgres', host, port, database, user, display: `postgres://${encodeURIComponent(user)}@${url.host}/${encodeURIComponent(database)}` };
}

/**
 * The store to open, from the validated section. Files are relative to the config's folder.
 * Throws SUP_ERR_CONFIG_INVALID naming the key (store.url, store.ssl.ca_file, …).
 */
export function resolveStoreSettings(section: StoreSection, configDir: string, env: Readonly<Record<string, string | undefined>>): StoreSettings {
  if (section.url === undefined) {
    for (const k of ['password', 'password_file', 'ssl'] as const) {
      if (section[k] !== undefined) throw invalid(`store.${k}`, 'is a PostgreSQL setting; set store.url too (or remove it for the SQLite store)');
    }
    return { kind: 'sqlite', path: path.resolve(configDir, section.path) };
  }
  const base = parsePostgresUrl(section.url);
  const file = (f: string | undefined): string | undefined => (f === undefined ? undefined : path.resolve(configDir, f));
  const password = resolveSecret({ value: section.password, file: file(section.password_file), key: 'store.password' }) ?? (env.PGPASSWORD || undefined);
  let ssl: TlsOptions | undefined;
  if (section.ssl) {
    const s = section.ssl;
    if ((s.cert_file === undefined) !== (s.key_file === undefined)) throw invalid('store.ssl', 'cert_file and key_file go together (a client certificate and its key)');
    ssl = readTlsFiles(
      {
        caFile: file(s.ca_file),
        certFile: file(s.cert_file),
        keyFile: file(s.key_file),
        servername: s.server_name,
        rejectUnauthorized: s.reject_unauthorized,
      },
      'store.ssl',
    );
    // without server_name, pg verifies the certificate against the URL's host
  }
  return { ...base, ...(password !== undefined ? { password } : {}), ...(ssl ? { ssl } : {}), timeoutMs: section.timeout };
}
