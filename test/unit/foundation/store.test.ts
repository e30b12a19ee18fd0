import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate, openDatabase, schemaVersion } from '../../../src/store/database';
import { MIGRATIONS, type Migration } from '../../../src/store/migrations';
import { createTokenStore } from '../../../src/store/tokens';
import { createVariableStore } from '../../../src/store/variables';

const tmpFile = (): string => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sup-store-')), 'state.db');
const tables = (db: Database.Database): string[] =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);

describe('state store migrations', () => {
  it('creates every table on a fresh file, in WAL mode, at the latest version', () => {
    const db = openDatabase({ file: tmpFile() });
    expect(schemaVersion(db)).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(tables(db)).toEqual(expect.arrayContaining(['alerts', 'api_tokens', 'outbox', 'runs', 'silences', 'task_attempts', 'task_instances', 'task_logs', 'variables']));
    db.close();
  });

  it('upgrades an older file in place, keeping its data', () => {
    const file = tmpFile();
    const v1 = openDatabase({ file, migrations: MIGRATIONS.filter((m) => m.version === 1) });
    createVariableStore(v1).set('kafka_servers', 'kafka:9092', 1);
    v1.close();
    const next: Migration = { version: 99, name: 'test column', sql: 'ALTER TABLE variables ADD COLUMN note TEXT' };
    const upgraded = openDatabase({ file, migrations: [...MIGRATIONS, next] });
    expect(schemaVersion(upgraded)).toBe(99);
    expect(createVariableStore(upgraded).get('kafka_servers')?.value).toBe('kafka:9092');
    expect((upgraded.prepare('PRAGMA table_info(variables)').all() as { name: string }[]).map((c) => c.name)).toContain('note');
    // opening again applies nothing
    expect(migrate(upgraded, [...MIGRATIONS, next])).toEqual([]);
    upgraded.close();
  });

  it('refuses a file written by a newer supervisor', () => {
    const file = tmpFile();
    const db = openDatabase({ file });
    db.pragma('user_version = 1000');
    db.close();
    expect(() => openDatabase({ file })).toThrow(/schema version 1000 .* knows only up to/);
  });

  it('rolls back a failing migration and names it', () => {
    const file = tmpFile();
    const bad: Migration = { version: 2, name: 'broken', sql: 'CREATE TABLE x (a INT); THIS IS NOT SQL' };
    expect(() => openDatabase({ file, migrations: [MIGRATIONS[0]!, bad] })).toThrow(/migration 2 \(broken\) failed/);
    const db = new Database(file);
    expect(schemaVersion(db)).toBe(1);
    expect(tables(db)).not.toContain('x');
    db.close();
  });
});

describe('tokens', () => {
  it('stores only a hash and verifies the token', () => {
    const db = openDatabase({ file: ':memory:' });
    const tokens = createTokenStore(db);
    const { token } = tokens.create('grafana', true, 5);
    const stored = db.prepare('SELECT hash FROM api_tokens').get() as { hash: string };
    expect(stored.hash).not.toContain(token);
    expect(stored.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(tokens.verify(token, 10)).toMatchObject({ name: 'grafana', readOnly: true });
    expect(tokens.verify(token + 'x')).toBeNull();
    expect(tokens.list()[0]!.lastUsedAt).toBe(10);
    db.close();
  });
});
