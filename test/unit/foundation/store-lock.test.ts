import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lockStore, readLockHolder } from '../../../src/store/database';
import { isSupervisorError } from '../../../src/protocol';

describe('store lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-lock-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('one holder at a time; the refusal names the holder pid and the store; release frees it', () => {
    const store = path.join(dir, 'state.db');
    const first = lockStore(store)!;
    expect(readLockHolder(first.file)).toMatchObject({ pid: process.pid, host: os.hostname() });
    let refused: unknown;
    try {
      lockStore(store);
    } catch (err) {
      refused = err;
    }
    expect(isSupervisorError(refused) && refused.code).toBe('SUP_ERR_STORE_LOCKED');
    expect((refused as Error).message).toContain(`the state store ${store} is in use by process ${process.pid}`);
    first.release();
    first.release(); // idempotent
    const again = lockStore(store)!;
    again.release();
    expect(lockStore(':memory:')).toBeNull();
  });

  it('a holder killed with SIGKILL leaves no lock behind (the kernel drops it), whatever pid its file names', async () => {
    const store = path.join(dir, 'state.db');
    // another process holds the lock the way lockStore takes it (SQLite's exclusive locking mode)
    const Database = path.join(__dirname, '../../../node_modules/better-sqlite3');
    const script = [
      `const Database = require(${JSON.stringify(Database)});`,
      `const db = new Database(${JSON.stringify(`${store}.lock`)});`,
      `db.pragma('journal_mode = DELETE'); db.pragma('locking_mode = EXCLUSIVE');`,
      `db.exec('BEGIN EXCLUSIVE');`,
      `db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, host TEXT NOT NULL, store TEXT NOT NULL, started_at INTEGER NOT NULL)');`,
      `db.prepare('INSERT INTO holder VALUES (?, ?, ?, ?)').run(process.pid, 'h', 's', 0);`,
      `db.exec('COMMIT');`,
      `process.stdout.write('held\\n');`,
      `setInterval(() => {}, 1000);`,
    ].join('\n');
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve()));
    expect(() => lockStore(store)).toThrow(`in use by process ${child.pid}`);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    expect(readLockHolder(`${store}.lock`)?.pid).toBe(child.pid); // a stale pid in the file…
    const lock = lockStore(store)!; // …does not block
    expect(readLockHolder(lock.file)?.pid).toBe(process.pid);
    lock.release();
  });
});
