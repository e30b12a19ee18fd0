import type Database from 'better-sqlite3';
import { isSupervisorError } from '../../../src/protocol';
import { API_SILENCE_FIELDS, buildSilence, CLI_SILENCE_FIELDS, createSqliteSilenceStore } from '../../../src/store/silences';
import { openAlertDb, tempDbPath } from '../../helpers/alert-db';

const NOW = Date.UTC(2025, 9, 5, 12, 0, 0);
const HOUR = 3_600_000;

function problemOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isSupervisorError(err)) return `${err.code} ${err.message}`;
    throw err;
  }
  throw new Error('expected a SupervisorError');
}

describe('buildSilence (the one validation of the API and the CLI)', () => {
  const ok = { matchers: { alertname: 'data_stale' }, duration: '2h', comment: 'maintenance', createdBy: 'ops' };

  it('builds a silence from a duration or an end date', () => {
    expect(buildSilence(ok, { now: NOW, id: 's1' })).toEqual({
      id: 's1',
      matchers: { alertname: 'data_stale' },
      startsAt: NOW,
      endsAt: NOW + 2 * HOUR,
      createdBy: 'ops',
      comment: 'maintenance',
    });
    expect(buildSilence({ ...ok, duration: undefined, endsAt: '2025-10-06T00:00:00Z' }, { now: NOW }).endsAt).toBe(Date.UTC(2025, 9, 6));
  });

  it('accepts the reported pattern (RE2 runs it in linear time)', () => {
    expect(buildSilence({ ...ok, matchers: { alertname: '~(.*.*)*x' } }, { now: NOW }).matchers).toEqual({ alertname: '~(.*.*)*x' });
  });

  it('names the field of an invalid or over-long regex', () => {
    expect(problemOf(() => buildSilence({ ...ok, matchers: { alertname: '~(?=x)' } }, { now: NOW }))).toMatch(
      /^SUP_ERR_BAD_REQUEST invalid silence: matchers\.alertname: invalid regular expression/,
    );
    expect(problemOf(() => buildSilence({ ...ok, matchers: { check: `~${'a'.repeat(501)}` } }, { now: NOW }))).toMatch(/matchers\.check: .*501 characters long; at most 500/);
  });

  it('reports every bad field at once, with the caller’s field names', () => {
    const api = problemOf(() => buildSilence({ matchers: {}, duration: 'soon', comment: '', createdBy: 'x' }, { now: NOW, fields: API_SILENCE_FIELDS }));
    expect(api).toMatch(/matchers: is empty/);
    expect(api).toMatch(/duration: "soon" is not a duration/);
    expect(api).toMatch(/comment: is required/);
    const cli = problemOf(() => buildSilence({ matchers: { a: 'b' }, endsAt: '2025-02-30', comment: 'x', createdBy: 'x' }, { now: NOW, fields: CLI_SILENCE_FIELDS }));
    expect(cli).toMatch(/--ends-at: "2025-02-30" is not a date/);
    expect(problemOf(() => buildSilence({ matchers: { a: 'b' }, comment: 'x', createdBy: 'x' }, { now: NOW, fields: CLI_SILENCE_FIELDS }))).toMatch(
      /--duration, --ends-at: one of them is required/,
    );
    expect(problemOf(() => buildSilence({ ...ok, endsAt: '2026-01-01' }, { now: NOW }))).toMatch(/duration, ends_at: give one of them, not both/);
    expect(problemOf(() => buildSilence({ ...ok, duration: undefined, endsAt: '2025-10-05T11:00:00Z' }, { now: NOW }))).toMatch(/ends_at: .* is not in the future/);
    expect(problemOf(() => buildSilence({ ...ok, duration: '400d' }, { now: NOW }))).toMatch(
      /duration: "400d" is not a duration of at most 366 days|duration: "400d" is longer than 366 days/,
    );
    expect(problemOf(() => buildSilence({ ...ok, matchers: { 'bad label': 'x' } }, { now: NOW }))).toMatch(/matchers\.bad label: a label name/);
  });
});

describe('SQLite silence store', () => {
  let tmp: ReturnType<typeof tempDbPath>;
  let db: Database.Database;
  beforeEach(() => {
    tmp = tempDbPath('silences-');
    db = openAlertDb(tmp.file);
  });
  afterEach(() => {
    db.close();
    tmp.cleanup();
  });

  it('refuses a silence whose regex does not compile on the linear-time engine', () => {
    const store = createSqliteSilenceStore(db);
    expect(problemOf(() => store.addSilence({ id: 'x', matchers: { alertname: '~(?<=a)b' }, startsAt: NOW, endsAt: NOW + HOUR, createdBy: 't', comment: '' }))).toMatch(
      /matchers\.alertname: invalid regular expression/,
    );
    expect(store.listSilences(NOW, { all: true })).toEqual([]);
  });

  it('expires a silence (kept in the listing with all) and tells every store on the database', () => {
    const a = createSqliteSilenceStore(db);
    const b = createSqliteSilenceStore(db);
    const changes: string[] = [];
    const off = b.onChange!(() => changes.push('changed'));
    a.addSilence(buildSilence({ matchers: { check: 'gold' }, duration: '1h', comment: 'x', createdBy: 't' }, { now: NOW, id: 's1' }));
    expect(changes).toEqual(['changed']);
    expect(b.listSilences(NOW).map((s) => s.id)).toEqual(['s1']);
    expect(a.expireSilence('s1', NOW + 60_000)).toBe(true);
    expect(a.expireSilence('s1', NOW + 120_000)).toBe(false);
    expect(changes).toHaveLength(2);
    expect(b.listSilences(NOW + 60_000)).toEqual([]);
    expect(b.listSilences(NOW + 60_000, { all: true })).toEqual([expect.objectContaining({ id: 's1', endsAt: NOW + 60_000 })]);
    off();
    a.deleteSilence('s1');
    expect(changes).toHaveLength(2);
  });
});
