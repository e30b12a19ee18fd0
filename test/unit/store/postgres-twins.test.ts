/**
 * The PostgreSQL migrations mirror the SQLite ones version for version, and the facade's one
 * translation (parameters, RETURNING id) does what the stores rely on.
 */
import { MIGRATIONS } from '../../../src/store/migrations';
import { POSTGRES_MIGRATIONS } from '../../../src/store/migrations-postgres';
import { translateSql } from '../../../src/store/postgres/translate';

const tablesOf = (sql: string): string[] => [...sql.matchAll(/CREATE TABLE (\w+)/g)].map((m) => m[1]!).sort();
const indexesOf = (sql: string): string[] => [...sql.matchAll(/CREATE (?:UNIQUE )?INDEX (\w+)/g)].map((m) => m[1]!).sort();
const addedColumnsOf = (sql: string): string[] => [...sql.matchAll(/ALTER TABLE (\w+) ADD COLUMN (\w+)/g)].map((m) => `${m[1]}.${m[2]}`).sort();

describe('PostgreSQL migrations', () => {
  it('has a twin of every SQLite migration, same version and name, and no other', () => {
    expect(POSTGRES_MIGRATIONS.map((m) => [m.version, m.name])).toEqual(MIGRATIONS.map((m) => [m.version, m.name]));
  });

  it.each(MIGRATIONS.map((m) => [m.version, m] as const))('version %i creates the same tables, indexes and columns', (version, sqlite) => {
    const twin = POSTGRES_MIGRATIONS.find((m) => m.version === version)!;
    expect(tablesOf(twin.sql)).toEqual(tablesOf(sqlite.sql));
    expect(indexesOf(twin.sql)).toEqual(indexesOf(sqlite.sql));
    expect(addedColumnsOf(twin.sql)).toEqual(addedColumnsOf(sqlite.sql));
    expect(twin.sql).not.toMatch(/AUTOINCREMENT|PRAGMA/i);
  });
});

describe('statement translation', () => {
  it('numbers ? in order and leaves literals, quoted names and comments alone', () => {
    const t = translateSql(`SELECT '?', "a?b" FROM t -- what?\n WHERE a = ? AND b IN (?, ?) /* @x ? */`);
    expect(t.text).toBe(`SELECT '?', "a?b" FROM t -- what?\n WHERE a = $1 AND b IN ($2, $3) /* @x ? */`);
    expect(t.bind([1, 'two', 3n])).toEqual([1, 'two', '3']);
    expect(() => t.bind([1])).toThrow(/Too few parameter values/);
  });

  it('binds @names from one object, the same number for each use of a name', () => {
    const t = translateSql('UPDATE x SET a = @a, b = @b WHERE a <> @a');
    expect(t.text).toBe('UPDATE x SET a = $1, b = $2 WHERE a <> $1');
    expect(t.bind([{ a: 1, b: undefined }])).toEqual([1, null]);
    expect(() => t.bind([{ a: 1 }])).toThrow(/Missing named parameter "b"/);
  });

  it('asks for the id of an INSERT into a serial table when run, only there', () => {
    expect(translateSql('INSERT INTO outbox (sink) VALUES (?) ON CONFLICT (sink, dedup_key) DO NOTHING').runText).toMatch(/DO NOTHING RETURNING id$/);
    expect(translateSql('INSERT INTO audit_log (at) VALUES (@at)').runText).toBe('INSERT INTO audit_log (at) VALUES ($1) RETURNING id');
    expect(translateSql('INSERT INTO runs (id) VALUES (?)').runText).toBe('INSERT INTO runs (id) VALUES ($1)');
  });

  it('refuses a statement mixing ? and @name', () => {
    expect(() => translateSql('SELECT ? , @a')).toThrow(/both \? and @name/);
  });
});
