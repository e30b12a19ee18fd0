/**
 * The one Kafka connection definition every Kafka client of the supervisor uses (the checks,
 * the `__consumer_offsets` stream, the lag and offsets triggers, the gates) and the environment
 * handed to the ingestion service:
 *
 * - `kafkaSslSchema` / `kafkaSaslSchema`: the camelCase option fields (`connections.kafka` in
 *   the YAML is their snake_case; src/config/schema.ts maps it).
 * - `resolveKafkaConnection(settings, where)`: reads the TLS files and secret files once and
 *   returns kafkajs `ssl` / `sasl` options; OAUTHBEARER gets a token provider that fetches
 *   tokens with the OIDC client-credentials grant and refreshes them before they expire.
 * - `kafkaClientConfig(connection, overrides)`: a kafkajs `KafkaConfig` for that connection,
 *   its log lines passed through `kafkaLogCreator` (never SASL fields).
 * - `describeKafkaError(err, connection)`: one sentence for a failed connect (authentication
 *   refused, certificate not trusted or for another name, client certificate wanted), as a
 *   SupervisorError with SUP_ERR_KAFKA_AUTH / SUP_ERR_KAFKA_TLS, or null for anything else.
 * - `kafkaEnvFor(settings)`: the `KAFKA_*` variables the ingestion operator hands its service.
 *
 * Errors name the setting and the file, never a secret.
 */
import { z } from 'zod';
import { logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import { SupervisorError, type Logger } from '../protocol';
import { createHttpAgent, httpRequest, type HttpAgent } from './http-client';
import { resolveSecret } from './secrets';
import { describeTlsError, readTlsFiles, tlsSettingsShape, type TlsOptions, type TlsSettings } from './tls';

// ---------------------------------------------------------------------------------------
// Settings

export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer', 'aws-msk-iam'] as const;

/** AWS's MSK IAM signer (an optional dependency: `npm install aws-msk-iam-sasl-signer-js`). */
export const MSK_IAM_SIGNER_PACKAGE = 'aws-msk-iam-sasl-signer-js';

/** The part of aws-msk-iam-sasl-signer-js used: a SigV4-signed token (AWS default credential chain) for OAUTHBEARER. */
export interface MskIamSigner {
  generateAuthToken(options: { region: string }): Promise<{ token: string; expiryTime: number }>;
}
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/** TLS of a Kafka connection: the shared TLS files, plus inline PEM (`ca`, `cert`, `key`) for programmatic use. */
export interface KafkaSslSettings extends TlsSettings {
  ca?: string | string[] | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

export interface KafkaSaslSettings {
  mechanism: KafkaSaslMechanism;
  /** plain / scram-*: the user and its password (or a file holding it). */
  username?: string | undefined;
  password?: string | undefined;
  passwordFile?: string | undefined;
  /** oauthbearer: the OIDC token endpoint (client-credentials grant, client_secret_basic). */
  tokenEndpointUrl?: string | undefined;
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  clientSecretFile?: string | undefined;
  scope?: string | undefined;
  /** SASL extensions sent with the token (Confluent Cloud: `logicalCluster`, `identityPoolId`). */
  extensions?: Readonly<Record<string, string>> | undefined;
  /** CA of an https token endpoint behind a private CA. */
  tokenEndpointCaFile?: string | undefined;
  /** aws-msk-iam: the cluster's AWS region (credentials from the AWS SDK's default chain). */
  region?: string | undefined;
}

/** `connections.kafka` (and a Kafka check's connection options) in camelCase. */
export interface KafkaConnectionSettings {
  brokers: readonly string[];
  clientId?: string | undefined;
  /** true = TLS with Node's bundled roots; an object = TLS with these files. */
  ssl?: boolean | KafkaSslSettings | undefined;
  sasl?: KafkaSaslSettings | undefined;
  connectionTimeout?: number | undefined;
  requestTimeout?: number | undefined;
}

export const kafkaSslSchema = z.union([
  z.boolean(),
  z.strictObject({
    ...tlsSettingsShape,
    ca: z.union([z.string(), z.array(z.string())]).optional(),
    cert: z.string().optional(),
    key: z.string().optional(),
  }),
]);

export const kafkaSaslSchema = z
  .strictObject({
    mechanism: z.enum(KAFKA_SASL_MECHANISMS),
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    passwordFile: z.string().min(1).optional(),
    tokenEndpointUrl: z.string().url().optional(),
    clientId: z.string().min(1).optional(),
    clientSecret: z.string().optional(),
    clientSecretFile: z.string().min(1).optional(),
    scope: z.string().optional(),
    extensions: z.record(z.string(), z.string()).optional(),
    tokenEndpointCaFile: z.string().min(1).optional(),
    region: z.string().min(1).optional(),
  })
  .superRefine((s, ctx) => {
    for (const issue of saslProblems(s)) ctx.addIssue({ code: 'custom', path: [issue.key], message: issue.message });
  });

/** What is missing or misplaced in SASL settings (keys in camelCase; the config maps them to YAML). */
export function saslProblems(s: Readonly<KafkaSaslSettings>): Array<{ key: keyof KafkaSaslSettings; message: string }> {
  const out: Array<{ key: keyof KafkaSaslSettings; message: string }> = [];
  const oauthKeys = ['tokenEndpointUrl', 'clientId', 'clientSecret', 'clientSecretFile', 'scope', 'extensions', 'tokenEndpointCaFile'] as const;
  if (s.mechanism === 'aws-msk-iam') {
    if (s.region === undefined) out.push({ key: 'region', message: "aws-msk-iam needs region (the MSK cluster's AWS region)" });
    for (const k of ['username', 'password', 'passwordFile', ...oauthKeys] as const) {
      if (s[k] !== undefined) out.push({ key: k, message: `${snake(k)} is not used with aws-msk-iam (credentials come from the AWS SDK's default chain)` });
    }
    return out;
  }
  if (s.region !== undefined) out.push({ key: 'region', message: 'region is only used with mechanism aws-msk-iam' });
  if (s.mechanism === 'oauthbearer') {
    if (s.tokenEndpointUrl === undefined) out.push({ key: 'tokenEndpointUrl', message: 'oauthbearer needs token_endpoint_url (the OIDC token endpoint)' });
    if (s.clientId === undefined) out.push({ key: 'clientId', message: 'oauthbearer needs client_id' });
    if (s.clientSecret === undefined && s.clientSecretFile === undefined) out.push({ key: 'clientSecret', message: 'oauthbearer needs client_secret (or client_secret_file)' });
    for (const k of ['username', 'password', 'passwordFile'] as const)
      if (s[k] !== undefined) out.push({ key: k, message: `${k === 'passwordFile' ? 'password_file' : k} is not used with oauthbearer (it takes client_id and client_secret)` });
  } else {
    if (s.username === undefined) out.push({ key: 'username', message: `${s.mechanism} needs username` });
    if (s.password === undefined && s.passwordFile === undefined) out.push({ key: 'password', message: `${s.mechanism} needs password (or password_file)` });
    for (const k of oauthKeys) {
      if (s[k] !== undefined) out.push({ key: k, message: `${snake(k)} is only used with mechanism oauthbearer` });
    }
  }
  return out;
}

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

// ---------------------------------------------------------------------------------------
// Resolution

/** A connection with its files read and its secrets resolved: what kafkajs clients are built from. */
export interface KafkaConnection {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl?: true | TlsOptions;
  readonly sasl?: SASLOptions;
  readonly connectionTimeout: number;
  readonly requestTimeout: number;
  /** `SASL SCRAM-SHA-512 as supervisor`, `SASL OAUTHBEARER (token from https://…)`: for error sentences. */
  readonly saslLabel?: string;
  /** The OAUTHBEARER token source, when the mechanism is oauthbearer. */
  readonly tokens?: OAuthTokenSource;
  /** Names the settings in errors (`connections.kafka`, `checks.kafka`). */
  readonly where: string;
}

export interface ResolveKafkaOptions {
  /** Replaces the token request (unit tests). */
  fetchToken?: TokenFetcher;
  now?: () => number;
  /** Replaces aws-msk-iam-sasl-signer-js (unit tests). */
  mskSigner?: MskIamSigner;
}

/** Whether AWS's signer package is installed (checked at config load for mechanism aws-msk-iam). */
export function mskSignerInstalled(): boolean {
  try {
    require.resolve(MSK_IAM_SIGNER_PACKAGE);
    return true;
  } catch {
    return false;
  }
}

/** Loads AWS's signer when it is installed; a config error naming the package when not. */
function loadMskSigner(where: string): MskIamSigner {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(MSK_IAM_SIGNER_PACKAGE) as MskIamSigner;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    throw new SupervisorError(
      'SUP_ERR_CONFIG_INVALID',
      missing
        ? `${where}.sasl.mechanism: aws-msk-iam needs AWS's signer package, which is not installed (npm install ${MSK_IAM_SIGNER_PACKAGE})`
        : `${where}.sasl.mechanism: aws-msk-iam: ${MSK_IAM_SIGNER_PACKAGE} cannot be loaded (${(err as Error).message})`,
      { where: `${where}.sasl.mechanism` },
    );
  }
}

/**
 * Reads the files of `settings` (TLS files, `password_file`, `client_secret_file`) once and
 * returns the connection. `where` prefixes the YAML keys in errors
 * (`connections.kafka.ssl.ca_file: cannot read …`). Throws SUP_ERR_CONFIG_INVALID.
 */
export function resolveKafkaConnection(settings: KafkaConnectionSettings, where = 'connections.kafka', options: ResolveKafkaOptions = {}): KafkaConnection {
  const out: { -readonly [K in keyof KafkaConnection]: KafkaConnection[K] } = {
    brokers: [...settings.brokers],
    clientId: settings.clientId ?? 'pipeline-supervisor',
    connectionTimeout: settings.connectionTimeout ?? 3_000,
    requestTimeout: settings.requestTimeout ?? 10_000,
    where,
  };
  if (settings.ssl === true) out.ssl = true;
  else if (settings.ssl && typeof settings.ssl === 'object') {
    const { ca, cert, key, ...files } = settings.ssl;
    const tls = readTlsFiles(files, `${where}.ssl`);
    if (ca !== undefined) tls.ca = [...(tls.ca ?? []), ...(Array.isArray(ca) ? ca : [ca]).map((c) => Buffer.from(c))];
    if (cert !== undefined) tls.cert = Buffer.from(cert);
    if (key !== undefined) tls.key = Buffer.from(key);
    out.ssl = tls;
  }
  const s = settings.sasl;
  if (s) {
    const problems = saslProblems(s);
    if (problems.length > 0) {
      throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `${where}.sasl: ${problems.map((p) => p.message).join('; ')}`, { where: `${where}.sasl.${snake(problems[0]!.key)}` });
    }
    if (s.mechanism === 'aws-msk-iam') {
      const signer = options.mskSigner ?? loadMskSigner(where);
      const region = s.region!;
      const now = options.now ?? Date.now;
      const label = `SASL AWS_MSK_IAM (OAUTHBEARER), region ${region}`;
      // a signed token lives 15 minutes; the same cache refreshes it before it ends
      const tokens = createOAuthTokenSource({
        tokenEndpointUrl: `aws-msk-iam:${region}`,
        clientId: '',
        clientSecret: '',
        ...(options.now ? { now: options.now } : {}),
        fetchToken: async () => {
          let answer: { token: string; expiryTime: number };
          try {
            answer = await signer.generateAuthToken({ region });
          } catch (err) {
            throw new SupervisorError(
              'SUP_ERR_KAFKA_AUTH',
              `authentication failed (${label}): cannot sign a token with the AWS credentials (${(err as Error).message || String(err)})`,
              {
                where: `${where}.sasl`,
                cause: err,
              },
            );
          }
          return { accessToken: answer.token, expiresIn: Math.max(1, (answer.expiryTime - now()) / 1000) };
        },
      });
      out.tokens = tokens;
      out.sasl = { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: await tokens.token() }) };
      out.saslLabel = label;
    } else if (s.mechanism === 'oauthbearer') {
      const clientSecret = resolveSecret({ key: `${where}.sasl.client_secret`, value: s.clientSecret, file: s.clientSecretFile })!;
      const tokens = createOAuthTokenSource({
        tokenEndpointUrl: s.tokenEndpointUrl!,
        clientId: s.clientId!,
        clientSecret,
        ...(s.scope !== undefined ? { scope: s.scope } : {}),
        ...(s.tokenEndpointCaFile !== undefined ? { ca: readTlsFiles({ caFile: s.tokenEndpointCaFile }, `${where}.sasl.token_endpoint`).ca! } : {}),
        ...(options.fetchToken ? { fetchToken: options.fetchToken } : {}),
        ...(options.now ? { now: options.now } : {}),
      });
      const extensions = s.extensions ? { ...s.extensions } : undefined;
      out.tokens = tokens;
      out.sasl = {
        mechanism: 'oauthbearer',
        oauthBearerProvider: async () => ({ value: await tokens.token(), ...(extensions ? { extensions } : {}) }),
      };
      out.saslLabel = `SASL OAUTHBEARER, token from ${redactUrl(s.tokenEndpointUrl!)}`;
    } else {
      const password = resolveSecret({ key: `${where}.sasl.password`, value: s.password, file: s.passwordFile })!;
      out.sasl = { mechanism: s.mechanism, username: s.username!, password };
      out.saslLabel = `SASL ${s.mechanism.toUpperCase()} as ${s.username!}`;
    }
  }
  return Object.freeze(out);
}

/** A kafkajs config for `connection`; `overrides` set retries, log level and the like per client. */
export function kafkaClientConfig(connection: KafkaConnection, overrides: Partial<KafkaConfig> = {}): KafkaConfig {
  return {
    clientId: connection.clientId,
    brokers: [...connection.brokers],
    connectionTimeout: connection.connectionTimeout,
    requestTimeout: connection.requestTimeout,
    ...(connection.ssl !== undefined ? { ssl: connection.ssl } : {}),
    ...(connection.sasl !== undefined ? { sasl: connection.sasl } : {}),
    // The broker ends an OAUTHBEARER session when its token expires (the session lifetime it
    // reports is the token's); kafkajs re-authenticates `reauthenticationThreshold` before that,
    // and its default (10 s) is longer than a short-lived token's whole life, which makes it
    // re-authenticate on every request and the broker answer ILLEGAL_SASL_STATE. 1 s matches
    // the token cache's margin for a 5 s token, and is ample for an hour-long one.
    ...(connection.tokens ? { reauthenticationThreshold: 1_000 } : {}),
    ...overrides,
  };
}

/** kafkajs log lines → `logger`, with only the message and a few plain fields (kafkajs entries can carry SASL details). */
export function kafkaLogCreator(logger: Logger, options: { warnAsDebug?: boolean } = {}): NonNullable<KafkaConfig['logCreator']> {
  return () => (entry: LogEntry) => {
    const { message, broker, groupId, topic } = entry.log as unknown as Record<string, unknown>;
    const error = (entry.log as unknown as { error?: unknown }).error;
    const fields = { kafkajs: entry.namespace, broker, error: typeof error === 'string' ? error : error instanceof Error ? error.message : undefined, groupId, topic };
    if (entry.level <= logLevel.WARN && !options.warnAsDebug) logger.warn(fields, String(message));
    else logger.debug(fields, String(message));
  };
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^/\s@]*@/, '//[redacted]@');
}

// ---------------------------------------------------------------------------------------
// OAUTHBEARER tokens (OIDC client-credentials grant)

export interface TokenAnswer {
  accessToken: string;
  /** Seconds the token lives (`expires_in`), when the endpoint says. */
  expiresIn?: number;
}

/** Fetches one token; throws SUP_ERR_KAFKA_AUTH naming the endpoint and the status. */
export type TokenFetcher = (request: { url: string; clientId: string; clientSecret: string; scope?: string; signal: AbortSignal }) => Promise<TokenAnswer>;

export interface OAuthTokenSource {
  /** A token valid for a while yet: the cached one, or a new one when little of its life is left. */
  token(): Promise<string>;
  /** Tokens fetched so far (tests, diagnostics). */
  readonly fetched: number;
  close(): Promise<void>;
}

export interface OAuthTokenSourceParams {
  tokenEndpointUrl: string;
  clientId: string;
  clientSecret: string;
  scope?: string;
  /** CA(s) of an https token endpoint. */
  ca?: Buffer[];
  fetchToken?: TokenFetcher;
  now?: () => number;
  /** Lifetime assumed when the endpoint gives no `expires_in` (seconds). Default 300. */
  defaultLifetimeS?: number;
  /** Bound of one token request. Default 10 s. */
  timeoutMs?: number;
}

/** Seconds of life left below which a new token is fetched: 20 % of its lifetime, at most 60 s. */
export function refreshMarginMs(lifetimeMs: number): number {
  return Math.min(60_000, lifetimeMs * 0.2);
}

/**
 * Caches the token and fetches a new one when less than `refreshMarginMs` of its life is
 * left; concurrent callers share one request. A failed fetch rejects every waiting caller
 * (the next call tries again) with SUP_ERR_KAFKA_AUTH naming the endpoint and the status.
 */
export function createOAuthTokenSource(params: OAuthTokenSourceParams): OAuthTokenSource {
  const now = params.now ?? Date.now;
  let agent: HttpAgent | undefined;
  const fetchToken: TokenFetcher =
    params.fetchToken ??
    ((req) => {
      if (params.ca && !agent) agent = createHttpAgent({ connect: { ca: params.ca } });
      return requestToken(req, agent, params.timeoutMs ?? 10_000);
    });
  let cached: { value: string; refreshAt: number; expiresAt: number } | null = null;
  let inFlight: Promise<string> | null = null;
  let fetched = 0;

  const refresh = (): Promise<string> => {
    inFlight ??= (async () => {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), params.timeoutMs ?? 10_000);
      timer.unref?.();
      try {
        const startedAt = now();
        const answer = await fetchToken({
          url: params.tokenEndpointUrl,
          clientId: params.clientId,
          clientSecret: params.clientSecret,
          ...(params.scope !== undefined ? { scope: params.scope } : {}),
          signal: ac.signal,
        });
        fetched += 1;
        const lifetimeMs = Math.max(1, answer.expiresIn ?? params.defaultLifetimeS ?? 300) * 1000;
        cached = { value: answer.accessToken, expiresAt: startedAt + lifetimeMs, refreshAt: startedAt + lifetimeMs - refreshMarginMs(lifetimeMs) };
        return answer.accessToken;
      } finally {
        clearTimeout(timer);
        inFlight = null;
      }
    })();
    return inFlight;
  };

  return {
    token() {
      if (cached && now() < cached.refreshAt) return Promise.resolve(cached.value);
      return refresh();
    },
    get fetched() {
      return fetched;
    },
    async close() {
      const a = agent;
      agent = undefined;
      await a?.close().catch(() => undefined);
    },
  };
}

/** POSTs the client-credentials grant with client_secret_basic (RFC 6749 §2.3.1, §4.4). */
async function requestToken(req: Parameters<TokenFetcher>[0], dispatcher: HttpAgent | undefined, timeoutMs: number): Promise<TokenAnswer> {
  const endpoint = redactUrl(req.url);
  const basic = Buffer.from(`${encodeURIComponent(req.clientId)}:${encodeURIComponent(req.clientSecret)}`).toString('base64');
  const body = new URLSearchParams({ grant_type: 'client_credentials', ...(req.scope ? { scope: req.scope } : {}) }).toString();
  let res;
  try {
    res = await httpRequest(req.url, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body,
      signal: req.signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(dispatcher ? { dispatcher } : {}),
    });
  } catch (err) {
    const tls = describeTlsError(err, hostPortOfUrl(req.url));
    const why = tls ?? (req.signal.aborted ? `no answer within ${timeoutMs} ms` : (err as Error).message || String(err));
    throw new SupervisorError('SUP_ERR_KAFKA_AUTH', `authentication failed (SASL OAUTHBEARER): the token endpoint ${endpoint} could not be reached: ${why}`, {
      where: endpoint,
      cause: err,
    });
  }
  const text = await res.body.text().catch(() => '');
  if (res.statusCode !== 200) {
    let detail = '';
    try {
      const j = JSON.parse(text) as { error?: unknown; error_description?: unknown };
      if (typeof j.error === 'string') detail = `: ${j.error}${typeof j.error_description === 'string' ? ` (${j.error_description.slice(0, 200)})` : ''}`;
    } catch {
      /* not JSON */
    }
    const hint = res.statusCode === 401 ? ' — wrong client_id or client_secret?' : res.statusCode === 400 ? ' — wrong scope or grant?' : '';
    throw new SupervisorError('SUP_ERR_KAFKA_AUTH', `authentication failed (SASL OAUTHBEARER): the token endpoint ${endpoint} answered ${res.statusCode}${detail}${hint}`, {
      where: endpoint,
    });
  }
  let json: { access_token?: unknown; expires_in?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    throw new SupervisorError('SUP_ERR_KAFKA_AUTH', `authentication failed (SASL OAUTHBEARER): the token endpoint ${endpoint} answered 200 without JSON`, { where: endpoint });
  }
  if (typeof json.access_token !== 'string' || json.access_token === '') {
    throw new SupervisorError('SUP_ERR_KAFKA_AUTH', `authentication failed (SASL OAUTHBEARER): the token endpoint ${endpoint} answered without an access_token`, {
      where: endpoint,
    });
  }
  const expiresIn = typeof json.expires_in === 'number' ? json.expires_in : typeof json.expires_in === 'string' ? Number(json.expires_in) : undefined;
  return { accessToken: json.access_token, ...(expiresIn !== undefined && Number.isFinite(expiresIn) && expiresIn > 0 ? { expiresIn } : {}) };
}

function hostPortOfUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
  } catch {
    return url;
  }
}

// ---------------------------------------------------------------------------------------
// Errors

function causes(err: unknown): Array<Error & { code?: string; broker?: string }> {
  const out: Array<Error & { code?: string }> = [];
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e instanceof Error && !seen.has(e) && out.length < 8) {
    seen.add(e);
    out.push(e);
    e = (e as Error & { originalError?: unknown }).originalError ?? e.cause;
  }
  return out;
}

/** The broker a kafkajs connection error names (`Connection error: … 127.0.0.1:9095`), else the bootstrap list. */
function brokerOf(err: unknown, connection: Pick<KafkaConnection, 'brokers'>): string {
  for (const e of causes(err)) {
    const b = (e as { broker?: unknown }).broker;
    if (typeof b === 'string' && b) return b;
  }
  return connection.brokers.length === 1 ? connection.brokers[0]! : connection.brokers.join(',');
}

/**
 * The plain sentence for a failed Kafka connect or request, or null when `err` is none of
 * these (report it as before):
 *
 * - SASL refused → SUP_ERR_KAFKA_AUTH `authentication failed (SASL SCRAM-SHA-512 as supervisor): …`
 *   (kafkajs reports a refused OAUTHBEARER token as a closed connection or "No brokers in the
 *   broker pool": with oauthbearer those are named as the authentication failure they are);
 * - a failed token request (already SUP_ERR_KAFKA_AUTH) → as it is;
 * - a certificate not trusted, for other names, expired, or a client certificate refused
 *   → SUP_ERR_KAFKA_TLS with describeTlsError's sentence naming the broker.
 */
export function describeKafkaError(err: unknown, connection: Pick<KafkaConnection, 'brokers' | 'saslLabel' | 'sasl' | 'ssl' | 'where'>): SupervisorError | null {
  // called from catch blocks of long-lived loops: naming an error must never throw a new one
  try {
    return nameKafkaError(err, connection);
  } catch {
    return null;
  }
}

function nameKafkaError(err: unknown, connection: Pick<KafkaConnection, 'brokers' | 'saslLabel' | 'sasl' | 'ssl' | 'where'>): SupervisorError | null {
  const chain = causes(err);
  const own = chain.find((e) => e instanceof SupervisorError && (e.code === 'SUP_ERR_KAFKA_AUTH' || e.code === 'SUP_ERR_KAFKA_TLS'));
  if (own) return own as SupervisorError;
  const label = connection.saslLabel ?? 'SASL';
  const sasl = chain.find((e) => e.name === 'KafkaJSSASLAuthenticationError');
  if (sasl) {
    const detail = sasl.message.replace(/^SASL [A-Z0-9 -]+? authentication failed: /i, '').replace(/^Authentication failed(?: during authentication)? due to /i, '');
    return new SupervisorError('SUP_ERR_KAFKA_AUTH', `authentication failed (${label}): ${detail}`, { where: `${connection.where}.sasl`, cause: err });
  }
  const broker = brokerOf(err, connection);
  const tls = describeTlsError(err, broker);
  if (tls) {
    const mtlsHint =
      /refused the handshake|closed the connection during the TLS handshake/.test(tls) && (connection.ssl === true || (typeof connection.ssl === 'object' && !connection.ssl.cert))
        ? ' (client certificate required?)'
        : '';
    return new SupervisorError('SUP_ERR_KAFKA_TLS', `${tls}${mtlsHint}`, { where: `${connection.where}.ssl`, cause: err });
  }
  const network = chain.some((e) => /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|Connection timeout/i.test(`${e.code ?? ''} ${e.message}`));
  const closed = chain.some(
    (e) => e.name === 'KafkaJSConnectionClosedError' || e.name === 'KafkaJSBrokerNotFound' || /Closed connection|No brokers in the broker pool/i.test(e.message),
  );
  if (!network && closed) {
    if ((connection.sasl as { mechanism?: string } | undefined)?.mechanism === 'oauthbearer') {
      return new SupervisorError(
        'SUP_ERR_KAFKA_AUTH',
        `authentication failed (${label}): ${broker} closed the connection after the token was sent (token refused: expired, wrong scope or audience?)`,
        {
          where: `${connection.where}.sasl`,
          cause: err,
        },
      );
    }
    if (connection.sasl && connection.ssl === undefined) {
      return new SupervisorError('SUP_ERR_KAFKA_TLS', `${broker} closed the connection during the SASL handshake: is it a TLS listener (SASL_SSL)? Set ssl`, {
        where: `${connection.where}.ssl`,
        cause: err,
      });
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// The ingestion service's environment

/**
 * The environment the ingestion operator hands the ingestion service (documented in the
 * README, read by stack/pipeline/ingestion/cli.ts):
 *
 * | variable | value |
 * |---|---|
 * | `KAFKA_BOOTSTRAP_SERVERS` | brokers, comma-separated |
 * | `KAFKA_SECURITY_PROTOCOL` | `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL` |
 * | `KAFKA_SSL_CA_FILE`, `KAFKA_SSL_CERT_FILE`, `KAFKA_SSL_KEY_FILE`, `KAFKA_SSL_KEY_PASSWORD`, `KAFKA_SSL_SERVERNAME`, `KAFKA_SSL_REJECT_UNAUTHORIZED` | TLS, when set |
 * | `KAFKA_SASL_MECHANISM` | `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, `OAUTHBEARER`, `AWS_MSK_IAM` |
 * | `KAFKA_SASL_AWS_REGION` | aws-msk-iam |
 * | `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD` | plain / scram |
 * | `KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL`, `…_CLIENT_ID`, `…_CLIENT_SECRET`, `…_SCOPE`, `…_EXTENSIONS` (JSON), `…_CA_FILE` | oauthbearer |
 *
 * Secrets are resolved (`*_file` read) here; the values go into the child's environment only,
 * never onto its command line.
 */
export function kafkaEnvFor(settings: KafkaConnectionSettings, where = 'connections.kafka'): Record<string, string> {
  const env: Record<string, string> = { KAFKA_BOOTSTRAP_SERVERS: settings.brokers.join(',') };
  const ssl = settings.ssl;
  const tls = ssl === true || (typeof ssl === 'object' && ssl !== null);
  env.KAFKA_SECURITY_PROTOCOL = settings.sasl ? (tls ? 'SASL_SSL' : 'SASL_PLAINTEXT') : tls ? 'SSL' : 'PLAINTEXT';
  if (typeof ssl === 'object' && ssl !== null) {
    if (ssl.ca !== undefined || ssl.cert !== undefined || ssl.key !== undefined) {
      throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `${where}.ssl: inline PEM (ca, cert, key) cannot be handed to the ingestion service; use ca_file, cert_file, key_file`, {
        where: `${where}.ssl`,
      });
    }
    if (ssl.caFile !== undefined) env.KAFKA_SSL_CA_FILE = ssl.caFile;
    if (ssl.certFile !== undefined) env.KAFKA_SSL_CERT_FILE = ssl.certFile;
    if (ssl.keyFile !== undefined) env.KAFKA_SSL_KEY_FILE = ssl.keyFile;
    const keyPassword = resolveSecret({ key: `${where}.ssl.key_password`, value: ssl.keyPassword, file: ssl.keyPasswordFile });
    if (keyPassword !== undefined) env.KAFKA_SSL_KEY_PASSWORD = keyPassword;
    if (ssl.servername !== undefined) env.KAFKA_SSL_SERVERNAME = ssl.servername;
    if (ssl.rejectUnauthorized !== undefined) env.KAFKA_SSL_REJECT_UNAUTHORIZED = String(ssl.rejectUnauthorized);
  }
  const s = settings.sasl;
  if (s) {
    env.KAFKA_SASL_MECHANISM = s.mechanism === 'aws-msk-iam' ? 'AWS_MSK_IAM' : s.mechanism.toUpperCase();
    if (s.mechanism === 'aws-msk-iam') {
      if (s.region !== undefined) env.KAFKA_SASL_AWS_REGION = s.region;
    } else if (s.mechanism === 'oauthbearer') {
      const p = 'KAFKA_SASL_OAUTHBEARER_';
      if (s.tokenEndpointUrl !== undefined) env[`${p}TOKEN_ENDPOINT_URL`] = s.tokenEndpointUrl;
      if (s.clientId !== undefined) env[`${p}CLIENT_ID`] = s.clientId;
      const secret = resolveSecret({ key: `${where}.sasl.client_secret`, value: s.clientSecret, file: s.clientSecretFile });
      if (secret !== undefined) env[`${p}CLIENT_SECRET`] = secret;
      if (s.scope !== undefined) env[`${p}SCOPE`] = s.scope;
      if (s.extensions !== undefined) env[`${p}EXTENSIONS`] = JSON.stringify(s.extensions);
      if (s.tokenEndpointCaFile !== undefined) env[`${p}CA_FILE`] = s.tokenEndpointCaFile;
    } else {
      if (s.username !== undefined) env.KAFKA_SASL_USERNAME = s.username;
      const password = resolveSecret({ key: `${where}.sasl.password`, value: s.password, file: s.passwordFile });
      if (password !== undefined) env.KAFKA_SASL_PASSWORD = password;
    }
  }
  return env;
}

/** The names `kafkaEnvFor` may set (so a service can tell "not configured" from "empty"). */
export const KAFKA_ENV_NAMES = [
  'KAFKA_BOOTSTRAP_SERVERS',
  'KAFKA_SECURITY_PROTOCOL',
  'KAFKA_SSL_CA_FILE',
  'KAFKA_SSL_CERT_FILE',
  'KAFKA_SSL_KEY_FILE',
  'KAFKA_SSL_KEY_PASSWORD',
  'KAFKA_SSL_SERVERNAME',
  'KAFKA_SSL_REJECT_UNAUTHORIZED',
  'KAFKA_SASL_MECHANISM',
  'KAFKA_SASL_USERNAME',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL',
  'KAFKA_SASL_OAUTHBEARER_CLIENT_ID',
  'KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET',
  'KAFKA_SASL_OAUTHBEARER_SCOPE',
  'KAFKA_SASL_OAUTHBEARER_EXTENSIONS',
  'KAFKA_SASL_OAUTHBEARER_CA_FILE',
  'KAFKA_SASL_AWS_REGION',
] as const;

/**
 * The reverse of `kafkaEnvFor`: connection settings from a service's environment (what the
 * reference ingestion service calls). `brokers` from the command line win over
 * KAFKA_BOOTSTRAP_SERVERS. Throws SUP_ERR_CONFIG_INVALID naming the variable.
 */
export function kafkaSettingsFromEnv(env: Readonly<Record<string, string | undefined>>, brokers?: readonly string[]): KafkaConnectionSettings {
  const bad = (name: string, problem: string): SupervisorError => new SupervisorError('SUP_ERR_CONFIG_INVALID', `${name}: ${problem}`, { where: name });
  const list =
    brokers ??
    (env.KAFKA_BOOTSTRAP_SERVERS ?? '')
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean);
  const protocol = (env.KAFKA_SECURITY_PROTOCOL ?? 'PLAINTEXT').toUpperCase();
  if (!['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'].includes(protocol))
    throw bad('KAFKA_SECURITY_PROTOCOL', `expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, got ${protocol}`);
  const settings: { -readonly [K in keyof KafkaConnectionSettings]: KafkaConnectionSettings[K] } = { brokers: list };
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    const ssl: KafkaSslSettings = {};
    if (env.KAFKA_SSL_CA_FILE) ssl.caFile = env.KAFKA_SSL_CA_FILE;
    if (env.KAFKA_SSL_CERT_FILE) ssl.certFile = env.KAFKA_SSL_CERT_FILE;
    if (env.KAFKA_SSL_KEY_FILE) ssl.keyFile = env.KAFKA_SSL_KEY_FILE;
    if (env.KAFKA_SSL_KEY_PASSWORD) ssl.keyPassword = env.KAFKA_SSL_KEY_PASSWORD;
    if (env.KAFKA_SSL_SERVERNAME) ssl.servername = env.KAFKA_SSL_SERVERNAME;
    if (env.KAFKA_SSL_REJECT_UNAUTHORIZED) ssl.rejectUnauthorized = env.KAFKA_SSL_REJECT_UNAUTHORIZED !== 'false';
    settings.ssl = Object.keys(ssl).length > 0 ? ssl : true;
  }
  if (protocol.startsWith('SASL_')) {
    const mechanism = (env.KAFKA_SASL_MECHANISM ?? '').toLowerCase().replace(/_/g, '-');
    if (!(KAFKA_SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
      throw bad('KAFKA_SASL_MECHANISM', `expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or AWS_MSK_IAM with ${protocol}, got ${env.KAFKA_SASL_MECHANISM ?? 'nothing'}`);
    }
    const p = 'KAFKA_SASL_OAUTHBEARER_';
    let extensions: Record<string, string> | undefined;
    if (env[`${p}EXTENSIONS`]) {
      try {
        extensions = JSON.parse(env[`${p}EXTENSIONS`]!) as Record<string, string>;
      } catch {
        throw bad(`${p}EXTENSIONS`, 'not a JSON object');
      }
    }
    const sasl: KafkaSaslSettings =
      mechanism === 'aws-msk-iam'
        ? { mechanism, region: env.KAFKA_SASL_AWS_REGION }
        : mechanism === 'oauthbearer'
          ? {
              mechanism,
              tokenEndpointUrl: env[`${p}TOKEN_ENDPOINT_URL`],
              clientId: env[`${p}CLIENT_ID`],
              clientSecret: env[`${p}CLIENT_SECRET`],
              ...(env[`${p}SCOPE`] ? { scope: env[`${p}SCOPE`] } : {}),
              ...(extensions ? { extensions } : {}),
              ...(env[`${p}CA_FILE`] ? { tokenEndpointCaFile: env[`${p}CA_FILE`] } : {}),
            }
          : { mechanism: mechanism as KafkaSaslMechanism, username: env.KAFKA_SASL_USERNAME, password: env.KAFKA_SASL_PASSWORD };
    const problems = saslProblems(sasl);
    if (problems.length > 0) {
      const name = (k: string): string =>
        mechanism === 'oauthbearer' ? `${p}${snake(k).toUpperCase()}` : mechanism === 'aws-msk-iam' ? 'KAFKA_SASL_AWS_REGION' : `KAFKA_SASL_${snake(k).toUpperCase()}`;
      throw bad(name(problems[0]!.key), `not set (${problems.map((x) => x.message).join('; ')})`);
    }
    settings.sasl = sasl;
  }
  return settings;
}
