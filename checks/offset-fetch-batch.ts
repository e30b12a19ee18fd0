/**
 * Committed offsets of many consumer groups in one request per coordinator: OffsetFetch v8
 * (KIP-709, Kafka ≥ 3.0). kafkajs (2.2.4, its final release) speaks OffsetFetch up to v4, one
 * group per request, so an admin-mode lag cycle over 2,000 groups made 2,000 round trips and
 * was bound by kafkajs's per-request work (bench scenario 3). This sends the v8 request over the
 * connection kafkajs already holds to the coordinator and decodes the answer itself.
 *
 * Where the broker does not offer v8, or kafkajs's internals are not where this expects them,
 * `createBatchOffsetFetcher` returns null and the caller keeps kafkajs's per-group fetchOffsets.
 * A group the broker answers with an error comes back in `failed`, for the caller to fetch the
 * per-group way (kafkajs then retries and maps the error).
 *
 * Wire format (flexible version: compact strings and arrays, tagged fields):
 *   OffsetFetch Request (Version: 8) => [groups] require_stable TAG_BUFFER
 *     groups => group_id [topics] TAG_BUFFER            (topics null: every committed partition)
 *       topics => name [partition_indexes] TAG_BUFFER
 *   OffsetFetch Response (Version: 8) => throttle_time_ms [groups] TAG_BUFFER
 *     groups => group_id [topics] error_code TAG_BUFFER
 *       topics => name [partitions] TAG_BUFFER
 *         partitions => partition_index committed_offset committed_leader_epoch metadata error_code TAG_BUFFER
 */
import { SupervisorError } from '../src/protocol';
import { KafkaWireReader } from '../src/shared/kafka-wire';

export const OFFSET_FETCH_API_KEY = 9;
export const OFFSET_FETCH_BATCH_VERSION = 8;
/** Groups per request: a 2,000-group cycle is 4 requests, each answer well under a megabyte per 100 partitions a group. */
export const OFFSET_FETCH_BATCH_GROUPS = 500;

export interface GroupOffsetsRequest {
  groupId: string;
  /** Topics and their partitions to read; null reads every partition the group committed. */
  topics: ReadonlyArray<{ topic: string; partitions: readonly number[] }> | null;
}

export interface CommittedPartition {
  partition: number;
  /** -1: no committed offset. */
  offset: number;
}

export interface GroupOffsets {
  groupId: string;
  topics: Array<{ topic: string; partitions: CommittedPartition[] }>;
}

export interface BatchOffsetAnswer {
  groups: GroupOffsets[];
  /** Groups the broker answered with an error (group or partition level), with Kafka's error code. */
  failed: Array<{ groupId: string; errorCode: number }>;
  /** OffsetFetch requests sent. */
  requests: number;
}

export type BatchOffsetFetcher = (groups: readonly GroupOffsetsRequest[]) => Promise<BatchOffsetAnswer>;

// ---- encoding -------------------------------------------------------------------------------

class Writer {
  private buf = Buffer.allocUnsafe(4096);
  offset = 0;

  private room(n: number): void {
    if (this.offset + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.offset + n));
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  }

  uvarint(value: number): this {
    this.room(5);
    let v = value >>> 0;
    while (v >= 0x80) {
      this.buf[this.offset++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.offset++] = v;
    return this;
  }

  int32(value: number): this {
    this.room(4);
    this.offset = this.buf.writeInt32BE(value, this.offset);
    return this;
  }

  int8(value: number): this {
    this.room(1);
    this.offset = this.buf.writeInt8(value, this.offset);
    return this;
  }

  compactString(value: string): this {
    const len = Buffer.byteLength(value, 'utf8');
    this.uvarint(len + 1);
    this.room(len);
    this.offset += this.buf.write(value, this.offset, len, 'utf8');
    return this;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.offset);
  }
}

/**
 * The request body, preceded by the request header v2's empty tagged-field section: kafkajs
 * writes a v1 header (api key, version, correlation id, client id) and then this payload.
 */
export function encodeOffsetFetchV8(groups: readonly GroupOffsetsRequest[]): Buffer {
  const w = new Writer();
  w.uvarint(0); // header tagged fields
  w.uvarint(groups.length + 1);
  for (const g of groups) {
    w.compactString(g.groupId);
    if (g.topics === null) w.uvarint(0);
    else {
      w.uvarint(g.topics.length + 1);
      for (const t of g.topics) {
        w.compactString(t.topic);
        w.uvarint(t.partitions.length + 1);
        for (const p of t.partitions) w.int32(p);
        w.uvarint(0);
      }
    }
    w.uvarint(0);
  }
  w.int8(0); // require_stable: false, like kafkajs
  w.uvarint(0);
  return w.bytes();
}

// ---- decoding -------------------------------------------------------------------------------

/** Decodes the response body kafkajs hands over (everything after the correlation id). */
export function decodeOffsetFetchV8(body: Buffer): BatchOffsetAnswer {
  const r = new KafkaWireReader(body, 'OffsetFetch v8 answer', (message) => new SupervisorError('SUP_ERR_PROBE_FAILED', message, { where: 'kafka OffsetFetch' }));
  r.skipTaggedFields('response header');
  r.int32('throttle_time_ms');
  const groups: GroupOffsets[] = [];
  const failed: BatchOffsetAnswer['failed'] = [];
  const groupCount = r.compactArrayLength('groups');
  for (let g = 0; g < groupCount; g += 1) {
    const groupId = r.compactString('group_id') ?? '';
    const topics: GroupOffsets['topics'] = [];
    let partitionError = 0;
    const topicCount = r.compactArrayLength('topics');
    for (let t = 0; t < topicCount; t += 1) {
      const topic = r.compactString('topic name') ?? '';
      const partitions: CommittedPartition[] = [];
      const partitionCount = r.compactArrayLength('partitions');
      for (let p = 0; p < partitionCount; p += 1) {
        const partition = r.int32('partition_index');
        const offset = r.int64('committed_offset');
        r.int32('committed_leader_epoch');
        r.compactString('metadata');
        const errorCode = r.int16('partition error_code');
        r.skipTaggedFields('partition');
        if (errorCode !== 0) partitionError ||= errorCode;
        else partitions.push({ partition, offset });
      }
      r.skipTaggedFields('topic');
      topics.push({ topic, partitions });
    }
    const errorCode = r.int16('group error_code');
    r.skipTaggedFields('group');
    if (errorCode !== 0 || partitionError !== 0) failed.push({ groupId, errorCode: errorCode || partitionError });
    else groups.push({ groupId, topics });
  }
  r.skipTaggedFields('response');
  return { groups, failed, requests: 1 };
}

// ---- sending over kafkajs's connections ------------------------------------------------------

/** What this uses of a kafkajs Broker (its connection pool and the versions it negotiated). */
interface BrokerLike {
  nodeId: number | null;
  versions: Record<number, { minVersion: number; maxVersion: number }> | null;
  connectionPool: { send(req: unknown): Promise<unknown> };
}

export interface ClusterLike {
  findGroupCoordinator(args: { groupId: string }): Promise<unknown>;
}

/** A kafkajs Broker (as this expects it) that negotiated OffsetFetch v8 or later. */
function offersBatchVersion(b: unknown): b is BrokerLike {
  const x = b as Partial<BrokerLike> | null;
  if (!x || typeof x.connectionPool?.send !== 'function' || typeof x.versions !== 'object') return false;
  return (x.versions?.[OFFSET_FETCH_API_KEY]?.maxVersion ?? -1) >= OFFSET_FETCH_BATCH_VERSION;
}

/** The request object kafkajs's Connection.send expects. */
function offsetFetchRequest(groups: readonly GroupOffsetsRequest[], requestTimeout: number): unknown {
  const payload = encodeOffsetFetchV8(groups);
  return {
    request: {
      apiKey: OFFSET_FETCH_API_KEY,
      apiVersion: OFFSET_FETCH_BATCH_VERSION,
      apiName: 'OffsetFetch',
      // kafkajs's Encoder.writeEncoder reads `.buf` and `.buffer`
      encode: async () => ({ buf: payload, buffer: payload }),
    },
    response: {
      decode: async (body: Buffer) => decodeOffsetFetchV8(body),
      parse: async (answer: BatchOffsetAnswer) => answer,
    },
    requestTimeout,
  };
}

/**
 * A fetcher over `cluster` (the kafkajs admin's cluster), or null when the coordinator of
 * `probeGroup` does not offer OffsetFetch v8 or kafkajs is not shaped as expected.
 */
export async function createBatchOffsetFetcher(
  cluster: ClusterLike,
  probeGroup: string,
  options: { requestTimeoutMs?: number; groupsPerRequest?: number } = {},
): Promise<BatchOffsetFetcher | null> {
  const first = await cluster.findGroupCoordinator({ groupId: probeGroup });
  if (!offersBatchVersion(first)) return null;
  const perRequest = Math.max(1, options.groupsPerRequest ?? OFFSET_FETCH_BATCH_GROUPS);
  const timeout = options.requestTimeoutMs ?? 30_000;
  return async (groups) => {
    const byBroker = new Map<BrokerLike, GroupOffsetsRequest[]>();
    const answer: BatchOffsetAnswer = { groups: [], failed: [], requests: 0 };
    for (const g of groups) {
      const broker = await cluster.findGroupCoordinator({ groupId: g.groupId });
      // a coordinator without v8 (mixed-version cluster mid-upgrade): that group goes the per-group way
      if (!offersBatchVersion(broker)) {
        answer.failed.push({ groupId: g.groupId, errorCode: 35 }); // UNSUPPORTED_VERSION
        continue;
      }
      let list = byBroker.get(broker);
      if (!list) byBroker.set(broker, (list = []));
      list.push(g);
    }
    const sends: Array<Promise<void>> = [];
    for (const [broker, list] of byBroker) {
      for (let i = 0; i < list.length; i += perRequest) {
        const chunk = list.slice(i, i + perRequest);
        answer.requests += 1;
        sends.push(
          (broker.connectionPool.send(offsetFetchRequest(chunk, timeout)) as Promise<BatchOffsetAnswer>).then((part) => {
            answer.groups.push(...part.groups);
            answer.failed.push(...part.failed);
          }),
        );
      }
    }
    await Promise.all(sends);
    return answer;
  };
}
