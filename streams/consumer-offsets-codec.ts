/**
 * Decoder for records of Kafka's internal `__consumer_offsets` topic (as Burrow and kminion's
 * offsets-topic mode read it). Pure functions over bytes.
 *
 * Key:   int16 version
 *        v0/v1 OffsetCommitKey: string group, string topic, int32 partition
 *        v2    GroupMetadataKey: string group             → skipped
 *        v3+   KIP-848 consumer-group records            → skipped
 * Value: int16 version (null value = tombstone: the offset was deleted or expired)
 *        v0: int64 offset, string metadata, int64 commitTimestamp
 *        v1: int64 offset, string metadata, int64 commitTimestamp, int64 expireTimestamp
 *        v2: int64 offset, string metadata, int64 commitTimestamp
 *        v3: int64 offset, int32 leaderEpoch, string metadata, int64 commitTimestamp
 *        v4: (flexible) int64 offset, int32 leaderEpoch, compact string metadata,
 *            int64 commitTimestamp, tagged fields
 * `string` is int16 length + UTF-8 (-1 = null); `compact string` is unsigned varint (length+1).
 */
import type { OffsetCommitEvent, OffsetDeleteEvent } from '../src/protocol';
import { KafkaWireReader } from '../src/shared/kafka-wire';

export class OffsetsDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OffsetsDecodeError';
  }
}

/** A wire reader over `buf` that throws OffsetsDecodeError, naming `what` and the field. */
function reader(buf: Buffer, what: string): KafkaWireReader & { requiredString(field: string): string } {
  const r = new KafkaWireReader(buf, what, (message) => new OffsetsDecodeError(message));
  return Object.assign(r, {
    requiredString(field: string): string {
      const s = r.string(field);
      if (s === null) throw new OffsetsDecodeError(`${what}: ${field} is null`);
      return s;
    },
  });
}

export interface OffsetCommitKey {
  group: string;
  topic: string;
  partition: number;
}

/** Decodes a key; returns null for keys that are not offset commits (group metadata, KIP-848). */
export function decodeOffsetsKey(key: Buffer): OffsetCommitKey | null {
  const r = reader(key, 'offsets key');
  const version = r.int16('key version');
  if (version === 0 || version === 1) {
    const group = r.requiredString('group');
    const topic = r.requiredString('topic');
    const partition = r.int32('partition');
    return { group, topic, partition };
  }
  if (version >= 2 && version <= 32) return null;
  throw new OffsetsDecodeError(`offsets key: unknown key version ${version}`);
}

export interface OffsetCommitValue {
  offset: number;
  leaderEpoch: number | null;
  metadata: string;
  commitTimestamp: number;
  expireTimestamp: number | null;
}

export function decodeOffsetsValue(value: Buffer): OffsetCommitValue {
  const r = reader(value, 'offsets value');
  const version = r.int16('value version');
  switch (version) {
    case 0:
    case 2: {
      const offset = r.int64('offset');
      const metadata = r.string('metadata') ?? '';
      const commitTimestamp = r.int64('commit timestamp');
      return { offset, leaderEpoch: null, metadata, commitTimestamp, expireTimestamp: null };
    }
    case 1: {
      const offset = r.int64('offset');
      const metadata = r.string('metadata') ?? '';
      const commitTimestamp = r.int64('commit timestamp');
      const expire = r.int64('expire timestamp');
      return { offset, leaderEpoch: null, metadata, commitTimestamp, expireTimestamp: expire < 0 ? null : expire };
    }
    case 3: {
      const offset = r.int64('offset');
      const epoch = r.int32('leader epoch');
      const metadata = r.string('metadata') ?? '';
      const commitTimestamp = r.int64('commit timestamp');
      return { offset, leaderEpoch: epoch < 0 ? null : epoch, metadata, commitTimestamp, expireTimestamp: null };
    }
    case 4: {
      const offset = r.int64('offset');
      const epoch = r.int32('leader epoch');
      const metadata = r.compactString('metadata') ?? '';
      const commitTimestamp = r.int64('commit timestamp');
      // Tagged fields (e.g. topic id) follow; nothing in them is needed here.
      return { offset, leaderEpoch: epoch < 0 ? null : epoch, metadata, commitTimestamp, expireTimestamp: null };
    }
    default:
      throw new OffsetsDecodeError(`offsets value: unknown value version ${version}`);
  }
}

/**
 * One `__consumer_offsets` record → a commit, a deletion (tombstone), or null when the record is
 * not about offsets. Throws OffsetsDecodeError (naming the field and byte) on malformed bytes.
 */
export function decodeConsumerOffsetsRecord(key: Buffer | null, value: Buffer | null): OffsetCommitEvent | OffsetDeleteEvent | null {
  if (!key) return null;
  const k = decodeOffsetsKey(key);
  if (!k) return null;
  if (!value || value.length === 0) return { type: 'delete', group: k.group, topic: k.topic, partition: k.partition };
  const v = decodeOffsetsValue(value);
  return { type: 'commit', ...k, ...v };
}

/* ---- Encoders (tests build byte fixtures with them, per the format above) ---- */

function str(s: string | null): Buffer {
  if (s === null) {
    const b = Buffer.alloc(2);
    b.writeInt16BE(-1);
    return b;
  }
  const body = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeInt16BE(body.length);
  return Buffer.concat([len, body]);
}
function i16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}
function i32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}
function i64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(n));
  return b;
}
function uvarint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

export function encodeOffsetsKey(version: 0 | 1, key: OffsetCommitKey): Buffer {
  return Buffer.concat([i16(version), str(key.group), str(key.topic), i32(key.partition)]);
}

export function encodeGroupMetadataKey(group: string): Buffer {
  return Buffer.concat([i16(2), str(group)]);
}

export function encodeOffsetsValue(
  version: 0 | 1 | 2 | 3 | 4,
  v: { offset: number; leaderEpoch?: number; metadata?: string | null; commitTimestamp: number; expireTimestamp?: number },
): Buffer {
  const meta = v.metadata === undefined ? '' : v.metadata;
  switch (version) {
    case 0:
    case 2:
      return Buffer.concat([i16(version), i64(v.offset), str(meta), i64(v.commitTimestamp)]);
    case 1:
      return Buffer.concat([i16(1), i64(v.offset), str(meta), i64(v.commitTimestamp), i64(v.expireTimestamp ?? -1)]);
    case 3:
      return Buffer.concat([i16(3), i64(v.offset), i32(v.leaderEpoch ?? -1), str(meta), i64(v.commitTimestamp)]);
    case 4: {
      const metaBytes = meta === null ? null : Buffer.from(meta, 'utf8');
      const compact = metaBytes === null ? uvarint(0) : Buffer.concat([uvarint(metaBytes.length + 1), metaBytes]);
      return Buffer.concat([i16(4), i64(v.offset), i32(v.leaderEpoch ?? -1), compact, i64(v.commitTimestamp), uvarint(0)]);
    }
  }
}
