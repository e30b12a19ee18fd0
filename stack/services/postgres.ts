/**
 * PostgreSQL from Debian's packages (`postgresql`, version 15 on bookworm), as a private
 * cluster of the stack: `initdb` makes it once under `.stack/data/postgres`, and the manager
 * runs `postgres -D …` in the foreground like every other service (pg_ctl would daemonize it and
 * hide its pid from the manager). It listens on its own loopback port (STACK_POSTGRES_PORT,
 * default 5442, never the system cluster's 5432), TCP only (no Unix socket), with `ssl = on`
 * and the stack's server certificate (stack/tls.ts, SAN 127.0.0.1/localhost), so clients can
 * use `sslmode=verify-full` against the stack's CA; plain TCP is accepted too. Every login is
 * scram-sha-256. After readiness, every `up` makes sure the database and its owner role exist
 * with the password from stack/endpoints.ts (`postgres`); the role may create databases, so a
 * test can make a fresh one for itself.
 *
 * PostgreSQL refuses to run as root. When the stack runs as root (installing Debian packages
 * needs it), the server runs as a dedicated system user, `stack-postgres` (created once with
 * useradd, no home, no login shell), switched to with `setpriv`, which execs — the recorded pid
 * is the postmaster itself, so `down` signals it and not a wrapper. That user owns only the
 * cluster's folders; it can read nothing else of the stack. As a normal user, the server runs
 * as that user. `down` sends SIGINT (PostgreSQL's fast shutdown: open sessions are ended,
 * a checkpoint is written), not SIGTERM (smart shutdown, which waits for every client).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ClientConfig } from 'pg';
import { HOST, endpoints, ports } from '../endpoints';
import { aptInstall, installLog, once, run } from '../install';
import { dirs, ensureDir } from '../paths';
import { ensureStackTls, stackTls } from '../tls';
import type { ServiceDef } from './types';

export const PG_MAJOR = '15';
const BIN_DIR = process.env.STACK_POSTGRES_BIN_DIR ?? `/usr/lib/postgresql/${PG_MAJOR}/bin`;
const INITDB = path.join(BIN_DIR, 'initdb');
const POSTGRES = path.join(BIN_DIR, 'postgres');
/** the system user the server runs as when the stack runs as root */
export const PG_OS_USER = process.env.STACK_POSTGRES_OS_USER ?? 'stack-postgres';

const dataDir = () => path.join(dirs.data, 'postgres');
/** config, certificate copies and hba file the server reads: owned by the server's user */
const confDir = () => path.join(dirs.conf, 'postgres');
const hbaFile = () => path.join(confDir(), 'pg_hba.conf');
const certFile = () => path.join(confDir(), 'server.pem');
const keyFile = () => path.join(confDir(), 'server-key.pem');

const asRoot = () => process.getuid?.() === 0;

interface OsUser {
  uid: number;
  gid: number;
}

function lookupUser(name: string): OsUser | undefined {
  const res = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (res.status !== 0) return undefined;
  const fields = res.stdout.trim().split(':');
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** The dedicated system user, created the first time (idempotent). */
function ensureOsUser(): OsUser {
  const existing = lookupUser(PG_OS_USER);
  if (existing) return existing;
  const res = spawnSync(
    'useradd',
    [
      '--system',
      '--user-group',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      '--comment',
      'PostgreSQL of the pipeline-supervisor local stack',
      PG_OS_USER,
    ],
    {
      encoding: 'utf8',
    },
  );
  // a concurrent `up` may have created it meanwhile
  const made = lookupUser(PG_OS_USER);
  if (!made) throw new Error(`could not create the system user ${PG_OS_USER} for PostgreSQL (useradd: ${(res.stderr || res.error?.message || '').trim()})`);
  return made;
}

/** argv prefix that runs a command as the server's user (setpriv execs: no wrapper process stays). */
function asServerUser(): string[] {
  return asRoot() ? ['setpriv', `--reuid=${PG_OS_USER}`, `--regid=${PG_OS_USER}`, '--init-groups', '--'] : [];
}

function chownTree(dir: string, user: OsUser | undefined): void {
  if (!user) return;
  fs.chownSync(dir, user.uid, user.gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, user);
    else fs.chownSync(p, user.uid, user.gid);
  }
}

/** The server's own folders must be reachable by its user: say so plainly instead of a cryptic initdb failure. */
function checkReachable(dir: string): void {
  if (!asRoot()) return;
  const res = spawnSync('setpriv', [`--reuid=${PG_OS_USER}`, `--regid=${PG_OS_USER}`, '--init-groups', '--', 'test', '-w', dir]);
  if (res.status !== 0) {
    throw new Error(
      `the PostgreSQL user ${PG_OS_USER} cannot write ${dir}: every parent folder of STACK_HOME (${dirs.home}) must be searchable by others (chmod o+x), or set STACK_HOME elsewhere`,
    );
  }
}

const HBA = `# generated by stack/services/postgres.ts — edit there
# TCP on loopback only, every login with scram-sha-256; TLS offered (ssl = on), plain accepted.
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
`;

/** Connection settings for the stack's server, TLS verified against the stack's CA (`sslmode=verify-full`). */
export function stackPostgresConfig(overrides: Partial<ClientConfig> = {}): ClientConfig {
  const pg = endpoints.postgres;
  return {
    host: pg.host,
    port: pg.port,
    database: pg.database,
    user: pg.user,
    password: pg.password,
    ssl: { ca: fs.readFileSync(stackTls().caFile, 'utf8'), servername: 'localhost', rejectUnauthorized: true },
    connectionTimeoutMillis: 5000,
    ...overrides,
  };
}

const adminConfig = (): ClientConfig =>
  stackPostgresConfig({ database: 'postgres', user: endpoints.postgres.adminUser, password: endpoints.postgres.adminPassword, connectionTimeoutMillis: 2000 });

async function withAdmin<T>(fn: (c: import('pg').Client) => Promise<T>): Promise<T> {
  const { Client } = await import('pg');
  const client = new Client(adminConfig());
  client.on('error', () => undefined); // a server going away mid-probe is the probe's failure, not a crash
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const postgres: ServiceDef = {
  name: 'postgres',
  description: `PostgreSQL ${PG_MAJOR} (Debian package), a private cluster with TLS`,
  // not part of a bare `up`: the suites that need it start it (ensureServices(['postgres']))
  optional: true,
  stopSignal: 'SIGINT',
  ports: () => [{ name: 'sql', port: ports.postgres }],
  endpoints: () => ({
    url: `postgres://${endpoints.postgres.user}@${HOST}:${ports.postgres}/${endpoints.postgres.database}?sslmode=verify-full`,
    ca: stackTls().caFile,
    data: dataDir(),
  }),
  readyTimeoutMs: 60_000,

  async install({ log }) {
    await once('apt-postgresql', log, 'postgresql from Debian', () => aptInstall('postgres', ['postgresql'], [INITDB, POSTGRES], log));
    for (const bin of [INITDB, POSTGRES]) if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: apt-get install -y postgresql (or set STACK_POSTGRES_BIN_DIR)`);
    const user = asRoot() ? ensureOsUser() : undefined;
    const tls = ensureStackTls();

    // PostgreSQL insists that its key belongs to its user and is readable by nobody else: copies, not the stack's files.
    const conf = ensureDir(confDir());
    fs.copyFileSync(tls.serverCertFile, certFile());
    fs.copyFileSync(tls.serverKeyFile, keyFile());
    fs.writeFileSync(hbaFile(), HBA);
    fs.chmodSync(conf, 0o700);
    fs.chmodSync(keyFile(), 0o600);
    chownTree(conf, user);

    const data = dataDir();
    const version = path.join(data, 'PG_VERSION');
    if (fs.existsSync(version)) {
      const found = fs.readFileSync(version, 'utf8').trim();
      if (found !== PG_MAJOR) throw new Error(`${data} holds a PostgreSQL ${found} cluster but the binaries are ${PG_MAJOR}: remove the folder to start afresh`);
      chownTree(data, user); // a restored or copied folder
      return;
    }
    log.info(`initdb: a new cluster in ${data}`);
    fs.rmSync(data, { recursive: true, force: true });
    ensureDir(data);
    fs.chmodSync(data, 0o700);
    chownTree(data, user);
    checkReachable(data);
    // the superuser's password reaches initdb through a file only its user can read, removed right after
    const pwfile = path.join(conf, 'initdb-password');
    fs.writeFileSync(pwfile, endpoints.postgres.adminPassword + '\n', { mode: 0o600 });
    chownTree(conf, user);
    try {
      const [cmd, ...pre] = [...asServerUser(), INITDB];
      await run(
        cmd,
        [
          ...pre,
          '-D',
          data,
          '-U',
          endpoints.postgres.adminUser,
          `--pwfile=${pwfile}`,
          '--auth-local=peer',
          '--auth-host=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C.UTF-8',
          '--no-instructions',
        ],
        { logPath: installLog('postgres'), timeoutMs: 5 * 60_000 },
      );
    } catch (err) {
      fs.rmSync(data, { recursive: true, force: true }); // half a cluster would be reused next time
      throw err;
    } finally {
      fs.rmSync(pwfile, { force: true });
    }
  },

  command: () => {
    const [cmd, ...pre] = [...asServerUser(), POSTGRES];
    const settings: Record<string, string> = {
      listen_addresses: HOST,
      port: String(ports.postgres),
      unix_socket_directories: '',
      hba_file: hbaFile(),
      ssl: 'on',
      ssl_cert_file: certFile(),
      ssl_key_file: keyFile(),
      ssl_min_protocol_version: 'TLSv1.2',
      password_encryption: 'scram-sha-256',
      max_connections: '100',
      shared_buffers: '32MB',
      logging_collector: 'off',
      log_destination: 'stderr',
      log_line_prefix: '%m [%p] %q%u@%d ',
    };
    return { command: cmd, args: [...pre, '-D', dataDir(), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])] };
  },

  async ready() {
    try {
      return await withAdmin(async (c) => (await c.query<{ ok: number }>('SELECT 1 AS ok')).rows[0]?.ok === 1);
    } catch {
      return false;
    }
  },

  async afterReady() {
    const pg = endpoints.postgres;
    await withAdmin(async (c) => {
      const role = c.escapeIdentifier(pg.user);
      const password = c.escapeLiteral(pg.password);
      const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [pg.user]);
      // ALTER on every up: the password follows STACK_POSTGRES_PASSWORD when it changes
      await c.query(`${exists.rowCount ? 'ALTER' : 'CREATE'} ROLE ${role} LOGIN CREATEDB PASSWORD ${password}`);
      const db = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [pg.database]);
      if (!db.rowCount) await c.query(`CREATE DATABASE ${c.escapeIdentifier(pg.database)} OWNER ${role}`);
    });
  },
};
