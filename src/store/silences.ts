/**
 * Silences: the SQLite store (table `silences`, migration 1) and the one validation used by
 * the API (`POST /api/v1/silences`), the CLI (`supervisor silences create`) and the store itself.
 * Regex matchers are checked on the linear-time engine (RE2 syntax) and length-limited, so a
 * stored silence can never hang evaluation.
 */
import crypto from 'node:crypto';
import { dialectOf, type SqlDatabase } from './sql';
import { SupervisorError, type Silence, type SilenceStore } from '../protocol';
import { parseDuration } from '../config/duration';
import { DateParseError, MAX_EPOCH_MS, parseStrictDate } from '../shared/dates';
import { LIMITS } from '../shared/limits';
import { regexProblem } from '../shared/linear-regex';

interface Row {
  id: string;
  matchers: string;
  starts_at: number;
  ends_at: number;
  created_by: string;
  comment: string;
}

/** Matchers per silence. */
export const MAX_SILENCE_MATCHERS = 20;
/** The bounds the API's schema states (the same ones buildSilence checks). */
export const SILENCE_LIMITS = { matchers: MAX_SILENCE_MATCHERS, regexLength: LIMITS.regexLength, commentLength: LIMITS.commentLength } as const;
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** How fields are called where the input came from (API body keys, CLI flags). */
export interface SilenceFieldNames {
  matchers: string;
  duration: string;
  endsAt: string;
  comment: string;
  createdBy: string;
}

export const API_SILENCE_FIELDS: SilenceFieldNames = { matchers: 'matchers', duration: 'duration', endsAt: 'ends_at', comment: 'comment', createdBy: 'created_by' };
export const CLI_SILENCE_FIELDS: SilenceFieldNames = { matchers: 'matchers', duration: '--duration', endsAt: '--ends-at', comment: '--comment', createdBy: '--created-by' };

export interface SilenceRequest {
  /** `{ label: "exact" }` or `{ label: "~regex" }`. */
  matchers: unknown;
  /** How long from `now` (`2h`, `30m`); exactly one of `duration` and `endsAt`. */
  duration?: string | undefined;
  /** ISO 8601 date or date-time with a zone. */
  endsAt?: string | undefined;
  comment: unknown;
  createdBy: string;
}

/** Problems of a matcher set, each naming its field (`matchers.alertname: …`). */
export function silenceMatcherProblems(matchers: unknown, field = 'matchers'): string[] {
  if (!matchers || typeof matchers !== 'object' || Array.isArray(matchers)) return [`${field}: must be an object of label: value (or label: ~regex)`];
  const entries = Object.entries(matchers as Record<string, unknown>);
  const problems: string[] = [];
  if (entries.length === 0) problems.push(`${field}: is empty (a silence must match something)`);
  if (entries.length > MAX_SILENCE_MATCHERS) problems.push(`${field}: has ${entries.length} matchers; at most ${MAX_SILENCE_MATCHERS} are accepted`);
  for (const [label, value] of entries.slice(0, MAX_SILENCE_MATCHERS + 1)) {
    const at = `${field}.${label.length > 60 ? `${label.slice(0, 57)}...` : label}`;
    if (label.length > LIMITS.nameLength || !LABEL_NAME.test(label)) {
      problems.push(`${at}: a label name starts with a letter or _ and uses letters, digits, _ . - (at most ${LIMITS.nameLength} characters)`);
      continue;
    }
    if (typeof value !== 'string') {
      problems.push(`${at}: must be a string (an exact value, or ~regex)`);
      continue;
    }
    if (value.startsWith('~')) {
      const problem = regexProblem(value.slice(1), 'full');
      if (problem) problems.push(`${at}: ${problem}`);
    } else if (value.length > LIMITS.regexLength) {
      problems.push(`${at}: is ${value.length} characters long; at most ${LIMITS.regexLength} are accepted`);
    }
  }
  return problems;
}

function invalid(problems: string[], where?: string): SupervisorError {
  return new SupervisorError('SUP_ERR_BAD_REQUEST', `invalid silence: ${problems.join('; ')}`, { problems, ...(where ? { where } : {}) });
}

function durationProblem(text: string, field: string): { ms: number } | { problem: string } {
  let ms: number | null;
  try {
    ms = parseDuration(text);
  } catch (err) {
    return { problem: `${field}: ${(err as Error).message}` };
  }
  if (ms === null || !Number.isFinite(ms)) {
    return { problem: `${field}: ${JSON.stringify(text.slice(0, 40))} is not a duration of at most ${LIMITS.durationMaxMs / 86_400_000} days; use e.g. "30m", "2h" or "1d"` };
  }
  if (ms <= 0) return { problem: `${field}: must be longer than 0` };
  if (ms > LIMITS.durationMaxMs) return { problem: `${field}: ${JSON.stringify(text.slice(0, 40))} is longer than ${LIMITS.durationMaxMs / 86_400_000} days` };
  return { ms };
}

/**
 * Turns a request (API body or CLI flags) into a Silence starting at `now`, or throws a
 * SupervisorError (SUP_ERR_BAD_REQUEST) whose message names every bad field. The one
 * validation of the API and the CLI.
 */
export function buildSilence(request: SilenceRequest, options: { now: number; id?: string; fields?: SilenceFieldNames }): Silence {
  const f = options.fields ?? API_SILENCE_FIELDS;
  const { now } = options;
  const problems = silenceMatcherProblems(request.matchers, f.matchers);
  let endsAt: number | undefined;
  const hasDuration = request.duration !== undefined && request.duration !== '';
  const hasEnd = request.endsAt !== undefined && request.endsAt !== '';
  if (hasDuration && hasEnd) problems.push(`${f.duration}, ${f.endsAt}: give one of them, not both`);
  else if (!hasDuration && !hasEnd) problems.push(`${f.duration}, ${f.endsAt}: one of them is required (e.g. ${f.duration} 2h)`);
  else if (hasDuration) {
    const d = durationProblem(String(request.duration), f.duration);
    if ('problem' in d) problems.push(d.problem);
    else endsAt = now + d.ms;
  } else {
    try {
      endsAt = parseStrictDate(String(request.endsAt), f.endsAt);
      if (endsAt <= now) {
        problems.push(`${f.endsAt}: ${JSON.stringify(request.endsAt)} is not in the future`);
        endsAt = undefined;
      } else if (endsAt - now > LIMITS.durationMaxMs) {
        problems.push(`${f.endsAt}: is more than ${LIMITS.durationMaxMs / 86_400_000} days from now`);
        endsAt = undefined;
      }
    } catch (err) {
      problems.push(err instanceof DateParseError ? err.message : `${f.endsAt}: ${(err as Error).message}`);
    }
  }
  const comment = typeof request.comment === 'string' ? request.comment.trim() : '';
  if (typeof request.comment !== 'string' || comment === '') problems.push(`${f.comment}: is required (say why the alerts are silenced)`);
  else if (comment.length > LIMITS.commentLength) problems.push(`${f.comment}: is ${comment.length} characters long; at most ${LIMITS.commentLength} are accepted`);
  const createdBy = request.createdBy.trim();
  if (createdBy === '' || createdBy.length > LIMITS.nameLength) problems.push(`${f.createdBy}: must be 1 to ${LIMITS.nameLength} characters`);
  if (problems.length > 0 || endsAt === undefined) throw invalid(problems.length ? problems : ['invalid silence']);
  return { id: options.id ?? crypto.randomUUID(), matchers: { ...(request.matchers as Record<string, string>) }, startsAt: now, endsAt, createdBy, comment };
}

/** Problems of a complete Silence (what the store refuses to write). */
function storedSilenceProblems(silence: Silence): string[] {
  const problems: string[] = [];
  if (!silence.id || typeof silence.id !== 'string') problems.push('id: is empty');
  problems.push(...silenceMatcherProblems(silence.matchers));
  const epoch = (v: number) => Number.isSafeInteger(v) && v >= 0 && v <= MAX_EPOCH_MS;
  if (!epoch(silence.startsAt) || !epoch(silence.endsAt)) problems.push('startsAt, endsAt: must be epoch milliseconds');
  else if (silence.endsAt <= silence.startsAt) problems.push('endsAt: must be after startsAt');
  if (typeof silence.comment !== 'string' || silence.comment.length > LIMITS.commentLength) problems.push(`comment: at most ${LIMITS.commentLength} characters`);
  if (typeof silence.createdBy !== 'string' || silence.createdBy.length > LIMITS.nameLength) problems.push(`createdBy: at most ${LIMITS.nameLength} characters`);
  return problems;
}

/** Change listeners per database, so every store object on one database sees the others' writes. */
const listeners = new WeakMap<SqlDatabase, Set<() => void>>();

function notify(db: SqlDatabase): void {
  for (const listener of [...(listeners.get(db) ?? [])]) {
    try {
      listener();
    } catch {
      // a listener's failure is its own; the write happened
    }
  }
}

function toSilence(r: Row): Silence | undefined {
  let matchers: unknown;
  try {
    matchers = JSON.parse(r.matchers);
  } catch {
    return undefined;
  }
  if (!matchers || typeof matchers !== 'object' || Array.isArray(matchers)) return undefined;
  return { id: r.id, matchers: matchers as Record<string, string>, startsAt: r.starts_at, endsAt: r.ends_at, createdBy: r.created_by, comment: r.comment };
}

export function createSqliteSilenceStore(db: SqlDatabase): SilenceStore {
  const upsert = db.prepare(
    `INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
       created_by = excluded.created_by, comment = excluded.comment`,
  );
  const listActive = db.prepare(`SELECT * FROM silences WHERE ends_at > ? ORDER BY starts_at, id`);
  const listAll = db.prepare(`SELECT * FROM silences ORDER BY starts_at, id LIMIT ?`);
  // a silence planned to start later ends where it would have started, never before
  const greatest = dialectOf(db) === 'postgres' ? 'GREATEST' : 'MAX';
  const expire = db.prepare(`UPDATE silences SET ends_at = ${greatest}(?, starts_at) WHERE id = ? AND ends_at > ?`);
  const remove = db.prepare(`DELETE FROM silences WHERE id = ?`);

  return {
    listSilences(now, options) {
      const rows = (options?.all ? listAll.all(10_000) : listActive.all(now)) as Row[];
      return rows.map(toSilence).filter((s): s is Silence => s !== undefined);
    },
    addSilence(silence: Silence) {
      const problems = storedSilenceProblems(silence);
      if (problems.length) throw invalid(problems, `silence ${typeof silence.id === 'string' && silence.id ? silence.id : '(no id)'}`);
      upsert.run(silence.id, JSON.stringify(silence.matchers), silence.startsAt, silence.endsAt, silence.createdBy, silence.comment);
      notify(db);
    },
    expireSilence(id, now) {
      const changed = expire.run(now, id, now).changes > 0;
      if (changed) notify(db);
      return changed;
    },
    deleteSilence(id) {
      const changed = remove.run(id).changes > 0;
      if (changed) notify(db);
      return changed;
    },
    onChange(listener) {
      let set = listeners.get(db);
      if (!set) listeners.set(db, (set = new Set()));
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
  };
}
