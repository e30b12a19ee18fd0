/**
 * A private PostgreSQL cluster on its own loopback port, started and stopped by a test that must
 * stop or restart its server (the shared stack's server never is): Debian's binaries, as
 * stack/services/postgres.ts runs them, its own data folder under the test's temp dir, TCP only,
 * trust logins. ensureServices(['postgres']) installs the binaries.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { waitFor } from './e2e-supervisor';

const BIN = '/usr/lib/postgresql/15/bin';
const PG_USER = 'stack-postgres';
const asRoot = process.getuid?.() === 0;
// as root, the server runs as the stack's own system user (PostgreSQL refuses to run as root)
const asServer = (argv: string[]): string[] => (asRoot ? ['setpriv', `--reuid=${PG_USER}`, `--regid=${PG_USER}`, '--init-groups', '--', ...argv] : argv);

export class PrivateCluster {
  private child: ChildProcess | undefined;
  readonly data: string;
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.data = path.join(dir, 'data');
  }

  init(): void {
    if (asRoot) spawnSync('chown', ['-R', `${PG_USER}:${PG_USER}`, this.dir]);
    const [cmd, ...args] = asServer([path.join(BIN, 'initdb'), '-D', this.data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
    const res = spawnSync(cmd!, args, { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`initdb failed: ${res.stderr}`);
  }

  async start(): Promise<void> {
    const [cmd, ...args] = asServer([
      path.join(BIN, 'postgres'),
      '-D',
      this.data,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `port=${this.port}`,
      '-c',
      'unix_socket_directories=',
      '-c',
      'fsync=off',
      '-c',
      'shared_buffers=16MB',
    ]);
    const log = fs.openSync(path.join(this.dir, 'postgres.log'), 'a');
    this.child = spawn(cmd!, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    await waitFor('the private PostgreSQL to accept connections', async () => (await this.query('SELECT 1')).length > 0, { timeoutMs: 30_000, intervalMs: 200 });
  }

  /** Fast shutdown (SIGINT), as the stack's `down` does. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  /** A superuser client of the cluster (not connected). */
  client(): Client {
    const c = new Client({ host: '127.0.0.1', port: this.port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2_000 });
    c.on('error', () => undefined);
    return c;
  }

  async query<T = Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<T[]> {
    const c = this.client();
    await c.connect();
    try {
      return (await c.query(sql, values)).rows as T[];
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}
