/**
 * Reads just enough of a Delta Lake transaction log to answer "when did the data last
 * change?" with a bounded number of object-store requests, whatever the log length:
 *
 *   1. GET `_delta_log/_last_checkpoint` (404 → no hint);
 *   2. one ListObjectsV2 with `StartAfter` = the checkpoint version (or the newest version
 *      this reader saw on its previous run, whichever is higher);
 *   3. GET the newest `NNNNNNNNNNNNNNNNNNNN.json` commit.
 *
 * A commit changes data when it has an `add` or `remove` action with `dataChange: true`
 * (OPTIMIZE/compaction writes them with `dataChange: false`, SET TBLPROPERTIES writes only
 * `metaData`, VACUUM only `commitInfo`). When the newest commit does not change data the
 * reader walks back one commit at a time (the file names are deterministic, so no listing)
 * with at most `maxWalkBack` GETs per run, and remembers what it learnt: the next run
 * resumes where this one stopped, and a steady state costs 2–3 requests.
 *
 * A listing page holds 1000 keys. When the log after the start point is longer than that
 * (no checkpoint, first run), the newest version is found by probing `StartAfter` at
 * exponentially growing, then bisected versions: O(log n) listings on the first run only.
 */
import { SupervisorError } from '../src/protocol';
import type { Logger } from '../src/protocol';
import type { ListPage, ObjectStore } from './object-store';

const LOG_DIR = '_delta_log/';
const COMMIT_RE = /^_delta_log\/(\d{20})\.json$/;
const VERSIONED_RE = /^_delta_log\/(\d{20})\./;
/** Upper bound of listings in one search (2^40 versions); protects against a misbehaving store. */
const MAX_LISTS = 40;

export type CommitTimeSource = 'inCommitTimestamp' | 'lastModified';

export interface CommitSummary {
  version: number;
  /** Epoch ms: `inCommitTimestamp` when the commit has one, else the object's LastModified. */
  time: number;
  timeSource: CommitTimeSource;
  dataChange: boolean;
  /** `commitInfo.operation` (diagnostic), e.g. WRITE, OPTIMIZE, SET TBLPROPERTIES. */
  operation: string | null;
  /** `commitInfo.timestamp` (diagnostic only: writer clock, not the commit time). */
  writerTimestamp: number | null;
  /** Object LastModified, used to notice a table replaced under the same version numbers. */
  lastModified: number;
}

export interface DeltaSnapshot {
  version: number;
  checkpointVersion: number | null;
  latest: CommitSummary;
  /** The newest data-changing commit, or null when it was not found (see `unresolved`). */
  lastDataChange: CommitSummary | null;
  /**
   * Set when `lastDataChange` is null: every commit from `noDataChangeSince` to the newest
   * was read and none changed data, so the data is older than `noDataChangeSince.time`.
   */
  unresolved: null | {
    reason: 'walk-back-budget' | 'history-removed' | 'no-data-ever';
    noDataChangeSince: { version: number; time: number };
  };
  /** Object-store requests this read made. */
  requests: number;
  /** Human notes (e.g. an unreadable `_last_checkpoint` that was ignored). */
  notes: string[];
}

export interface DeltaLogReaderParams {
  store: ObjectStore;
  /** GETs of older commits allowed per run when the newest commit did not change data. */
  maxWalkBack: number;
  logger: Logger;
}

export interface DeltaLogReader {
  read(signal?: AbortSignal): Promise<DeltaSnapshot>;
  /** Forget what previous runs learnt (tests, benchmarks). */
  reset(): void;
}

export function commitKey(version: number): string {
  return `${LOG_DIR}${String(version).padStart(20, '0')}.json`;
}

function versionPrefix(version: number): string {
  return `${LOG_DIR}${String(version).padStart(20, '0')}`;
}

interface ParsedCommit {
  dataChange: boolean;
  inCommitTimestamp: number | null;
  operation: string | null;
  writerTimestamp: number | null;
}

/**
 * Parses one commit file (newline-delimited JSON actions). Throws SUP_ERR_DELTA_CORRUPT
 * naming the file and line when a line is not a JSON object or the file has no action.
 */
export function parseCommit(body: Buffer | string, where: string): ParsedCommit {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  let dataChange = false;
  let inCommitTimestamp: number | null = null;
  let operation: string | null = null;
  let writerTimestamp: number | null = null;
  let actions = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '') continue;
    let action: unknown;
    try {
      action = JSON.parse(line);
    } catch (err) {
      throw new SupervisorError('SUP_ERR_DELTA_CORRUPT', `commit line ${i + 1} is not valid JSON (${(err as Error).message})`, {
        where,
      });
    }
    if (action === null || typeof action !== 'object' || Array.isArray(action)) {
      throw new SupervisorError('SUP_ERR_DELTA_CORRUPT', `commit line ${i + 1} is not a JSON object`, { where });
    }
    actions += 1;
    const a = action as Record<string, unknown>;
    for (const kind of ['add', 'remove'] as const) {
      const file = a[kind];
      if (file !== undefined) {
        if (file === null || typeof file !== 'object') {
          throw new SupervisorError('SUP_ERR_DELTA_CORRUPT', `commit line ${i + 1}: "${kind}" is not an object`, { where });
        }
        // `dataChange` is required by the protocol; a writer that omits it is treated as changing data.
        if ((file as Record<string, unknown>).dataChange !== false) dataChange = true;
      }
    }
    const info = a.commitInfo;
    if (info !== undefined && info !== null && typeof info === 'object') {
      const ci = info as Record<string, unknown>;
      if (typeof ci.inCommitTimestamp === 'number' && Number.isFinite(ci.inCommitTimestamp)) inCommitTimestamp = ci.inCommitTimestamp;
      if (typeof ci.operation === 'string') operation = ci.operation;
      if (typeof ci.timestamp === 'number' && Number.isFinite(ci.timestamp)) writerTimestamp = ci.timestamp;
    }
  }
  if (actions === 0) throw new SupervisorError('SUP_ERR_DELTA_CORRUPT', 'commit file is empty', { where });
  return { dataChange, inCommitTimestamp, operation, writerTimestamp };
}

interface Listed {
  version: number;
  key: string;
  lastModified: number;
}

interface Memory {
  latest: CommitSummary;
  lastDataChange: CommitSummary | null;
  /** When lastDataChange is null: versions [scannedDownTo.version, latest.version] changed no data. */
  scannedDownTo: { version: number; time: number } | null;
  /** Why the walk-back stopped before finding a data change (sticky once history is gone). */
  stopped: 'history-removed' | 'no-data-ever' | null;
}

export function createDeltaLogReader(params: DeltaLogReaderParams): DeltaLogReader {
  const { store, maxWalkBack, logger } = params;
  let memory: Memory | null = null;
  const whereOf = (key: string): string =>
    store.location.kind === 's3' ? `s3://${store.location.bucket}/${store.location.prefix ? `${store.location.prefix}/` : ''}${key}` : `${store.location.dir}/${key}`;

  async function readCheckpointHint(signal: AbortSignal | undefined, notes: string[]): Promise<number | null> {
    const key = `${LOG_DIR}_last_checkpoint`;
    const obj = await store.get(key, signal);
    if (obj === null) return null;
    try {
      const parsed: unknown = JSON.parse(obj.body.toString('utf8'));
      const v = (parsed as { version?: unknown } | null)?.version;
      if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
      throw new Error('no non-negative integer "version"');
    } catch (err) {
      // The protocol makes _last_checkpoint a hint: readers list the log when it is unusable.
      const note = `ignored unreadable ${whereOf(key)}: ${(err as Error).message}`;
      notes.push(note);
      logger.warn({ file: whereOf(key) }, 'unreadable _last_checkpoint ignored; listing the log instead');
      return null;
    }
  }

  /** One listing; returns the highest commit in it and where the page ends. */
  async function listFrom(startAfter: string | undefined, signal: AbortSignal | undefined) {
    const page: ListPage = await store.list({ prefix: LOG_DIR, ...(startAfter !== undefined ? { startAfter } : {}) }, signal);
    let best: Listed | null = null;
    for (const o of page.objects) {
      const m = COMMIT_RE.exec(o.key);
      if (m) {
        const version = Number(m[1]);
        if (best === null || version > best.version) best = { version, key: o.key, lastModified: o.lastModified };
      }
    }
    const lastObject = page.objects.length ? page.objects[page.objects.length - 1]?.key : undefined;
    const lastPrefix = page.commonPrefixes.length ? page.commonPrefixes[page.commonPrefixes.length - 1] : undefined;
    const lastKey = [lastObject, lastPrefix]
      .filter((k): k is string => k !== undefined)
      .sort()
      .pop();
    const lm = lastKey !== undefined ? VERSIONED_RE.exec(lastKey) : null;
    const empty = !page.objects.some((o) => VERSIONED_RE.test(o.key));
    return {
      best,
      truncated: page.truncated,
      empty,
      lastKey,
      /** Version of the page's last key, or null when the page ends past every versioned file. */
      lastVersion: lm ? Number(lm[1]) : null,
    };
  }

  /**
   * Finds the newest commit at or after `start` (null = the whole log). Returns null when
   * there is no commit file at all from there.
   */
  async function findNewest(start: number | null, signal: AbortSignal | undefined): Promise<Listed | null> {
    let lists = 0;
    let best: Listed | null = null;
    const probe = async (startAfter: string | undefined) => {
      lists += 1;
      if (lists > MAX_LISTS) {
        throw new SupervisorError('SUP_ERR_DELTA_CORRUPT', `gave up finding the newest commit after ${MAX_LISTS} listings`, {
          where: whereOf(LOG_DIR),
        });
      }
      const r = await listFrom(startAfter, signal);
      if (r.best && (best === null || r.best.version > best.version)) best = r.best;
      return r;
    };
    const first = await probe(start === null ? undefined : versionPrefix(start));
    if (!first.truncated || first.lastVersion === null) {
      if (!first.truncated) return best;
      // A full page of keys sorting before the versioned files (e.g. Hadoop `.N.json.crc`): page on.
      let r = first;
      while (r.truncated && r.lastVersion === null && r.lastKey !== undefined && r.lastKey < LOG_DIR + '0') r = await probe(r.lastKey);
      if (!r.truncated || r.lastVersion === null) return best;
      return searchFrom(r.lastVersion, start ?? 0);
    }
    return searchFrom(first.lastVersion, start ?? 0);

    // lo: a version with files at or after it beyond a full page; hi: a version with none at or after it.
    async function searchFrom(loStart: number, from: number): Promise<Listed | null> {
      let lo = loStart;
      let hi: number | null = null;
      let step = Math.max(1000, lo - from);
      for (;;) {
        if (hi !== null && hi - lo <= 1) {
          // Newest is `lo`'s neighbourhood yet the page is full: page linearly (bounded by MAX_LISTS).
          let r = await probe(versionPrefix(lo));
          while (r.truncated && r.lastKey !== undefined) r = await probe(r.lastKey);
          return best;
        }
        const at: number = hi === null ? lo + step : Math.floor((lo + hi) / 2);
        const r = await probe(versionPrefix(at));
        if (r.empty) {
          hi = at;
        } else if (!r.truncated || r.lastVersion === null) {
          return best;
        } else {
          lo = Math.max(r.lastVersion, at);
          if (hi === null) step *= 2;
        }
      }
    }
  }

  async function readCommit(version: number, listed: { lastModified: number } | null, signal: AbortSignal | undefined) {
    const key = commitKey(version);
    const obj = await store.get(key, signal);
    if (obj === null) return null;
    const parsed = parseCommit(obj.body, whereOf(key));
    // Prefer the listing's LastModified (millisecond precision on S3; GET's header has seconds).
    const lastModified = listed !== null && Number.isFinite(listed.lastModified) ? listed.lastModified : obj.lastModified;
    const useIct = parsed.inCommitTimestamp !== null;
    const time = useIct ? (parsed.inCommitTimestamp as number) : lastModified;
    if (!Number.isFinite(time)) {
      throw new SupervisorError('SUP_ERR_DELTA_CORRUPT', 'commit has no inCommitTimestamp and the store gave no LastModified', {
        where: whereOf(key),
      });
    }
    const summary: CommitSummary = {
      version,
      time,
      timeSource: useIct ? 'inCommitTimestamp' : 'lastModified',
      dataChange: parsed.dataChange,
      operation: parsed.operation,
      writerTimestamp: parsed.writerTimestamp,
      lastModified,
    };
    return summary;
  }

  async function read(signal?: AbortSignal): Promise<DeltaSnapshot> {
    const before = store.requestCount();
    const notes: string[] = [];
    const checkpointVersion = await readCheckpointHint(signal, notes);

    let remembered = memory;
    let start = Math.max(checkpointVersion ?? -1, remembered?.latest.version ?? -1);
    let newest = await findNewest(start >= 0 ? start : null, signal);
    if (newest === null && remembered !== null && start === remembered.latest.version && start > (checkpointVersion ?? -1)) {
      // The version we saw last time is gone: the table was replaced. Start afresh.
      logger.info({ table: store.location.url }, 'Delta log no longer has the last seen version; re-reading from the checkpoint');
      remembered = null;
      memory = null;
      start = checkpointVersion ?? -1;
      newest = await findNewest(start >= 0 ? start : null, signal);
    }
    if (newest === null) {
      if (checkpointVersion === null) {
        throw new SupervisorError('SUP_ERR_DELTA_TABLE_MISSING', `no Delta table at ${store.location.url}: no commit files in _delta_log`, {
          where: whereOf(LOG_DIR),
        });
      }
      throw new SupervisorError('SUP_ERR_DELTA_CORRUPT', `_last_checkpoint names version ${checkpointVersion} but no commit file exists from there`, {
        where: whereOf(LOG_DIR),
      });
    }

    let latest: CommitSummary;
    if (remembered !== null && remembered.latest.version === newest.version && remembered.latest.lastModified === newest.lastModified) {
      latest = remembered.latest;
    } else {
      if (remembered !== null && newest.version < remembered.latest.version) remembered = null;
      if (remembered !== null && remembered.latest.version === newest.version) remembered = null; // rewritten object
      const got = await readCommit(newest.version, newest, signal);
      if (got === null) {
        throw new SupervisorError('SUP_ERR_DELTA_CORRUPT', 'commit file was listed but could not be read (deleted meanwhile?)', {
          where: whereOf(newest.key),
          retryable: true,
        });
      }
      latest = got;
    }

    // Walk back to the newest data-changing commit.
    let lastDataChange: CommitSummary | null = latest.dataChange ? latest : null;
    let scannedDownTo: { version: number; time: number } | null = lastDataChange ? null : { version: latest.version, time: latest.time };
    let stopped: Memory['stopped'] = null;
    let budget = maxWalkBack;
    let v = latest.version - 1;
    while (lastDataChange === null && stopped === null) {
      if (remembered !== null && v <= remembered.latest.version) {
        // Everything at or below what we saw last time is already known.
        if (remembered.latest.dataChange || remembered.lastDataChange !== null) {
          lastDataChange = remembered.latest.dataChange ? remembered.latest : remembered.lastDataChange;
          break;
        }
        if (remembered.scannedDownTo !== null) {
          scannedDownTo = remembered.scannedDownTo;
          v = remembered.scannedDownTo.version - 1;
        }
        stopped = remembered.stopped;
        remembered = null;
        continue;
      }
      if (v < 0) {
        stopped = 'no-data-ever';
        break;
      }
      if (budget <= 0) break;
      budget -= 1;
      const commit = await readCommit(v, null, signal);
      if (commit === null) {
        stopped = 'history-removed';
        break;
      }
      if (commit.dataChange) lastDataChange = commit;
      else scannedDownTo = { version: commit.version, time: commit.time };
      v -= 1;
    }

    memory = { latest, lastDataChange, scannedDownTo: lastDataChange ? null : scannedDownTo, stopped: lastDataChange ? null : stopped };
    const requests = store.requestCount() - before;
    return {
      version: latest.version,
      checkpointVersion,
      latest,
      lastDataChange,
      unresolved: lastDataChange === null && scannedDownTo !== null ? { reason: stopped ?? 'walk-back-budget', noDataChangeSince: scannedDownTo } : null,
      requests,
      notes,
    };
  }

  return {
    read,
    reset: () => {
      memory = null;
    },
  };
}
