/**
 * Consumer lag (anchors: Burrow, kafka-lag-exporter, kminion). One signal per watched group:
 * per topic/partition the committed offset, end offset, lag in messages, lag in seconds
 * (interpolated from the end-offset history), a Burrow status per partition and for the group
 * (the worst partition decides).
 *
 * One cycle:
 * 1. `listGroups` + topic metadata (one request each); groups selected by exact name or regex;
 * 2. commits: from the `CommitSource` fed by the `__consumer_offsets` stream when it is live
 *    (no per-group request at all), else `fetchOffsets` per group with bounded concurrency,
 *    folded into a window store of our own;
 * 3. end offsets: once per topic per cycle, shared by every group reading it, appended to each
 *    partition's (offset, time) table;
 * 4. evaluation: pure (lag-evaluator.ts, lag-interpolation.ts).
 * A group that never committed is NOTFOUND with lag null, never "zero lag".
 */
import { z } from 'zod';
import { compileLinearRegex, regexProblem } from '../src/shared/linear-regex';
import {
  SupervisorError,
  worstStatus,
  type CheckProbe,
  type CommitPoint,
  type CommitSource,
  type CommitWindows,
  type ConsumerLagFacts,
  type LagStatus,
  type Logger,
  type PartitionLag,
  type ProbeContext,
  type Signal,
  type Status,
} from '../src/protocol';
import { silentLogger } from '../src/shared/logger';
import {
  adminCluster,
  cacheGroupCoordinators,
  createKafkaClient,
  createManagedAdmin,
  durationMs,
  kafkaConnectionShape,
  mapLimit,
  resolveCheckConnection,
  type KafkaAdminApi,
} from './kafka-client';
import { createBatchOffsetFetcher, type BatchOffsetFetcher } from './offset-fetch-batch';
import { createCommitStore, DEFAULT_MIN_DISTANCE_MS, DEFAULT_WINDOW_SIZE, type CommitStore } from './lag-commit-store';
import { evaluatePacked, evaluatePartition, groupLagStatus, scratchFor } from './lag-evaluator';
import { addOffsetPoint, DEFAULT_TABLE_SIZE, type OffsetPoint } from './lag-interpolation';

/** A group-name regex: linear-time (RE2 syntax), length-limited, matched anywhere in the name (write ^…$ to anchor). */
const regexString = z.string().superRefine((s, ctx) => {
  const problem = regexProblem(s, 'search');
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const lagStatusNames = ['OK', 'WARN', 'STALL', 'STOP', 'REWIND', 'ERR', 'NOTFOUND'] as const;

export const DEFAULT_STATUS_MAP: Readonly<Record<LagStatus, Status>> = Object.freeze({
  OK: 'ok',
  WARN: 'warn',
  STALL: 'crit',
  STOP: 'crit',
  REWIND: 'warn',
  ERR: 'crit',
  NOTFOUND: 'warn',
});

export const consumerLagOptionsSchema = z.strictObject({
  ...kafkaConnectionShape,
  /** Groups always reported, by exact name (NOTFOUND if they never committed). */
  groups: z.array(z.string().min(1)).default([]),
  /** Regexes selecting more groups among those found; with neither `groups` nor `include`, all groups. */
  include: z.array(regexString).default([]),
  /** Regexes of groups never reported (the supervisor's own offsets reader by default). */
  exclude: z.array(regexString).default(['^pipeline-supervisor-offsets-']),
  /** Only these topics (empty: every topic the group committed on). */
  topics: z.array(z.string().min(1)).default([]),
  /** Where commits come from: the `__consumer_offsets` stream when live (`auto`), only it, or only admin fetches. */
  offsetSource: z.enum(['auto', 'consumer_offsets', 'admin']).default('auto'),
  /** Commits kept per partition for the Burrow rules. */
  windowSize: z.number().int().min(2).max(100).default(DEFAULT_WINDOW_SIZE),
  /** Commits closer together than this share one window slot. */
  minCommitDistance: durationMs.default(DEFAULT_MIN_DISTANCE_MS),
  /** End-offset points kept per partition for the time-lag interpolation. */
  endOffsetHistory: z.number().int().min(2).max(1000).default(DEFAULT_TABLE_SIZE),
  /** A lone commit this old while behind counts as STOP. */
  stopAfter: durationMs.default(600_000),
  /** Concurrent admin requests (per-group offset fetches, per-topic end offsets). */
  concurrency: z.number().int().min(1).max(100).default(10),
  /** Ask the coordinator for each group's state (Stable, Empty...). */
  describeGroups: z.boolean().default(true),
  /** Total lag (messages) above which the group's signal is at least `thresholdStatus`. */
  maxLag: z.number().int().nonnegative().optional(),
  /** Largest partition lag in seconds above which the signal is at least `thresholdStatus`. */
  maxLagSeconds: z.number().nonnegative().optional(),
  thresholdStatus: z.enum(['warn', 'crit']).default('warn'),
  /** Signal status for each Burrow status (defaults: STALL/STOP/ERR crit, WARN/REWIND/NOTFOUND warn). */
  statusMap: z.partialRecord(z.enum(lagStatusNames), z.enum(['ok', 'warn', 'crit'])).default({}),
});
export type ConsumerLagOptionsInput = z.input<typeof consumerLagOptionsSchema>;
export type ConsumerLagOptions = z.output<typeof consumerLagOptionsSchema>;

export const CONSUMER_LAG_DEFAULT_INTERVAL_MS = 15_000;
export const CONSUMER_LAG_DEFAULT_TIMEOUT_MS = 10_000;

export interface ConsumerLagCheckParams {
  name: string;
  options: ConsumerLagOptionsInput | ConsumerLagOptions;
  logger?: Logger;
  /** Commits from the `__consumer_offsets` stream (wired by the composition root). */
  commitSource?: CommitSource;
  intervalMs?: number;
  timeoutMs?: number;
  /** Replaces the kafkajs admin (unit tests). */
  createAdmin?: () => KafkaAdminApi;
}

/** What one cycle saw, besides the signals (for the benchmark and tests). */
export interface LagCycleStats {
  mode: 'consumer_offsets' | 'admin';
  groups: number;
  topics: number;
  partitions: number;
  offsetFetches: number;
  endOffsetFetches: number;
}

export interface ConsumerLagCheck extends CheckProbe {
  lastCycle(): LagCycleStats | null;
}

/** How long a group's coordinator is reused (see cacheGroupCoordinators). */
const COORDINATOR_TTL_MS = 5 * 60_000;

export function createConsumerLagCheck(params: ConsumerLagCheckParams): ConsumerLagCheck {
  const options = parseOptions(params.name, params.options);
  const logger = (params.logger ?? silentLogger).child({ component: 'checks', name: params.name });
  // TLS and secret files are read once, here; an OAUTHBEARER token is cached across runs
  const resolved = resolveCheckConnection(options, params.name);
  const createAdmin =
    params.createAdmin ?? ((): KafkaAdminApi => cacheGroupCoordinators(createKafkaClient(resolved, logger.child({ component: 'kafkajs' })), COORDINATOR_TTL_MS, (k) => k.admin()));
  const admin = createManagedAdmin({ name: params.name, brokers: options.brokers, connection: resolved.connection, createAdmin, logger });
  const include = options.include.map((r, i) => compileLinearRegex(r, `checks.${params.name}.include[${i}]`, 'search'));
  const exclude = options.exclude.map((r, i) => compileLinearRegex(r, `checks.${params.name}.exclude[${i}]`, 'search'));
  const exact = new Set(options.groups);
  const topicFilter = options.topics.length > 0 ? new Set(options.topics) : null;
  const statusMap: Record<LagStatus, Status> = { ...DEFAULT_STATUS_MAP, ...options.statusMap };
  /** Our own commit windows, filled from admin fetches when the stream isn't usable. */
  const fetched: CommitStore = createCommitStore({ windowSize: options.windowSize, minDistanceMs: 0, initialState: 'live' });
  /** End-offset tables per topic and partition (indexed by partition number), with the cycle number they were last updated. */
  const endTables = new Map<string, Array<{ table: OffsetPoint[]; cycle: number } | undefined>>();
  let cycle = 0;
  let stats: LagCycleStats | null = null;
  let lastMode: LagCycleStats['mode'] | null = null;

  /** Group states (Stable, Empty…) in batches of 200, `concurrency` batches in flight; empty when the broker refuses. */
  const describeStates = async (a: KafkaAdminApi, groups: readonly string[], signal: AbortSignal): Promise<Map<string, string>> => {
    const states = new Map<string, string>();
    if (!options.describeGroups || groups.length === 0) return states;
    const batches: string[][] = [];
    for (let i = 0; i < groups.length; i += 200) batches.push(groups.slice(i, i + 200));
    try {
      await mapLimit(batches, options.concurrency, async (batch) => {
        if (signal.aborted) return;
        const described = await a.describeGroups(batch);
        for (const d of described.groups) states.set(d.groupId, d.state);
      });
    } catch (err) {
      logger.debug({ err: String(err) }, 'describeGroups failed; group states omitted');
      states.clear();
    }
    return states;
  };

  /** Per admin connection: the OffsetFetch v8 fetcher, or null where the broker or client can't batch. */
  const batchFetchers = new WeakMap<KafkaAdminApi, Promise<BatchOffsetFetcher | null>>();
  const batchFetcherFor = (a: KafkaAdminApi, probeGroup: string): Promise<BatchOffsetFetcher | null> => {
    let f = batchFetchers.get(a);
    if (!f) {
      const cluster = adminCluster(a);
      f = cluster ? createBatchOffsetFetcher(cluster, probeGroup) : Promise.resolve(null);
      f.then(
        (fetcher) => logger.debug({ batched: fetcher !== null }, fetcher ? 'admin offset fetches batched (OffsetFetch v8)' : 'admin offset fetches one group per request'),
        () => batchFetchers.delete(a),
      );
      batchFetchers.set(a, f);
    }
    return f;
  };

  const selected = (group: string): boolean => {
    if (exact.has(group)) return true;
    if (exclude.some((r) => r.test(group))) return false;
    if (include.length === 0) return exact.size === 0;
    return include.some((r) => r.test(group));
  };

  const probe = async (ctx: ProbeContext): Promise<Signal[]> => {
    const startedAt = ctx.now();
    cycle += 1;
    const source = params.commitSource;
    const streamLive = source !== undefined && source.state() === 'live';
    if (options.offsetSource === 'consumer_offsets' && !streamLive) {
      throw new SupervisorError('SUP_ERR_PROBE_FAILED', source ? `the __consumer_offsets stream is ${source.state()}` : 'no __consumer_offsets stream is wired to this check', {
        where: `checks.${params.name}.offsetSource`,
      });
    }
    const mode: LagCycleStats['mode'] = options.offsetSource !== 'admin' && streamLive ? 'consumer_offsets' : 'admin';
    if (mode !== lastMode) {
      logger.info({ mode }, mode === 'admin' ? 'reading commits with admin offset fetches' : 'reading commits from the __consumer_offsets stream');
      lastMode = mode;
    }

    const result = await admin.use(async (a) => {
      const { groups, partitionsOf } = await selectGroups(a, () => (mode === 'consumer_offsets' ? source!.groups() : []));
      // group states are independent of the commits and end offsets: asked for alongside them
      const describing = describeStates(a, groups, ctx.signal);
      const { commitsOf, offsetFetches } = mode === 'consumer_offsets' ? { commitsOf: commitsFrom(source!), offsetFetches: 0 } : await fetchCommits(a, groups, partitionsOf, ctx);
      const { topicsOfGroup, needed } = topicsToJudge(groups, commitsOf, options.topics, topicFilter, partitionsOf);
      const ends = await fetchEndOffsets(a, needed, ctx);
      const states = await describing;
      return { groups, topicsOfGroup, partitionsOf, ends, commitsOf, states, offsetFetches, endOffsetFetches: needed.length };
    }, ctx.signal);

    const now = ctx.now();
    let partitionCount = 0;
    const signals = result.groups.map((group) => {
      const { partitions, problems } = evaluateGroup(
        result.topicsOfGroup.get(group) ?? [],
        result.partitionsOf,
        result.ends,
        result.commitsOf(group),
        (topic, partition) => endTables.get(topic)?.[partition]?.table ?? NO_HISTORY,
        now,
        options.stopAfter,
      );
      partitionCount += partitions.length;
      return buildSignal({ check: params.name, group, partitions, problems, groupState: result.states.get(group), options, statusMap, startedAt, now });
    });
    stats = {
      mode,
      groups: result.groups.length,
      topics: result.endOffsetFetches,
      partitions: partitionCount,
      offsetFetches: result.offsetFetches,
      endOffsetFetches: result.endOffsetFetches,
    };
    return signals.length === 0 ? [noGroupSignal(params.name, startedAt, now)] : signals;
  };

  /** Select groups: the configured ones, the listed ones (and the stream's) that the include/exclude filters select; the topics' partitions. */
  const selectGroups = async (a: KafkaAdminApi, streamGroups: () => Iterable<string>): Promise<{ groups: string[]; partitionsOf: Map<string, number[]> }> => {
    const [listed, metadata] = await Promise.all([a.listGroups(), a.fetchTopicMetadata()]);
    const partitionsOf = new Map(metadata.topics.map((t) => [t.name, t.partitions.map((p) => p.partitionId).sort((x, y) => x - y)]));
    const groupNames = new Set<string>(options.groups);
    for (const g of listed.groups) if (selected(g.groupId)) groupNames.add(g.groupId);
    for (const g of streamGroups()) if (selected(g)) groupNames.add(g);
    return { groups: [...groupNames].sort(), partitionsOf };
  };

  /** Fetch commits with admin offset fetches (batched per coordinator when offered) into our own windows. */
  const fetchCommits = async (
    a: KafkaAdminApi,
    groups: readonly string[],
    partitionsOf: ReadonlyMap<string, number[]>,
    ctx: ProbeContext,
  ): Promise<{ commitsOf: CommitsOf; offsetFetches: number }> => {
    let offsetFetches = 0;
    const now = ctx.now();
    const fold = (groupId: string, answer: ReadonlyArray<{ topic: string; partitions: ReadonlyArray<{ partition: number; offset: number | string }> }>): void => {
      for (const t of answer) {
        for (const p of t.partitions) {
          const offset = Number(p.offset);
          if (offset >= 0) fetched.record(groupId, t.topic, p.partition, { offset, timestamp: now });
          else fetched.remove(groupId, t.topic, p.partition);
        }
      }
    };
    const filtered = topicFilter ? [...topicFilter].filter((t) => partitionsOf.has(t)) : null;
    // one OffsetFetch v8 per coordinator when the broker offers it; per group otherwise
    let perGroup: readonly string[] = groups;
    const batch = groups.length > 0 ? await batchFetcherFor(a, groups[0]!) : null;
    if (batch) {
      const topics = filtered ? filtered.map((topic) => ({ topic, partitions: partitionsOf.get(topic)! })) : null;
      const answer = await batch(groups.map((groupId) => ({ groupId, topics })));
      offsetFetches += answer.requests;
      for (const g of answer.groups) fold(g.groupId, g.topics);
      perGroup = answer.failed.map((f) => f.groupId);
      if (perGroup.length > 0)
        logger.debug({ groups: perGroup.length, errorCode: answer.failed[0]!.errorCode }, 'batched offset fetch answered some groups with an error; fetching those one by one');
    }
    await mapLimit(perGroup, options.concurrency, async (groupId) => {
      if (ctx.signal.aborted) return;
      offsetFetches += 1;
      fold(groupId, await a.fetchOffsets(filtered ? { groupId, topics: filtered } : { groupId }));
    });
    fetched.retainGroups(new Set(groups));
    return { commitsOf: commitsFrom(fetched), offsetFetches };
  };

  /** Fetch end offsets once per needed topic; remember them in the end-offset tables (forgetting partitions nobody watched for a while). */
  const fetchEndOffsets = async (a: KafkaAdminApi, needed: readonly string[], ctx: ProbeContext): Promise<Map<string, Map<number, number>>> => {
    const ends = new Map<string, Map<number, number>>();
    await mapLimit(needed, options.concurrency, async (topic) => {
      if (ctx.signal.aborted) return;
      const offsets = await a.fetchTopicOffsets(topic);
      ends.set(topic, new Map(offsets.map((o) => [o.partition, Number(o.high)])));
    });
    const readAt = ctx.now();
    for (const [topic, parts] of ends) {
      let tables = endTables.get(topic);
      if (!tables) endTables.set(topic, (tables = []));
      for (const [partition, high] of parts) {
        let entry = tables[partition];
        if (!entry) tables[partition] = entry = { table: [], cycle };
        addOffsetPoint(entry.table, { offset: high, time: readAt }, options.endOffsetHistory);
        entry.cycle = cycle;
      }
    }
    if (cycle % 10 === 0)
      for (const [topic, tables] of endTables) {
        tables.forEach((entry, partition) => {
          if (entry && cycle - entry.cycle > 10) tables[partition] = undefined;
        });
        if (!tables.some((entry) => entry !== undefined)) endTables.delete(topic);
      }
    return ends;
  };

  return {
    name: params.name,
    kind: 'consumer_lag',
    intervalMs: params.intervalMs ?? CONSUMER_LAG_DEFAULT_INTERVAL_MS,
    timeoutMs: params.timeoutMs ?? CONSUMER_LAG_DEFAULT_TIMEOUT_MS,
    probe,
    close: () => admin.close(),
    lastCycle: () => stats,
  };
}

/** A group's commits: the windows as arrays of points, or read into typed arrays from a packed store. */
type GroupCommits = ReadonlyMap<string, ReadonlyMap<number, readonly CommitPoint[]>> | CommitWindows;
type CommitsOf = (group: string) => GroupCommits | undefined;

/** A source's packed windows when it has them (no point objects per cycle), else its arrays of points. */
const commitsFrom =
  (source: CommitSource): CommitsOf =>
  (group) =>
    source.windows ? source.windows(group) : source.commits(group);

const isPacked = (c: GroupCommits): c is CommitWindows => typeof (c as Partial<CommitWindows>).read === 'function';

/** Topics each group is judged on (configured + committed, within the topic filter), and the existing ones among them (end offsets fetched once per topic). */
export function topicsToJudge(
  groups: readonly string[],
  commitsOf: CommitsOf,
  configured: readonly string[],
  topicFilter: ReadonlySet<string> | null,
  partitionsOf: ReadonlyMap<string, readonly number[]>,
): { topicsOfGroup: Map<string, string[]>; needed: string[] } {
  const topicsOfGroup = new Map<string, string[]>();
  const needed = new Set<string>();
  for (const g of groups) {
    const committed = commitsOf(g);
    const topics = new Set<string>(configured);
    if (committed) for (const t of isPacked(committed) ? committed.topics() : committed.keys()) if (!topicFilter || topicFilter.has(t)) topics.add(t);
    const list = [...topics].sort();
    topicsOfGroup.set(g, list);
    for (const t of list) if (partitionsOf.has(t)) needed.add(t);
  }
  return { topicsOfGroup, needed: [...needed].sort() };
}

/** Evaluate one group: the lag of each partition of its topics; a topic that does not exist is a problem. */
export function evaluateGroup(
  topics: readonly string[],
  partitionsOf: ReadonlyMap<string, readonly number[]>,
  ends: ReadonlyMap<string, ReadonlyMap<number, number>>,
  committed: GroupCommits | undefined,
  endHistoryOf: (topic: string, partition: number) => readonly OffsetPoint[],
  now: number,
  stopAfterMs: number,
): { partitions: PartitionLag[]; problems: string[] } {
  const partitions: PartitionLag[] = [];
  const problems: string[] = [];
  const packed = committed && isPacked(committed) ? committed : null;
  const window = packed ? scratchFor(packed.maxLength) : null;
  const rules = { stopAfterMs };
  for (const topic of topics) {
    const ids = partitionsOf.get(topic);
    const topicEnds = ends.get(topic);
    if (!ids || !topicEnds) {
      problems.push(`topic ${topic} does not exist`);
      continue;
    }
    for (const partition of ids) {
      const endOffset = topicEnds.get(partition);
      if (endOffset === undefined) continue;
      if (packed) {
        const n = packed.read(topic, partition, window!.offsets, window!.timestamps);
        partitions.push(evaluatePacked(topic, partition, n, window!.offsets, window!.timestamps, endOffset, endHistoryOf(topic, partition), now, rules));
        continue;
      }
      const points = (committed as Exclude<GroupCommits, CommitWindows> | undefined)?.get(topic)?.get(partition) ?? [];
      partitions.push(evaluatePartition({ topic, partition, window: points, endOffset, endHistory: endHistoryOf(topic, partition) }, now, rules));
    }
  }
  return { partitions, problems };
}

/** The end-offset history of a partition not read yet (never written to). */
const NO_HISTORY: readonly OffsetPoint[] = Object.freeze([]);

/** The one signal of a cycle in which no consumer group matched the selection. */
export function noGroupSignal(check: string, startedAt: number, now: number): Signal {
  return {
    check,
    kind: 'consumer_lag',
    target: '*',
    labels: {},
    status: 'ok',
    value: 0,
    unit: 'messages',
    observedAt: now,
    durationMs: now - startedAt,
    summary: 'no consumer group matches the selection',
  };
}

interface BuildParams {
  check: string;
  group: string;
  partitions: PartitionLag[];
  problems: string[];
  groupState: string | undefined;
  options: ConsumerLagOptions;
  statusMap: Record<LagStatus, Status>;
  startedAt: number;
  now: number;
}

function buildSignal(p: BuildParams): Signal {
  const lagStatus: LagStatus = p.problems.length > 0 ? 'ERR' : groupLagStatus(p.partitions);
  let totalLag = 0;
  let maxLagSeconds: number | null = null;
  for (const part of p.partitions) {
    if (part.lag !== null) totalLag += part.lag;
    if (part.lagSeconds !== null) maxLagSeconds = Math.max(maxLagSeconds ?? 0, part.lagSeconds);
  }
  const statuses: Status[] = [p.statusMap[lagStatus]];
  const reasons: string[] = [...p.problems];
  if (p.options.maxLag !== undefined && lagStatus !== 'NOTFOUND' && totalLag > p.options.maxLag) {
    statuses.push(p.options.thresholdStatus);
    reasons.push(`lag ${totalLag} > ${p.options.maxLag} messages`);
  }
  if (p.options.maxLagSeconds !== undefined && maxLagSeconds !== null && maxLagSeconds > p.options.maxLagSeconds) {
    statuses.push(p.options.thresholdStatus);
    reasons.push(`${Math.round(maxLagSeconds)} s behind > ${p.options.maxLagSeconds} s`);
  }
  const facts: ConsumerLagFacts = {
    kind: 'consumer_lag',
    group: p.group,
    status: lagStatus,
    totalLag,
    maxLagSeconds,
    partitions: p.partitions,
    ...(p.groupState !== undefined ? { groupState: p.groupState } : {}),
  };
  // the first five partitions that are neither OK nor NOTFOUND, and how many there are
  const bad: string[] = [];
  let badCount = 0;
  for (const x of p.partitions) {
    if (x.status === 'OK' || x.status === 'NOTFOUND') continue;
    if (badCount++ < 5) bad.push(`${x.topic}[${x.partition}] ${x.status}`);
  }
  let summary: string;
  if (lagStatus === 'NOTFOUND') {
    summary = `group ${p.group} has never committed an offset${p.options.topics.length > 0 ? ` on ${p.options.topics.join(', ')}` : ''}`;
  } else {
    const seconds = maxLagSeconds === null ? '' : ` (~${Math.round(maxLagSeconds)} s behind)`;
    summary = `group ${p.group} ${lagStatus}: lag ${totalLag} messages${seconds} over ${p.partitions.length} partitions`;
    if (badCount > 0) summary += `; ${bad.join(', ')}${badCount > 5 ? ` and ${badCount - 5} more` : ''}`;
  }
  if (reasons.length > 0) summary += `; ${reasons.join('; ')}`;
  return {
    check: p.check,
    kind: 'consumer_lag',
    target: p.group,
    labels: { group: p.group },
    status: worstStatus(statuses),
    ...(lagStatus === 'NOTFOUND' ? {} : { value: totalLag }),
    unit: 'messages',
    ...(p.options.maxLag !== undefined ? { threshold: p.options.maxLag } : {}),
    observedAt: p.now,
    durationMs: p.now - p.startedAt,
    summary,
    facts,
  };
}

function parseOptions(name: string, raw: unknown): ConsumerLagOptions {
  const parsed = consumerLagOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `check ${name}: invalid consumer_lag options`, {
      where: `checks.${name}`,
      problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`),
    });
  }
  return Object.freeze(parsed.data);
}
