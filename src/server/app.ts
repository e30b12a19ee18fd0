import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import type { BuildCompilerFromPool, RouteDefinition } from '@fastify/ajv-compiler';
import swagger from '@fastify/swagger';
import type { Registry } from 'prom-client';
import type { Logger } from '../protocol';
import { LIMITS } from '../shared/limits';
import type { TokenStore } from '../store/tokens';
import { createAuthHook } from './auth';
import type { SessionStore } from './ui/sessions';
import { registerProbeRoutes, type Readiness } from './routes/probes';

export interface BuildAppParams {
  logger: Logger;
  registry: Registry;
  readiness: () => Readiness;
  tokens: Pick<TokenStore, 'verify'>;
  authFailuresPerMinute?: number;
  /** `server.trust_proxy`: whether X-Forwarded-For names the client (false, true, or the proxies to trust). */
  trustProxy?: boolean | readonly string[];
  /** Authenticated /api/v1 route plugins (health, pipelines, runs, alerts…), registered under the prefix. */
  api?: ReadonlyArray<FastifyPluginAsync>;
  /** Web UI sessions: a session cookie authenticates /api/v1 requests too (src/server/ui/sessions.ts). */
  sessions?: SessionStore;
  /** Route plugins outside /api/v1 (the web UI's pages, assets and sign-in), registered at the root; given the token check. */
  root?: ReadonlyArray<(ctx: { signIn: (request: FastifyRequest, reply: FastifyReply) => Promise<void> }) => FastifyPluginAsync>;
  version: string;
  /** Compile every route's validators at `ready()` instead of at their first request (tests: a schema ajv refuses fails there). */
  compileSchemasNow?: boolean;
}

export const API_PREFIX = '/api/v1';
/**
 * Longest path parameter the router matches. Well above every schema's maxLength, so an
 * over-long id is answered by schema validation (400 naming the parameter), never by the
 * router before the token check.
 */
export const MAX_PARAM_LENGTH = 4 * Math.max(LIMITS.nameLength, LIMITS.variableKeyLength);
/** Nesting depth of any JSON body: the body object plus a run's `conf` at its deepest. */
export const MAX_BODY_DEPTH = LIMITS.confDepth + 1;
export const BODY_LIMIT_BYTES = 1_048_576;

type HttpError = Error & { statusCode?: number; validation?: AjvError[]; validationContext?: string; code?: string };
interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/**
 * Builds the HTTP app and never listens: the daemon calls `listen`, tests call `inject()`.
 * `/metrics`, `/healthz`, `/readyz` are open; everything under `/api/v1` needs a bearer token
 * except the OpenAPI document. A request without a valid token gets 401 for any /api/v1 path
 * (known or not, any method, any parameter length): the token is checked before anything
 * that depends on routing answers.
 */
export async function buildApp(params: BuildAppParams): Promise<FastifyInstance> {
  const log = params.logger.child({ component: 'http' });
  const authenticate = createAuthHook({
    tokens: params.tokens,
    failuresPerMinute: params.authFailuresPerMinute ?? 10,
    logger: log,
    ...(params.sessions ? { sessions: params.sessions } : {}),
  });
  const isApi = (url: string) => url === API_PREFIX || url.startsWith(`${API_PREFIX}/`) || url.startsWith(`${API_PREFIX}?`);

  const app = Fastify({
    loggerInstance: toFastifyLogger(log),
    // request lines are noise for a supervisor; errors are logged by the error handler
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: toTrustProxy(params.trustProxy),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // the router's own refusals (a malformed %-escape, a parameter past MAX_PARAM_LENGTH)
    frameworkErrors: (error: HttpError, request: FastifyRequest, reply: FastifyReply) => {
      void (async () => {
        if (isApi(request.url)) {
          await authenticate(request, reply);
          if (reply.sent) return;
        }
        const message =
          error.code === 'FST_ERR_MAX_PARAM_LENGTH'
            ? `path: a parameter is longer than ${MAX_PARAM_LENGTH} characters`
            : error.code === 'FST_ERR_BAD_URL'
              ? 'path: is not a valid URL (a malformed %-escape?)'
              : `path: ${error.message}`;
        await reply.code(400).send({ code: 'SUP_ERR_BAD_REQUEST', message });
      })();
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
    // query strings and path parameters arrive as text and are coerced to their schema's types;
    // JSON bodies are not: {"value": null} is not the string "", "true" is not a boolean
    // Responses are serialized with JSON.stringify, not compiled fast-json-stringify serializers:
    // every response schema is open (additionalProperties: true, src/server/responses.ts) and
    // there for the OpenAPI document, so a compiled serializer would only cost start-up time
    // (≈ 75 ms of the daemon's ≈ 1 s to ready, most of it for routes never answered that often).
    schemaController: {
      compilersFactory: {
        buildValidator: lazyValidatorCompiler(params.compileSchemasNow === true ? { compileNow: true } : {}),
        buildSerializer: () => () => (data: unknown) => JSON.stringify(data),
      },
    },
  });

  // JSON bodies: depth-checked before JSON.parse, so a deeply nested body cannot exhaust the
  // stack of the parser, the validator or anything that walks the value later
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Pipeline Supervisor API',
        version: params.version,
        description: 'Runs, pipelines, health, alerts and silences. Bearer token required (supervisor tokens create).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.setErrorHandler((error: HttpError, request, reply) => {
    if (error.validation) {
      return reply.code(400).send({ code: 'SUP_ERR_BAD_REQUEST', message: `invalid request: ${describeValidation(error.validation, error.validationContext)}` });
    }
    if ((error as { code?: unknown }).code === 'SUP_ERR_STORE_UNAVAILABLE') {
      // the state store (PostgreSQL) does not answer: a 503 the client may retry, with the store's reason (never credentials)
      request.log.warn({ route: request.routeOptions.url, reqId: request.id, error: error.message }, 'state store unavailable');
      return reply.code(503).header('retry-after', '5').send({ code: 'SUP_ERR_STORE_UNAVAILABLE', message: error.message });
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error, route: request.routeOptions.url, reqId: request.id }, 'request failed');
      return reply.code(500).send({ code: 'SUP_ERR_INTERNAL', message: `internal error (request ${request.id}; the supervisor logged its cause)` });
    }
    return reply.code(status).send({ code: error.code?.startsWith('SUP_ERR_') ? error.code : 'SUP_ERR_BAD_REQUEST', message: describeClientError(error, request) });
  });

  // every route's path pattern and methods, to answer 405 with Allow for a known path
  const routes: Array<{ pattern: RegExp; methods: Set<string> }> = [];
  app.addHook('onRoute', (route) => {
    const pattern = new RegExp(
      `^${route.url
        .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
        .replace(/:[A-Za-z0-9_]+/g, '[^/]+')
        .replace(/\*/g, '.*')}/?$`,
    );
    let entry = routes.find((r) => r.pattern.source === pattern.source);
    if (!entry) routes.push((entry = { pattern, methods: new Set() }));
    for (const m of [route.method].flat()) entry.methods.add(m.toUpperCase());
  });
  const notFound = (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]!;
    const allowed = new Set<string>();
    for (const r of routes) if (r.pattern.test(path)) for (const m of r.methods) allowed.add(m);
    if (allowed.size > 0) {
      const allow = [...allowed].sort().join(', ');
      return reply
        .code(405)
        .header('allow', allow)
        .send({ code: 'SUP_ERR_METHOD_NOT_ALLOWED', message: `method: ${request.method} is not allowed on ${path} (allowed: ${allow})` });
    }
    return reply.code(404).send({ code: 'SUP_ERR_NOT_FOUND', message: `path: no route ${request.method} ${path.slice(0, 300)}` });
  };
  app.setNotFoundHandler(notFound);
  // unknown paths and methods are answered here, before a body is read or parsed (whose errors
  // would otherwise answer first); under /api/v1 only after the token check
  app.addHook('onRequest', async (request, reply) => {
    if (!request.is404) return;
    if (isApi(request.url)) {
      await authenticate(request, reply);
      if (reply.sent) return;
    }
    await notFound(request, reply);
  });

  registerProbeRoutes(app, { registry: params.registry, readiness: params.readiness });

  await app.register(
    async (api) => {
      api.get('/openapi.json', { schema: { hide: true } }, (_request, reply) => reply.send(app.swagger()));
      await api.register(async (secured) => {
        secured.addHook('onRequest', authenticate);
        for (const plugin of params.api ?? []) await secured.register(plugin);
      });
    },
    { prefix: API_PREFIX },
  );
  for (const plugin of params.root ?? []) await app.register(plugin({ signIn: authenticate.signIn }));
  return app;
}

function toTrustProxy(value: BuildAppParams['trustProxy']): boolean | string[] {
  if (value === undefined || value === false) return false;
  if (value === true) return true;
  return [...value];
}

/**
 * Fastify's own ajv compiler, twice: coercing for query strings and path parameters, strict for
 * bodies. A route's schema is compiled at its first request that needs it, not at start-up: with
 * every route's schemas compiled at `ready()`, ajv (and ajv-formats) took ≈ 250 ms of the
 * daemon's ≈ 1 s to ready and kept the generated code of ≈ 100 validators in memory, for routes
 * most daemons never see. `compileNow` (tests) compiles each at once, as fastify would.
 */
export function lazyValidatorCompiler(options: { compileNow?: boolean } = {}): BuildCompilerFromPool {
  let factory: BuildCompilerFromPool | undefined;
  return (externalSchemas, poolOptions) => {
    let coercing: ((route: RouteDefinition) => Validate) | undefined;
    let strict: ((route: RouteDefinition) => Validate) | undefined;
    const compile = (route: RouteDefinition): Validate => {
      // loaded here, at the first validated request: a missing package fails that request with a 500 naming it (and logs it)
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- ajv loads at first use (start-up time and memory)
      factory ??= (require('@fastify/ajv-compiler') as typeof import('@fastify/ajv-compiler')).default();
      if (route.httpPart === 'body') {
        const strictOptions = { ...poolOptions, customOptions: { ...poolOptions?.customOptions, coerceTypes: false } } as Parameters<BuildCompilerFromPool>[1];
        strict ??= factory(externalSchemas, strictOptions) as (route: RouteDefinition) => Validate;
        return strict(route);
      }
      coercing ??= factory(externalSchemas, poolOptions) as (route: RouteDefinition) => Validate;
      return coercing(route);
    };
    // fastify reads only what Validate declares (the call, errors, schemaEnv); ajv's type names more
    return (route) => (options.compileNow === true ? compile(route) : compiledOnFirstUse(() => compile(route))) as unknown as ReturnType<ReturnType<BuildCompilerFromPool>>;
  };
}

/** An ajv validate function as fastify calls it: with the request as parent data, errors on the function. */
type Validate = ((data: unknown, dataCtx?: object) => boolean) & { errors?: unknown; schemaEnv?: unknown };

function compiledOnFirstUse(compile: () => Validate): Validate {
  let compiled: Validate | undefined;
  const validate: Validate = (data, dataCtx) => {
    compiled ??= compile();
    const ok = compiled(data, dataCtx);
    validate.errors = compiled.errors;
    return ok;
  };
  // fastify passes an ajv validator (one with a schemaEnv) the request as parent data, so a value
  // coerced at the root (a query string's array) replaces the request's: the same for this one
  validate.schemaEnv = true;
  return validate;
}

const badBody = (message: string) => Object.assign(new Error(message), { statusCode: 400, code: 'SUP_ERR_BAD_REQUEST' });

/**
 * A JSON request body: at most MAX_BODY_DEPTH levels deep (checked before parsing), and no key
 * that could reach an object's prototype (`__proto__`, `constructor.prototype`) at any depth.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw badBody('body: empty, but content-type says application/json');
  const problem = jsonDepthProblem(text, MAX_BODY_DEPTH);
  if (problem) throw badBody(problem);
  try {
    return JSON.parse(text, function reviver(this: unknown, key: string, value: unknown) {
      if (key === '__proto__' || (key === 'constructor' && value !== null && typeof value === 'object' && Object.hasOwn(value, 'prototype'))) {
        throw badBody(`body: a key named "${key === '__proto__' ? '__proto__' : 'constructor.prototype'}" is not accepted (at any depth)`);
      }
      return value;
    });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 400) throw err;
    throw badBody(`body: not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Scans JSON text for nesting deeper than `maxDepth` without parsing it (linear, constant
 * stack). Returns the problem naming the top-level field it happened under, or null.
 */
export function jsonDepthProblem(text: string, maxDepth: number): string | null {
  let depth = 0;
  let inString = false;
  let stringStart = -1;
  let lastTopString = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) {
        inString = false;
        if (depth === 1) lastTopString = text.slice(stringStart + 1, i);
      }
      continue;
    }
    if (c === 0x22) {
      inString = true;
      stringStart = i;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > maxDepth) {
        const field = depth > 2 && lastTopString && /^[A-Za-z0-9_.-]{1,64}$/.test(lastTopString) ? `body.${lastTopString}` : 'body';
        return `${field}: nested more than ${field === 'body' ? maxDepth : maxDepth - 1} levels deep`;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return null;
}

const PART: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

/** ajv errors → "body.logical_date: must be …; query.limit: must be <= 500", one entry per field. */
export function describeValidation(errors: readonly AjvError[], context = 'body'): string {
  const byField = new Map<string, string[]>();
  const add = (field: string, message: string) => {
    const list = byField.get(field) ?? [];
    if (!list.includes(message)) list.push(message);
    byField.set(field, list);
  };
  const base = PART[context] ?? context;
  for (const e of errors) {
    const at =
      base +
      e.instancePath
        .split('/')
        .slice(1)
        .map((p) => `.${p.replace(/~1/g, '/').replace(/~0/g, '~')}`)
        .join('');
    if (e.keyword === 'additionalProperties') add(`${at}.${String(e.params.additionalProperty)}`, 'is not a known field');
    else if (e.keyword === 'required') add(`${at}.${String(e.params.missingProperty)}`, 'is required');
    else if (e.keyword === 'anyOf' || e.keyword === 'oneOf') add(at, e.message ?? e.keyword);
    else add(at, e.message ?? e.keyword);
  }
  return [...byField].map(([field, messages]) => `${field}: ${messages.join(', ')}`).join('; ');
}

/** A 4xx from fastify itself (content type, body size, JSON syntax), phrased to name what is wrong. */
function describeClientError(error: HttpError, request: FastifyRequest): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return `content-type: ${JSON.stringify(String(request.headers['content-type'] ?? '')).slice(0, 120)} is not supported; send application/json`;
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `body: larger than ${BODY_LIMIT_BYTES} bytes`;
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'body: empty, but content-type says application/json';
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'content-length: does not match the body';
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return `body: not valid JSON (${error.message})`;
    default:
      if (error.name === 'SyntaxError') return `body: not valid JSON (${error.message})`;
      if (/^[a-z][\w.-]*: /i.test(error.message)) return error.message;
      return `request: ${error.message}`;
  }
}

/** Adapts the project's Logger (a pino subset) to what fastify expects from a logger. */
export function toFastifyLogger(logger: Logger): FastifyBaseLogger {
  const l = logger as Logger & Partial<FastifyBaseLogger>;
  if (typeof l.fatal === 'function' && typeof l.trace === 'function') return l as unknown as FastifyBaseLogger;
  const adapted = {
    level: 'info',
    info: logger.info.bind(logger),
    warn: logger.warn.bind(logger),
    error: logger.error.bind(logger),
    debug: logger.debug.bind(logger),
    fatal: logger.error.bind(logger),
    trace: logger.debug.bind(logger),
    silent: () => undefined,
    child: (bindings: Record<string, unknown>) => toFastifyLogger(logger.child(bindings)),
  };
  return adapted;
}
