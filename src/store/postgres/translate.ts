/**
 * The one translation of the stores' SQL to PostgreSQL: parameters only. `?` becomes `$1, $2, …`
 * in order; `@name` becomes `$k`, the same k for each use of a name, bound from the object the
 * statement is called with (better-sqlite3's named parameters). String literals, quoted names and
 * comments are left alone. An `INSERT` into a table with a BIGSERIAL `id` gets `RETURNING id`
 * when run, for `lastInsertRowid`.
 *
 * Everything else is the stores' business: they write SQL both dialects run, or branch on
 * `dialectOf(db)` (src/store/sql.ts).
 */
import { POSTGRES_SERIAL_TABLES } from '../migrations-postgres';

export interface TranslatedSql {
  /** The statement with `$n` parameters. */
  text: string;
  /** What `run()` sends: `text` plus `RETURNING id` for an INSERT into a serial table. */
  runText: string;
  /** The values in `$n` order, from the call's arguments. */
  bind(args: readonly unknown[]): unknown[];
}

const cache = new Map<string, TranslatedSql>();

export function translateSql(sql: string): TranslatedSql {
  let t = cache.get(sql);
  if (!t) {
    t = translate(sql);
    if (cache.size < 10_000) cache.set(sql, t);
  }
  return t;
}

function translate(sql: string): TranslatedSql {
  let out = '';
  let positional = 0;
  const names: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      const end = closing(sql, i, c);
      out += sql.slice(i, end);
      i = end;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end < 0 ? sql.length : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '?') {
      out += `$${++positional}`;
      i++;
    } else if (c === '@' && /[A-Za-z_]/.test(sql[i + 1] ?? '')) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))!;
      let k = names.indexOf(m[0]);
      if (k < 0) k = names.push(m[0]) - 1;
      out += `$${k + 1}`;
      i += 1 + m[0].length;
    } else {
      out += c;
      i++;
    }
  }
  if (positional > 0 && names.length > 0) throw new Error(`a statement uses both ? and @name parameters: ${sql.slice(0, 80)}`);
  const insert = /^\s*INSERT\s+INTO\s+([A-Za-z_][A-Za-z0-9_]*)/i.exec(out);
  const runText = insert && POSTGRES_SERIAL_TABLES.has(insert[1]!.toLowerCase()) && !/\bRETURNING\b/i.test(out) ? `${out} RETURNING id` : out;
  const value = (v: unknown): unknown => (v === undefined ? null : typeof v === 'bigint' ? v.toString() : v);
  const bind =
    names.length > 0
      ? (args: readonly unknown[]): unknown[] => {
          const obj = args[0];
          if (args.length !== 1 || obj === null || typeof obj !== 'object') throw new TypeError(`named parameters (@${names[0]}) need one object argument`);
          return names.map((n) => {
            if (!Object.hasOwn(obj, n)) throw new RangeError(`Missing named parameter "${n}"`);
            return value((obj as Record<string, unknown>)[n]);
          });
        }
      : (args: readonly unknown[]): unknown[] => {
          if (args.length !== positional)
            throw new RangeError(`Too ${args.length < positional ? 'few' : 'many'} parameter values were provided (${args.length} for ${positional})`);
          return args.map(value);
        };
  return { text: out, runText, bind };
}

/** Index just past the literal or quoted name starting at `start` ('' and "" escape the quote). */
function closing(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return sql.length;
}
