/**
 * Schema registry (Confluent API, e.g. Apicurio's `/apis/ccompat/v7`): reachable; a subject
 * exists for each required topic (`<topic>-value` by default); latest version and schema id.
 * Optional event-time freshness: the newest record of a topic is read from Kafka, decoded
 * through the registry, and the age of its timestamp field reported.
 *
 * Status: crit when the registry can't be reached or a required subject is missing; the
 * freshness age above `maxAge` gives `freshnessStatus` (warn by default); a topic without any
 * record gives warn.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  SupervisorError,
  describeError,
  worstStatus,
  type CheckProbe,
  type Logger,
  type ProbeContext,
  type SchemaRegistryFacts,
  type SchemaSubjectFacts,
  type Signal,
  type Status,
} from '../src/protocol';
import { createHttpAgent, httpRequest, type HttpAgent } from '../src/shared/http-client';
import { silentLogger } from '../src/shared/logger';
import { lazySchemaRegistryDecoder, registryAuthProblem, registryHeaders, registryTlsProblem, type SchemaRegistryDecoder } from '../src/shared/schema-registry-decoder';
import { hasTlsSettings, pickTlsSettings, readTlsFiles, tlsSettingsShape } from '../src/shared/tls';
import { abortable, createKafkaClient, durationMs, kafkaConnectionShape, resolveCheckConnection, type CheckKafkaConnection } from './kafka-client';
import { describeKafkaError } from '../src/shared/kafka-connection';

const freshnessSchema = z.strictObject({
  ...kafkaConnectionShape,
  /** Topic whose newest record is sampled. */
  topic: z.string().min(1),
  /** Dot path of the event-time field in the decoded value, e.g. `ingested_at` or `meta.ts`. */
  field: z.string().min(1),
  /** Age above which the signal is at least `status`. */
  maxAge: durationMs,
  status: z.enum(['warn', 'crit']).default('warn'),
});

export const schemaRegistryOptionsSchema = z
  .strictObject({
    /** Base URL of the Confluent-compatible API, e.g. http://127.0.0.1:8081/apis/ccompat/v7 */
    url: z.url(),
    /** HTTP basic auth. */
    auth: z.strictObject({ username: z.string().min(1), password: z.string() }).optional(),
    /** Bearer token (not together with `auth`). */
    token: z.string().min(1).optional(),
    /** Extra request headers (e.g. an API key a reverse proxy wants). */
    headers: z.record(z.string().min(1), z.string()).default({}),
    /** TLS: `ca_file`, `cert_file`/`key_file`/`key_password`, `servername`, `reject_unauthorized`. */
    ...tlsSettingsShape,
    /** Topics that must have a value subject. */
    topics: z.array(z.string().min(1)).default([]),
    /** Subject name = topic + suffix (TopicNameStrategy). */
    subjectSuffix: z.string().default('-value'),
    /** Further subjects that must exist, by exact name. */
    subjects: z.array(z.string().min(1)).default([]),
    freshness: freshnessSchema.optional(),
  })
  .refine((o) => !(o.auth && o.token !== undefined), { message: 'basic auth (username/password) and a bearer token are both set: choose one', path: ['token'] });
export type SchemaRegistryOptionsInput = z.input<typeof schemaRegistryOptionsSchema>;
export type SchemaRegistryOptions = z.output<typeof schemaRegistryOptionsSchema>;

export const SCHEMA_REGISTRY_DEFAULT_INTERVAL_MS = 15_000;
export const SCHEMA_REGISTRY_DEFAULT_TIMEOUT_MS = 10_000;

export interface SchemaRegistryCheckParams {
  name: string;
  options: SchemaRegistryOptionsInput | SchemaRegistryOptions;
  logger?: Logger;
  intervalMs?: number;
  timeoutMs?: number;
  /** Replaces the HTTP GET (unit tests; global fetch fits). */
  fetch?: RegistryGet;
  /** Replaces the Kafka sampling of the newest record (unit tests): returns encoded values. */
  sampleNewest?: (topic: string, signal: AbortSignal) => Promise<Buffer[]>;
}

/** The slice of fetch the check uses. */
export type RegistryGet = (url: string, init: { headers: Record<string, string>; signal: AbortSignal }) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;

/**
 * GET on the check's own undici Agent. Global fetch would load Node's bundled copy of undici
 * and compile a second llhttp WebAssembly module (a ≈ 60 MB malloc peak at start-up, of which
 * glibc keeps ≈ 10 MB resident).
 */
function undiciGet(dispatcher: () => HttpAgent): RegistryGet {
  return async (url, init) => {
    const res = await httpRequest(url, { headers: init.headers, signal: init.signal, dispatcher: dispatcher() });
    return { ok: res.statusCode >= 200 && res.statusCode < 300, status: res.statusCode, text: () => res.body.text() };
  };
}

export function createSchemaRegistryCheck(params: SchemaRegistryCheckParams): CheckProbe {
  const options = parseOptions(params.name, params.options);
  const logger = (params.logger ?? silentLogger).child({ component: 'checks', name: params.name });
  let agent: HttpAgent | undefined;
  const { auth, token, headers: extraHeaders, url } = options;
  const tls = pickTlsSettings(options);
  const where = `checks.${params.name}`;
  // the TLS files are read when the agent is built (the first probe, and again after a failure)
  const doFetch = params.fetch ?? undiciGet(() => (agent ??= createHttpAgent({ connections: 4, ...(hasTlsSettings(tls) ? { connect: readTlsFiles(tls, where) } : {}) })));
  const base = url.replace(/\/+$/, '');
  const connection = { url: base, auth, token, headers: extraHeaders, tls, where };
  const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json, application/json', ...registryHeaders(connection) };
  const registry = lazySchemaRegistryDecoder(connection);
  const required = [...options.topics.map((t) => `${t}${options.subjectSuffix}`), ...options.subjects];
  const freshness = options.freshness;
  // the sampler's Kafka connection (connections.kafka unless the check sets its own): files read once, here
  const sampler = freshness && !params.sampleNewest ? resolveCheckConnection(freshness, `${params.name}.freshness`) : undefined;
  const sampleNewest = params.sampleNewest ?? (sampler ? (topic: string, signal: AbortSignal) => readNewestValues(sampler, topic, signal, logger) : undefined);

  const getJson = async (path: string, signal: AbortSignal): Promise<{ status: number; body: unknown }> => {
    let res: Awaited<ReturnType<RegistryGet>>;
    try {
      res = await doFetch(`${base}${path}`, { headers, signal });
    } catch (err) {
      if (signal.aborted || err instanceof SupervisorError) throw err;
      const tlsProblem = registryTlsProblem(err, base);
      if (tlsProblem) throw new RegistryAccessError(tlsProblem, base, err);
      throw new SupervisorError('SUP_ERR_SCHEMA_REGISTRY', `schema registry unreachable: ${describeError(err).message}${causeText(err)}`, { where: base, cause: err });
    }
    const authProblem = registryAuthProblem(res.status, `${base}${path}`);
    if (authProblem) {
      await res.text().catch(() => '');
      throw new RegistryAccessError(authProblem, `${base}${path}`);
    }
    const text = await res.text();
    let body: unknown = null;
    try {
      body = text.length > 0 ? JSON.parse(text) : null;
    } catch {
      if (res.ok) throw new SupervisorError('SUP_ERR_SCHEMA_REGISTRY', `schema registry answered ${path} with non-JSON`, { where: `${base}${path}` });
    }
    if (!res.ok && res.status !== 404) {
      throw new SupervisorError('SUP_ERR_SCHEMA_REGISTRY', `schema registry answered ${path} with HTTP ${res.status}`, { where: `${base}${path}` });
    }
    return { status: res.status, body };
  };

  const probe = async (ctx: ProbeContext): Promise<Signal[]> => {
    const startedAt = ctx.now();
    const problems: Array<{ status: Status; text: string }> = [];
    let subjects: SchemaSubjectFacts[] = required.map((subject) => ({ subject, exists: false, latestVersion: null, schemaId: null }));
    let reachable = false;
    let error: Signal['error'];
    try {
      const list = await getJson('/subjects', ctx.signal);
      if (!Array.isArray(list.body)) throw new SupervisorError('SUP_ERR_SCHEMA_REGISTRY', 'GET /subjects did not return a list', { where: `${base}/subjects` });
      reachable = true;
      const present = new Set(list.body.filter((s): s is string => typeof s === 'string'));
      subjects = await Promise.all(
        required.map(async (subject): Promise<SchemaSubjectFacts> => {
          if (!present.has(subject)) return { subject, exists: false, latestVersion: null, schemaId: null };
          const latest = await getJson(`/subjects/${encodeURIComponent(subject)}/versions/latest`, ctx.signal);
          const b = latest.body as { version?: unknown; id?: unknown } | null;
          if (latest.status === 404 || !b) return { subject, exists: false, latestVersion: null, schemaId: null };
          return { subject, exists: true, latestVersion: typeof b.version === 'number' ? b.version : null, schemaId: typeof b.id === 'number' ? b.id : null };
        }),
      );
      const missing = subjects.filter((s) => !s.exists).map((s) => s.subject);
      if (missing.length > 0) problems.push({ status: 'crit', text: `missing subjects: ${missing.join(', ')}` });
    } catch (err) {
      if (ctx.signal.aborted || !(err instanceof SupervisorError)) throw err;
      error = describeError(err);
      // refused credentials, an untrusted certificate, unreadable TLS files: the registry's own
      // health is not known (unknown); an unreachable or failing registry is crit
      const unknown = err instanceof RegistryAccessError || err.code === 'SUP_ERR_CONFIG_INVALID';
      problems.push({ status: unknown ? 'unknown' : 'crit', text: err.message });
    }

    const facts: SchemaRegistryFacts = { kind: 'schema_registry', reachable, subjects };
    let value: number | undefined;
    if (freshness && sampleNewest && reachable) {
      const age = await eventAge(freshness.topic, freshness.field, ctx, sampleNewest, registry);
      facts.eventAgeSeconds = { [freshness.topic]: age.seconds };
      if (age.seconds === null) problems.push({ status: 'warn', text: age.reason ?? `no event time on ${freshness.topic}` });
      else {
        value = age.seconds;
        if (age.seconds * 1000 > freshness.maxAge) {
          problems.push({ status: freshness.status, text: `newest ${freshness.topic} event is ${Math.round(age.seconds)} s old (max ${Math.round(freshness.maxAge / 1000)} s)` });
        }
      }
    }
    const now = ctx.now();
    const status = worstStatus(problems.map((p) => p.status));
    const found = subjects.filter((s) => s.exists);
    const summary =
      problems.length === 0
        ? `schema registry ok: ${found.map((s) => `${s.subject} v${s.latestVersion ?? '?'} (id ${s.schemaId ?? '?'})`).join(', ') || 'reachable'}${value !== undefined ? `; newest event ${Math.round(value)} s old` : ''}`
        : `schema registry: ${problems.map((p) => p.text).join('; ')}`;
    return [
      {
        check: params.name,
        kind: 'schema_registry',
        target: base,
        labels: {},
        status,
        ...(value !== undefined ? { value, unit: 'seconds' as const, threshold: Math.round(freshness!.maxAge / 1000) } : {}),
        observedAt: now,
        durationMs: now - startedAt,
        summary,
        facts,
        ...(error ? { error } : {}),
      },
    ];
  };

  return {
    name: params.name,
    kind: 'schema_registry',
    intervalMs: params.intervalMs ?? SCHEMA_REGISTRY_DEFAULT_INTERVAL_MS,
    timeoutMs: params.timeoutMs ?? SCHEMA_REGISTRY_DEFAULT_TIMEOUT_MS,
    probe,
    close: async () => {
      const a = agent;
      agent = undefined;
      await a?.close();
    },
  };
}

async function eventAge(
  topic: string,
  field: string,
  ctx: ProbeContext,
  sample: (topic: string, signal: AbortSignal) => Promise<Buffer[]>,
  registry: SchemaRegistryDecoder,
): Promise<{ seconds: number | null; reason?: string }> {
  const values = await sample(topic, ctx.signal);
  if (values.length === 0) return { seconds: null, reason: `topic ${topic} has no record to sample` };
  let newest: number | null = null;
  for (const buf of values) {
    let decoded: unknown;
    try {
      decoded = await registry.decode(buf);
    } catch (err) {
      throw new SupervisorError('SUP_ERR_SCHEMA_REGISTRY', `cannot decode the newest ${topic} record through the registry: ${describeError(err).message}`, {
        where: topic,
        cause: err,
      });
    }
    const ts = toEpochMs(readPath(decoded, field));
    if (ts === null) return { seconds: null, reason: `field ${field} of the newest ${topic} record is not a timestamp` };
    newest = newest === null ? ts : Math.max(newest, ts);
  }
  return { seconds: newest === null ? null : Math.max(0, (ctx.now() - newest) / 1000) };
}

/** Reads `a.b.c` from a decoded record (Avro unions may wrap values as `{ type: value }`). */
export function readPath(value: unknown, path: string): unknown {
  let current: unknown = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  if (current && typeof current === 'object' && !(current instanceof Date)) {
    const entries = Object.values(current as Record<string, unknown>);
    if (entries.length === 1) return entries[0];
  }
  return current;
}

/** Epoch ms from a Date, an ISO string, epoch seconds or epoch milliseconds (or micros). */
export function toEpochMs(value: unknown): number | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.getTime();
  if (typeof value === 'bigint') return toEpochMs(Number(value));
  if (typeof value === 'number' && Number.isFinite(value)) {
    if (value > 1e14) return Math.round(value / 1000); // microseconds
    if (value > 1e11) return value; // milliseconds
    return value * 1000; // seconds
  }
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    if (Number.isFinite(n)) return toEpochMs(n);
    const t = Date.parse(value);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

/**
 * The newest record's value of every non-empty partition of `topic`: a consumer with a
 * throw-away group seeks each partition to its last offset and stops after one record each.
 */
async function readNewestValues(resolved: CheckKafkaConnection, topic: string, signal: AbortSignal, logger: Logger): Promise<Buffer[]> {
  try {
    return await sampleNewestValues(resolved, topic, signal, logger);
  } catch (err) {
    // authentication and TLS failures named as the Kafka checks name them
    throw describeKafkaError(err, resolved.connection) ?? err;
  }
}

async function sampleNewestValues(resolved: CheckKafkaConnection, topic: string, signal: AbortSignal, logger: Logger): Promise<Buffer[]> {
  const kafka = createKafkaClient(resolved, logger.child({ component: 'kafkajs' }));
  const admin = kafka.admin();
  const consumer = kafka.consumer({ groupId: `pipeline-supervisor-sample-${randomUUID()}`, maxWaitTimeInMs: 500, allowAutoTopicCreation: false });
  try {
    await abortable(admin.connect(), signal);
    const offsets = await abortable(admin.fetchTopicOffsets(topic), signal);
    const wanted = new Map<number, string>();
    for (const o of offsets) if (Number(o.high) > Number(o.low)) wanted.set(o.partition, String(Number(o.high) - 1));
    if (wanted.size === 0) return [];
    const values: Buffer[] = [];
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const [partition, offset] of wanted) consumer.seek({ topic, partition, offset });
    });
    await abortable(consumer.connect(), signal);
    await abortable(consumer.subscribe({ topics: [topic], fromBeginning: false }), signal);
    const done = new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: ({ partition, message }) => {
            if (wanted.has(partition) && BigInt(message.offset) >= BigInt(wanted.get(partition)!)) {
              wanted.delete(partition);
              if (message.value) values.push(message.value);
              if (wanted.size === 0) resolve();
            }
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
    await abortable(done, signal);
    return values;
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

/** The registry could not be asked (credentials refused, TLS failed): the check's answer is unknown. */
class RegistryAccessError extends SupervisorError {
  constructor(message: string, where: string, cause?: unknown) {
    super('SUP_ERR_SCHEMA_REGISTRY', message, { where, ...(cause !== undefined ? { cause } : {}) });
  }
}

function causeText(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ? ` (${cause.code})` : '';
}

function parseOptions(name: string, raw: unknown): SchemaRegistryOptions {
  const parsed = schemaRegistryOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `check ${name}: invalid schema_registry options`, {
      where: `checks.${name}`,
      problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`),
    });
  }
  return Object.freeze(parsed.data);
}
