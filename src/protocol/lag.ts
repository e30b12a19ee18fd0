/**
 * Consumer-offset commits flowing from the `__consumer_offsets` stream (streams/) to the lag
 * check (checks/). The stream produces `ConsumerOffsetsEvent`s; the composition root folds them
 * into a `CommitSource` (checks/lag-commit-store.ts) that the lag check reads — the stream and
 * the check never import each other.
 */
import type { SignalError } from './signal';

/** One offset commit, decoded from an `__consumer_offsets` record (key v0/v1, value v0-v4). */
export interface OffsetCommitEvent {
  type: 'commit';
  group: string;
  topic: string;
  partition: number;
  offset: number;
  /** Leader epoch of the committed position (value v3+), null when absent or -1. */
  leaderEpoch: number | null;
  metadata: string;
  /** Epoch ms the broker accepted the commit. */
  commitTimestamp: number;
  /** Epoch ms the commit expires (value v1 only), else null. */
  expireTimestamp: number | null;
}

/** A tombstone: the group's offset for this partition was deleted or expired. */
export interface OffsetDeleteEvent {
  type: 'delete';
  group: string;
  topic: string;
  partition: number;
}

export type CommitSourceState = 'catching_up' | 'live' | 'unavailable';

/**
 * The stream's own health: `catching_up` while replaying the topic from the beginning, `live`
 * once every partition reached the end offset seen at start, `unavailable` when the topic
 * can't be read (then the lag check falls back to admin offset fetches).
 */
export interface OffsetsSourceStateEvent {
  type: 'state';
  state: CommitSourceState;
  error?: SignalError;
}

export type ConsumerOffsetsEvent = OffsetCommitEvent | OffsetDeleteEvent | OffsetsSourceStateEvent;

/** One point of a partition's commit window. */
export interface CommitPoint {
  offset: number;
  /** Epoch ms of the commit. */
  timestamp: number;
}

/** Read side of the commit store: recent commits per group/topic/partition, oldest first. */
export interface CommitSource {
  state(): CommitSourceState;
  /** Groups with at least one live committed offset. */
  groups(): Iterable<string>;
  /** topic → partition → commit window (oldest first, newest last); undefined if never committed. */
  commits(group: string): ReadonlyMap<string, ReadonlyMap<number, readonly CommitPoint[]>> | undefined;
  /** The same windows read into typed arrays, without a point object (a packed store); undefined if never committed. */
  windows?(group: string): CommitWindows | undefined;
}

/** One group's commit windows, read without allocating (checks/lag-commit-store.ts). */
export interface CommitWindows {
  /** The longest window `read` returns. */
  maxLength: number;
  /** Topics the group committed on. */
  topics(): Iterable<string>;
  /** Copies a partition's window, oldest first, into the arrays (of at least `maxLength`); returns its length, 0 when the group never committed there. */
  read(topic: string, partition: number, offsets: Float64Array, timestamps: Float64Array): number;
}
