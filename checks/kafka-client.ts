/**
 * The one place the Kafka checks get a Kafka connection from: connection options (validated
 * with zod), a kafkajs client whose logs go to the injected Logger, and a long-lived admin that
 * is connected lazily, kept between runs, and rebuilt after a connection failure (broker
 * restart, network loss). No RxJS, no timers of its own.
 */
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { z } from 'zod';
import { SupervisorError, describeError, type Logger } from '../src/protocol';
import { durationMs as sharedDurationMs, timerDurationMs } from '../src/shared/duration';
import {
  describeKafkaError,
  kafkaClientConfig,
  kafkaLogCreator,
  kafkaSaslSchema,
  kafkaSslSchema,
  resolveKafkaConnection,
  type KafkaConnection,
} from '../src/shared/kafka-connection';

/** Durations in check options: the one duration parser (a bare number is seconds, as everywhere else). */
export const durationMs = sharedDurationMs;

/** Connection fields shared by every Kafka check (spread into each check's options schema). */
export const kafkaConnectionShape = {
  /** Bootstrap servers, `host:port`. A comma-separated string is accepted too. */
  brokers: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((b) => b.trim()).filter((b) => b.length > 0))
    .pipe(z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'a broker is host:port')).min(1, 'at least one broker is needed')),
  clientId: z.string().min(1).default('pipeline-supervisor'),
  /** true, or TLS files (`caFile`, `certFile`, `keyFile`, `keyPassword(File)`, `servername`, `rejectUnauthorized`); inline PEM `ca`/`cert`/`key` too. */
  ssl: kafkaSslSchema.optional(),
  /** plain / scram-sha-256 / scram-sha-512 (username, password) or oauthbearer (token endpoint, client id/secret, scope). */
  sasl: kafkaSaslSchema.optional(),
  /** kafkajs hands these to setTimeout: at most one timer's reach. */
  connectionTimeout: timerDurationMs.default(3000),
  requestTimeout: timerDurationMs.default(10_000),
  /** kafkajs retries per request; low, because the scheduler runs the check again soon. */
  retries: z.number().int().min(0).max(10).default(1),
};

export const kafkaConnectionSchema = z.strictObject(kafkaConnectionShape);
export type KafkaConnectionOptions = z.output<typeof kafkaConnectionSchema>;

/** A check's connection: the TLS and secret files read once (at check creation), the OAUTHBEARER token cache. */
export interface CheckKafkaConnection {
  connection: KafkaConnection;
  retries: number;
}

/** Resolves a check's connection options once; errors name `checks.<name>.ssl.ca_file` and the like. */
export function resolveCheckConnection(options: KafkaConnectionOptions, name: string): CheckKafkaConnection {
  return { connection: resolveKafkaConnection(options, `checks.${name}`), retries: options.retries };
}

/**
 * Builds a kafkajs client whose log lines go to `logger` (INFO and below as debug; never SASL
 * fields). Takes a resolved connection (`resolveCheckConnection`), or options that are then
 * resolved here (their files read on each call).
 */
export function createKafkaClient(options: KafkaConnectionOptions | CheckKafkaConnection, logger: Logger): Kafka {
  const resolved = 'connection' in options ? options : { connection: resolveKafkaConnection(options, 'check'), retries: options.retries };
  return new Kafka(
    kafkaClientConfig(resolved.connection, {
      retry: { retries: resolved.retries, initialRetryTime: 200, maxRetryTime: 2000 },
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator(logger),
    }),
  );
}

const ADMIN_CLUSTER = Symbol('kafkajs admin cluster');

/**
 * The kafkajs cluster behind an admin made by `cacheGroupCoordinators` (with its coordinator
 * cache), for requests kafkajs has no API for (offset-fetch-batch.ts); undefined otherwise.
 */
export function adminCluster(admin: object): { findGroupCoordinator(args: { groupId: string }): Promise<unknown> } | undefined {
  return (admin as Record<symbol, { findGroupCoordinator(args: { groupId: string }): Promise<unknown> } | undefined>)[ADMIN_CLUSTER];
}

/**
 * kafkajs's admin sends one FindCoordinator request before every per-group call (fetchOffsets,
 * describeGroups) and keeps no answer, so a lag cycle over 2,000 groups made 2,000–4,000 extra
 * round trips. This memoizes each group's coordinator in the clusters `kafka` creates, for
 * `ttlMs`. A coordinator moves only when its __consumer_offsets partition changes leader;
 * any failed admin call empties the cache, so the next call asks again.
 * kafkajs (2.2.4, its final release) has no option for this: the hook is its private
 * createCluster symbol, and without it the client works as before.
 */
export function cacheGroupCoordinators<A extends object>(kafka: Kafka, ttlMs: number, makeAdmin: (k: Kafka) => A, now: () => number = Date.now): A {
  type Cluster = { findGroupCoordinator(args: { groupId: string; coordinatorType?: number }): Promise<unknown> };
  const host = kafka as unknown as Record<symbol, ((opts: unknown) => Cluster) | undefined>;
  const key = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const createCluster = key ? host[key] : undefined;
  if (!key || typeof createCluster !== 'function') return makeAdmin(kafka);
  const cache = new Map<string, { broker: Promise<unknown>; until: number }>();
  let created: Cluster | undefined;
  host[key] = (opts: unknown) => {
    const cluster = createCluster(opts);
    created = cluster;
    const find = cluster.findGroupCoordinator.bind(cluster);
    cluster.findGroupCoordinator = (args) => {
      if ((args.coordinatorType ?? 0) !== 0) return find(args);
      const hit = cache.get(args.groupId);
      if (hit && hit.until > now()) return hit.broker;
      const broker = find(args);
      cache.set(args.groupId, { broker, until: now() + ttlMs });
      broker.catch(() => cache.delete(args.groupId));
      return broker;
    };
    return cluster;
  };
  const admin = makeAdmin(kafka);
  if (created) Object.defineProperty(admin, ADMIN_CLUSTER, { value: created });
  // a failed call may mean a coordinator moved: forget them all
  for (const method of ['fetchOffsets', 'describeGroups'] as const) {
    const target = admin as unknown as Record<string, ((...args: unknown[]) => Promise<unknown>) | undefined>;
    const original = target[method];
    if (typeof original !== 'function') continue;
    target[method] = (...args: unknown[]) =>
      original.apply(admin, args).catch((err: unknown) => {
        cache.clear();
        throw err;
      });
  }
  return admin;
}

/** Errors that mean "the cluster could not be reached" rather than "the request was wrong". */
export function isKafkaConnectionError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth += 1) {
    const name = e.name;
    if (
      name === 'KafkaJSConnectionError' ||
      name === 'KafkaJSConnectionClosedError' ||
      name === 'KafkaJSRequestTimeoutError' ||
      name === 'KafkaJSBrokerNotFound' ||
      name === 'KafkaJSNoBrokerAvailableError' ||
      name === 'KafkaJSMetadataNotLoaded' ||
      /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|Connection timeout|Closed connection|not connected/i.test(e.message)
    )
      return true;
    e = (e as Error & { originalError?: unknown }).originalError ?? e.cause;
  }
  return false;
}

/** Rejects as soon as `signal` aborts; the underlying promise is left to settle on its own. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        // kafkajs rejects with Errors; anything else is wrapped so callers always get one
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const err = new Error('aborted');
  err.name = 'AbortError';
  return err;
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}

/** The part of the kafkajs admin the checks use (a fake implements it in unit tests). */
export type KafkaAdminApi = Pick<
  Admin,
  'connect' | 'disconnect' | 'describeCluster' | 'fetchTopicMetadata' | 'fetchTopicOffsets' | 'listGroups' | 'describeGroups' | 'fetchOffsets'
>;

export interface ManagedAdmin {
  /**
   * Runs `fn` with a connected admin. A connection failure drops the admin so the next call
   * connects afresh (after a broker restart), and is rethrown as SUP_ERR_KAFKA_UNREACHABLE.
   */
  use<T>(fn: (admin: KafkaAdminApi) => Promise<T>, signal: AbortSignal): Promise<T>;
  close(): Promise<void>;
}

export interface ManagedAdminParams {
  /** Names the check in errors. */
  name: string;
  brokers: readonly string[];
  /** The connection, to name authentication and TLS failures (describeKafkaError). */
  connection?: KafkaConnection;
  createAdmin: () => KafkaAdminApi;
  logger: Logger;
}

export function createManagedAdmin(params: ManagedAdminParams): ManagedAdmin {
  let admin: KafkaAdminApi | null = null;
  let connecting: Promise<KafkaAdminApi> | null = null;
  let closed: Promise<void> | null = null;

  const drop = async (): Promise<void> => {
    const current = admin;
    admin = null;
    connecting = null;
    if (current) await current.disconnect().catch(() => undefined);
  };

  const connected = (): Promise<KafkaAdminApi> => {
    if (admin) return Promise.resolve(admin);
    if (!connecting) {
      const fresh = params.createAdmin();
      connecting = fresh.connect().then(
        () => {
          admin = fresh;
          connecting = null;
          params.logger.debug({ brokers: params.brokers }, 'kafka admin connected');
          return fresh;
        },
        async (err: unknown) => {
          connecting = null;
          await fresh.disconnect().catch(() => undefined);
          throw err;
        },
      );
    }
    return connecting;
  };

  return {
    async use(fn, signal) {
      if (closed) throw new SupervisorError('SUP_ERR_PROBE_FAILED', `check ${params.name} is closed`, { where: `checks.${params.name}` });
      try {
        const a = await abortable(connected(), signal);
        return await abortable(fn(a), signal);
      } catch (err) {
        if (signal.aborted) {
          // A request that outlived its timeout may leave the connection in an odd state.
          await drop();
          throw err;
        }
        const named = describeKafkaError(err, params.connection ?? { brokers: params.brokers, where: `checks.${params.name}` });
        if (named) {
          // the next run connects afresh: a fixed password or certificate is picked up without a restart
          await drop();
          throw named;
        }
        if (isKafkaConnectionError(err)) {
          await drop();
          throw new SupervisorError('SUP_ERR_KAFKA_UNREACHABLE', `no Kafka broker answered (${describeError(err).message})`, { where: params.brokers.join(','), cause: err });
        }
        throw err;
      }
    },
    close() {
      if (!closed) {
        // A connect in flight is not waited for (against a dead broker it can take the
        // connection timeout times the retries): its admin is disconnected when it settles.
        const pending = connecting;
        closed = drop().then(() => {
          pending?.then(
            (a) => a.disconnect().catch(() => undefined),
            () => undefined,
          );
        });
      }
      return closed;
    },
  };
}

/** describeError's message plus every listed problem (for config errors). */
export function describeProblem(err: unknown): string {
  const base = describeError(err).message;
  return err instanceof SupervisorError && err.problems.length > 0 ? `${base}: ${err.problems.join('; ')}` : base;
}
