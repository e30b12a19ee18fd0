/**
 * Fresh, collision-free names for test resources (topics, consumer groups, bucket prefixes,
 * Delta tables, subjects): prefix + pid + time + counter + random, restricted to characters every
 * one of those systems accepts ([a-z0-9-_]).
 */
import { randomBytes } from 'node:crypto';

let counter = 0;

export function freshName(prefix = 'test'): string {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'test';
  counter += 1;
  return `${clean}-${process.pid.toString(36)}-${Date.now().toString(36)}-${counter}-${randomBytes(3).toString('hex')}`;
}

/** A Kafka topic name (also valid as a schema-registry subject stem). */
export const freshTopic = (prefix = 'topic') => freshName(prefix);
/** A Kafka consumer group id. */
export const freshGroup = (prefix = 'group') => freshName(prefix);
/** A key prefix inside the shared bucket, ending in `/`. */
export const freshPrefix = (prefix = 'test') => `${freshName(prefix)}/`;
/** A Delta table name (underscores only: also a valid SQL identifier). */
export const freshTable = (prefix = 'table') => freshName(prefix).replace(/-/g, '_');
