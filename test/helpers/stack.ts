/**
 * Test access to the local stack: `ensureServices([...])` in a `beforeAll` starts what is
 * missing (installing it the first time) and reuses what runs; clients preconfigured for the
 * stack's endpoints. Processes started here are recorded with the jest session as owner
 * (STACK_OWNER, set by the global setup), so the global teardown stops exactly those.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { Kafka, logLevel } from 'kafkajs';
import { endpoints } from '../../stack/endpoints';
import { up } from '../../stack/manager';
import { stackS3Client } from '../../stack/services/s3';
import { stackPostgresConfig } from '../../stack/services/postgres';
import { consoleLog, type StackLog } from '../../stack/log';

export { endpoints, ports, HOST } from '../../stack/endpoints';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Generous default: a first run installs the service (Maven, apt, pip). */
export const STACK_TIMEOUT_MS = 20 * 60_000;

/** Progress only when something has to be installed or started (reuse stays quiet), or always with STACK_VERBOSE=1. */
const testLog = (): StackLog => {
  if (process.env.STACK_VERBOSE) return consoleLog('stack');
  const out = consoleLog('stack');
  return { info: (m) => (/already running/.test(m) ? undefined : out.info(m)), warn: (m) => out.warn(m) };
};

export async function ensureServices(names: readonly string[]): Promise<void> {
  await up(names, { log: testLog() });
}

export function kafkaClient(clientId = 'test'): Kafka {
  return new Kafka({ clientId, brokers: endpoints.kafkaBrokers.slice(), logLevel: logLevel.NOTHING, retry: { retries: 5 } });
}

/** An S3 client for the stack's server: the one the stack itself uses. */
export function s3Client(): S3Client {
  return stackS3Client();
}

/**
 * Connection settings for the stack's PostgreSQL (start it first with ensureServices(['postgres'])):
 * TLS verified against the stack's CA, the stack's database and user unless overridden.
 */
export const postgresConfig = stackPostgresConfig;
