import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  createDeltaFreshnessCheck,
  dataFreshnessTask,
  deltaFreshnessOptionsSchema,
  fmtSeconds,
  parseDeltaFreshnessOptions,
  type DeltaFreshnessCheck,
} from '../../../checks/delta-freshness';
import { parseCommit } from '../../../checks/delta-log';
import { parseStoreLocation } from '../../../checks/object-store';
import type { DeltaFacts, ProbeContext, Signal } from '../../../src/protocol';
import { commits, writeLocalCheckpointHint, writeLocalCommit } from '../../helpers/delta-writer';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const MIN = 60_000;

let dir: string;
let check: DeltaFreshnessCheck | undefined;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'delta-unit-'));
});
afterEach(async () => {
  await check?.close();
  check = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

function ctx(now = NOW): ProbeContext {
  return { signal: new AbortController().signal, now: () => now };
}

function makeCheck(options: Record<string, unknown> = {}): DeltaFreshnessCheck {
  check = createDeltaFreshnessCheck({ name: 'bronze_freshness', options: { path: dir, maxAge: 1800, ...options } });
  return check;
}

async function run(c: DeltaFreshnessCheck, now = NOW): Promise<{ signal: Signal; facts: DeltaFacts }> {
  const [signal] = await c.probe(ctx(now));
  expect(signal).toBeDefined();
  return { signal: signal!, facts: signal!.facts as DeltaFacts };
}

describe('delta freshness on a local table', () => {
  test('a missing table is crit and names the path', async () => {
    const { signal, facts } = await run(makeCheck({ path: path.join(dir, 'nope') }));
    expect(signal.status).toBe('crit');
    expect(signal.error?.code).toBe('SUP_ERR_DELTA_TABLE_MISSING');
    expect(signal.summary).toContain(path.join(dir, 'nope'));
    expect(facts.version).toBeNull();
    expect(facts.requests).toBe(2); // _last_checkpoint + one listing
  });

  test('fresh table: version, times, age and three requests', async () => {
    writeLocalCommit(dir, 0, commits.create(), NOW - 60 * MIN);
    writeLocalCommit(dir, 1, commits.write(), NOW - 30 * MIN);
    writeLocalCommit(dir, 2, commits.write(), NOW - 5 * MIN);
    const { signal, facts } = await run(makeCheck());
    expect(signal.status).toBe('ok');
    expect(signal.kind).toBe('delta_freshness');
    expect(signal.target).toBe(dir);
    expect(signal.value).toBeCloseTo(300, 0);
    expect(signal.threshold).toBe(1800);
    expect(facts).toMatchObject({
      version: 2,
      lastDataChangeVersion: 2,
      lastCommitAt: NOW - 5 * MIN,
      lastDataChangeAt: NOW - 5 * MIN,
      timeSource: 'lastModified',
      thresholdSeconds: 1800,
      requests: 3,
      checkpointVersion: null,
      lastOperation: 'WRITE',
    });
    expect(signal.summary).toMatch(/data last changed 5m ago at v2 \(threshold 30m\)/);
  });

  test('stale data is crit; warnAge gives warn', async () => {
    writeLocalCommit(dir, 0, commits.create(), NOW - 120 * MIN);
    writeLocalCommit(dir, 1, commits.write(), NOW - 40 * MIN);
    expect((await run(makeCheck())).signal.status).toBe('crit');
    await check!.close();
    expect((await run(makeCheck({ maxAge: 3600, warnAge: 1800 }))).signal.status).toBe('warn');
    await check!.close();
    expect((await run(makeCheck({ maxAge: 3600 }))).signal.status).toBe('ok');
  });

  test('OPTIMIZE, SET TBLPROPERTIES, VACUUM and empty streaming batches do not reset freshness', async () => {
    writeLocalCommit(dir, 0, commits.create(), NOW - 100 * MIN);
    writeLocalCommit(dir, 1, commits.write(), NOW - 90 * MIN);
    writeLocalCommit(dir, 2, commits.optimize(), NOW - 3 * MIN);
    writeLocalCommit(dir, 3, commits.setProperties(), NOW - 2 * MIN);
    writeLocalCommit(dir, 4, commits.vacuum(), NOW - 1 * MIN);
    writeLocalCommit(dir, 5, commits.emptyStreamingBatch(7), NOW - 0.5 * MIN);
    const c = makeCheck();
    const first = await run(c);
    expect(first.signal.status).toBe('crit');
    expect(first.facts).toMatchObject({ version: 5, lastDataChangeVersion: 1, lastDataChangeAt: NOW - 90 * MIN, lastCommitAt: NOW - 0.5 * MIN });
    // GET _last_checkpoint, LIST, GET v5, then walk back v4, v3, v2, v1
    expect(first.facts.requests).toBe(7);
    expect(first.signal.summary).toContain('newest commit v5 STREAMING UPDATE');

    // Steady state: nothing new → checkpoint hint + listing only.
    const second = await run(c, NOW + MIN);
    expect(second.facts).toMatchObject({ version: 5, lastDataChangeVersion: 1, requests: 2 });

    // A new OPTIMIZE: one GET for it, then the remembered answer.
    writeLocalCommit(dir, 6, commits.optimize(), NOW);
    const third = await run(c, NOW + 2 * MIN);
    expect(third.facts).toMatchObject({ version: 6, lastDataChangeVersion: 1, requests: 3 });

    // Two new commits, the older one writes data: GET v8 (optimize), GET v7 (write).
    writeLocalCommit(dir, 7, commits.write(), NOW + 2 * MIN);
    writeLocalCommit(dir, 8, commits.optimize(), NOW + 3 * MIN);
    const fourth = await run(c, NOW + 4 * MIN);
    expect(fourth.facts).toMatchObject({ version: 8, lastDataChangeVersion: 7, requests: 4 });
    expect(fourth.signal.status).toBe('ok');
    expect(fourth.signal.value).toBeCloseTo(120, 0);
  });

  test('data change in a remove with dataChange true (DELETE) counts', async () => {
    writeLocalCommit(dir, 0, commits.create(), NOW - 100 * MIN);
    writeLocalCommit(dir, 1, [{ commitInfo: { operation: 'DELETE' } }, { remove: { path: 'a.parquet', dataChange: true } }], NOW - 2 * MIN);
    const { facts } = await run(makeCheck());
    expect(facts.lastDataChangeVersion).toBe(1);
  });

  test('lists only after the checkpoint: older (even corrupt) commits are never read', async () => {
    for (let v = 0; v < 10; v++) writeLocalCommit(dir, v, v === 5 ? '{not json' : commits.write(), NOW - 100 * MIN);
    writeLocalCheckpointHint(dir, 10);
    writeLocalCommit(dir, 10, commits.write(), NOW - 20 * MIN);
    writeLocalCommit(dir, 11, commits.write(), NOW - 10 * MIN);
    const { signal, facts } = await run(makeCheck());
    expect(signal.status).toBe('ok');
    expect(facts).toMatchObject({ version: 11, checkpointVersion: 10, lastDataChangeVersion: 11, requests: 3 });
  });

  test('a stale _last_checkpoint hint still finds newer checkpoints and commits', async () => {
    writeLocalCheckpointHint(dir, 3);
    for (let v = 3; v <= 25; v++) writeLocalCommit(dir, v, commits.write(), NOW - (30 - v) * MIN);
    fs.writeFileSync(path.join(dir, '_delta_log', `${String(20).padStart(20, '0')}.checkpoint.parquet`), 'PAR1');
    fs.writeFileSync(path.join(dir, '_delta_log', `${String(24).padStart(20, '0')}.crc`), '{}');
    fs.writeFileSync(path.join(dir, '_delta_log', `${String(10).padStart(20, '0')}.${String(20).padStart(20, '0')}.compacted.json`), '{}');
    fs.mkdirSync(path.join(dir, '_delta_log', '_staged_commits'));
    fs.writeFileSync(path.join(dir, '_delta_log', '_staged_commits', `${String(26).padStart(20, '0')}.abc.json`), '{}');
    const { facts } = await run(makeCheck());
    expect(facts).toMatchObject({ version: 25, lastDataChangeVersion: 25, requests: 3 });
  });

  test('a corrupt _last_checkpoint is ignored (the protocol makes it a hint) and said so', async () => {
    writeLocalCheckpointHint(dir, '{"version": "x"');
    writeLocalCommit(dir, 0, commits.write(), NOW - MIN);
    const { signal, facts } = await run(makeCheck());
    expect(signal.status).toBe('ok');
    expect(facts.checkpointVersion).toBeNull();
    expect(signal.summary).toContain('ignored unreadable');
    expect(signal.summary).toContain('_last_checkpoint');
  });

  test('in-commit timestamps win over file times', async () => {
    writeLocalCommit(dir, 0, commits.create(NOW - 50 * MIN), NOW - 1 * MIN);
    writeLocalCommit(dir, 1, commits.write(NOW - 40 * MIN), NOW - 1 * MIN);
    writeLocalCommit(dir, 2, commits.optimize(NOW - 10 * MIN), NOW - 1 * MIN);
    const { signal, facts } = await run(makeCheck());
    expect(facts).toMatchObject({
      version: 2,
      lastCommitAt: NOW - 10 * MIN,
      lastDataChangeAt: NOW - 40 * MIN,
      lastDataChangeVersion: 1,
      timeSource: 'inCommitTimestamp',
    });
    expect(signal.status).toBe('crit');
    expect(signal.value).toBeCloseTo(2400, 0);
  });

  test('tables that enabled in-commit timestamps later mix both sources per commit', async () => {
    writeLocalCommit(dir, 0, commits.create(), NOW - 50 * MIN);
    writeLocalCommit(dir, 1, commits.write(), NOW - 20 * MIN);
    writeLocalCommit(
      dir,
      2,
      [{ commitInfo: { operation: 'SET TBLPROPERTIES', inCommitTimestamp: NOW - 5 * MIN } }, { metaData: { configuration: { 'delta.enableInCommitTimestamps': 'true' } } }],
      NOW,
    );
    const { facts } = await run(makeCheck());
    expect(facts).toMatchObject({ lastCommitAt: NOW - 5 * MIN, lastDataChangeAt: NOW - 20 * MIN, timeSource: 'lastModified' });
  });

  test('a corrupt newest commit is unknown and names the file and line', async () => {
    writeLocalCommit(dir, 0, commits.create(), NOW - MIN);
    writeLocalCommit(dir, 1, '{"commitInfo":{}}\n{"add": {"path": "x", "dataChange": tr', NOW);
    const { signal } = await run(makeCheck());
    expect(signal.status).toBe('unknown');
    expect(signal.error?.code).toBe('SUP_ERR_DELTA_CORRUPT');
    expect(signal.error?.message).toContain(path.join(dir, '_delta_log', '00000000000000000001.json'));
    expect(signal.error?.message).toContain('line 2');
  });

  test('a corrupt older commit met while walking back is unknown and names it', async () => {
    writeLocalCommit(dir, 0, commits.create(), NOW - MIN);
    writeLocalCommit(dir, 1, '[1,2]', NOW);
    writeLocalCommit(dir, 2, commits.optimize(), NOW);
    const { signal } = await run(makeCheck());
    expect(signal.status).toBe('unknown');
    expect(signal.error?.message).toMatch(/00000000000000000001\.json/);
    expect(signal.error?.message).toContain('not a JSON object');
  });

  test('an empty commit file is corrupt', async () => {
    writeLocalCommit(dir, 0, '', NOW);
    const { signal } = await run(makeCheck());
    expect(signal.status).toBe('unknown');
    expect(signal.error?.message).toContain('empty');
  });

  test('walk-back budget: a lower bound first, the answer on later runs', async () => {
    writeLocalCommit(dir, 0, commits.create(), NOW - 100 * MIN);
    writeLocalCommit(dir, 1, commits.write(), NOW - 20 * MIN);
    for (let v = 2; v <= 7; v++) writeLocalCommit(dir, v, commits.optimize(), NOW - (10 - v) * MIN);
    const c = makeCheck({ maxWalkBack: 2 });
    const first = await run(c);
    expect(first.signal.status).toBe('unknown');
    expect(first.facts).toMatchObject({ version: 7, lastDataChangeAt: null, lowerBound: 'walk-back-budget', requests: 5 });
    expect(first.signal.value).toBeCloseTo(5 * 60, 0); // at least as old as v5 (NOW - 5 min)
    expect(first.signal.summary).toContain('at least');
    const second = await run(c);
    expect(second.facts).toMatchObject({ lastDataChangeAt: null, requests: 4 }); // v4, v3
    const third = await run(c);
    expect(third.facts).toMatchObject({ lastDataChangeVersion: 1, requests: 4 }); // v2, v1
    expect(third.facts.lowerBound).toBeUndefined();
    const fourth = await run(c);
    expect(fourth.facts).toMatchObject({ lastDataChangeVersion: 1, requests: 2 });
  });

  test('a lower bound already above the threshold is crit', async () => {
    writeLocalCommit(dir, 0, commits.create(), NOW - 300 * MIN);
    writeLocalCommit(dir, 1, commits.write(), NOW - 200 * MIN);
    writeLocalCommit(dir, 2, commits.optimize(), NOW - 100 * MIN);
    writeLocalCommit(dir, 3, commits.optimize(), NOW - 90 * MIN);
    const { signal, facts } = await run(makeCheck({ maxWalkBack: 1 }));
    expect(signal.status).toBe('crit');
    expect(facts.lowerBound).toBe('walk-back-budget');
  });

  test('history removed before the last data change', async () => {
    writeLocalCheckpointHint(dir, 10);
    writeLocalCommit(dir, 10, commits.optimize(), NOW - 10 * MIN);
    writeLocalCommit(dir, 11, commits.vacuum(), NOW - 5 * MIN);
    const { signal, facts } = await run(makeCheck());
    expect(facts.lowerBound).toBe('history-removed');
    expect(signal.status).toBe('unknown');
    expect(signal.summary).toContain('oldest commit still in the log');
  });

  test('a table that never received data is warn', async () => {
    writeLocalCommit(dir, 0, commits.create(), NOW - 5 * MIN);
    const { signal, facts } = await run(makeCheck());
    expect(signal.status).toBe('warn');
    expect(facts.lowerBound).toBe('no-data-ever');
  });

  test('more commits than one listing page, no checkpoint: finds the newest, then stays cheap', async () => {
    const n = 2600;
    for (let v = 0; v < n; v++) writeLocalCommit(dir, v, v === 0 ? commits.create() : commits.write(), NOW - (n - v) * 1000);
    const c = makeCheck();
    const first = await run(c);
    expect(first.facts).toMatchObject({ version: n - 1, lastDataChangeVersion: n - 1 });
    expect(first.facts.requests).toBeLessThanOrEqual(8);
    expect(first.facts.requests).toBeGreaterThan(3);
    writeLocalCommit(dir, n, commits.write(), NOW);
    const second = await run(c);
    expect(second.facts).toMatchObject({ version: n, requests: 3 });
    const third = await run(c);
    expect(third.facts).toMatchObject({ version: n, requests: 2 });
  });

  test('a replaced table (versions went back) is re-read from scratch', async () => {
    for (let v = 0; v <= 5; v++) writeLocalCommit(dir, v, commits.write(), NOW - (10 - v) * MIN);
    const c = makeCheck();
    expect((await run(c)).facts.version).toBe(5);
    fs.rmSync(path.join(dir, '_delta_log'), { recursive: true });
    writeLocalCommit(dir, 0, commits.create(), NOW - 2 * MIN);
    writeLocalCommit(dir, 1, commits.write(), NOW - MIN);
    const { facts } = await run(c);
    expect(facts).toMatchObject({ version: 1, lastDataChangeVersion: 1 });
  });

  test('an aborted probe is unknown with a timeout code', async () => {
    writeLocalCommit(dir, 0, commits.write(), NOW);
    const ac = new AbortController();
    ac.abort(new Error('probe timed out after 20s'));
    const [signal] = await makeCheck().probe({ signal: ac.signal, now: () => NOW });
    expect(signal!.status).toBe('unknown');
    expect(signal!.error?.code).toBe('SUP_ERR_PROBE_TIMEOUT');
  });

  test('close() is idempotent and a closed check reports unknown', async () => {
    writeLocalCommit(dir, 0, commits.write(), NOW);
    const c = makeCheck();
    const p1 = c.close();
    expect(c.close()).toBe(p1);
    await p1;
    const { signal } = await run(c);
    expect(signal.status).toBe('unknown');
  });

  test('dataFreshnessTask: the seed operator (delta_path, max_age_minutes)', async () => {
    writeLocalCommit(dir, 0, commits.write(), NOW - 45 * MIN);
    const ok = await dataFreshnessTask({ delta_path: `file://${dir}`, max_age_minutes: 60 }, ctx());
    expect(ok.status).toBe('ok');
    expect(ok.threshold).toBe(3600);
    const stale = await dataFreshnessTask({ delta_path: dir, max_age_minutes: 30, name: 'check_bronze_freshness' }, ctx());
    expect(stale.status).toBe('crit');
    expect(stale.check).toBe('check_bronze_freshness');
  });
});

describe('options and parsing', () => {
  test('schema defaults and strictness', () => {
    const o = deltaFreshnessOptionsSchema.parse({ path: 's3a://delta-lake/bronze/domains', maxAge: 1800 });
    expect(o.s3).toMatchObject({ region: 'us-east-1', forcePathStyle: true, maxAttempts: 2 });
    expect(o.maxWalkBack).toBe(20);
    expect(deltaFreshnessOptionsSchema.safeParse({ path: '/x', maxAge: 10, max_age: 3 }).success).toBe(false);
    expect(deltaFreshnessOptionsSchema.safeParse({ path: '/x', maxAge: 10, s3: { endpont: 'x' } }).success).toBe(false);
    expect(deltaFreshnessOptionsSchema.safeParse({ path: '/x', maxAge: '30m' }).success).toBe(false);
    expect(deltaFreshnessOptionsSchema.safeParse({ path: '/x', maxAge: 10, s3: { accessKeyId: 'a' } }).success).toBe(false);
  });

  test('errors name the check and each problem', () => {
    expect(() => parseDeltaFreshnessOptions('gold', { path: 'hdfs://nn/x', maxAge: 10, warnAge: 20 })).toThrow(
      expect.objectContaining({
        code: 'SUP_ERR_CONFIG_INVALID',
        where: 'checks.gold',
        problems: expect.arrayContaining([expect.stringMatching(/^warnAge: /), expect.stringMatching(/^path: unsupported table URL scheme/)]),
      }),
    );
  });

  test('locations', () => {
    expect(parseStoreLocation('s3a://delta-lake/bronze/domains/')).toEqual({
      kind: 's3',
      bucket: 'delta-lake',
      prefix: 'bronze/domains',
      url: 's3://delta-lake/bronze/domains',
    });
    expect(parseStoreLocation('s3://b-1/')).toMatchObject({ bucket: 'b-1', prefix: '' });
    expect(parseStoreLocation('file:///tmp/a%20b')).toMatchObject({ kind: 'local', dir: '/tmp/a b' });
    expect(() => parseStoreLocation('s3://Bad_Bucket/x')).toThrow(/not a valid S3 bucket/);
  });

  test('parseCommit', () => {
    expect(parseCommit('{"commitInfo":{"inCommitTimestamp":5,"operation":"WRITE","timestamp":4}}\n{"add":{"dataChange":true}}', 'f')).toEqual({
      dataChange: true,
      inCommitTimestamp: 5,
      operation: 'WRITE',
      writerTimestamp: 4,
    });
    expect(parseCommit('{"add":{"dataChange":false}}\n\n{"remove":{"dataChange":false}}\n', 'f').dataChange).toBe(false);
    expect(() => parseCommit('{"add": 3}', 'f')).toThrow(/"add" is not an object/);
  });

  test('fmtSeconds', () => {
    expect(fmtSeconds(42)).toBe('42s');
    expect(fmtSeconds(192)).toBe('3m12s');
    expect(fmtSeconds(7200)).toBe('2h');
    expect(fmtSeconds(5400)).toBe('1h30m');
    expect(fmtSeconds(187200)).toBe('2d4h');
  });
});
