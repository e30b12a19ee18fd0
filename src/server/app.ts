import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import swagger from '@fastify/swagger';
import type { Registry } from 'prom-client';
import type { Logger } from '../protocol';
import type { TokenStore } from '../store/tokens';
import { createAuthHook } from './auth';
import { registerProbeRoutes, type Readiness } from './routes/probes';

export interface BuildAppParams {
  logger: Logger;
  registry: Registry;
  readiness: () => Readiness;
  tokens: Pick<TokenStore, 'verify'>;
  authFailuresPerMinute?: number;
  /** Authenticated /api/v1 route plugins (health, pipelines, runs, alerts…), registered under the prefix. */
  api?: ReadonlyArray<FastifyPluginAsync>;
  version: string;
}

/**
 * Builds the HTTP app and never listens: the daemon calls `listen`, tests call `inject()`.
 * `/metrics`, `/healthz`, `/readyz` are open; everything under `/api/v1` needs a bearer token
 * except the OpenAPI document.
 */
export async function buildApp(params: BuildAppParams): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: toFastifyLogger(params.logger.child({ component: 'http' })),
    // request lines are noise for a supervisor; errors are logged by the error handler
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1_048_576,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Pipeline Supervisor API', version: params.version, description: 'Runs, pipelines, health, alerts and silences. Bearer token required (supervisor tokens create).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown; code?: string }, request, reply) => {
    if (error.validation) {
      return reply.code(400).send({ code: 'SUP_ERR_BAD_REQUEST', message: `invalid request: ${error.message}` });
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error, route: request.routeOptions.url }, 'request failed');
    return reply.code(status).send({
      code: status >= 500 ? 'SUP_ERR_INTERNAL' : (error.code?.startsWith('SUP_ERR_') ? error.code : 'SUP_ERR_BAD_REQUEST'),
      message: status >= 500 ? 'internal error (see the supervisor log)' : error.message,
    });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ code: 'SUP_ERR_NOT_FOUND', message: `no route ${request.method} ${request.url}` }));

  registerProbeRoutes(app, { registry: params.registry, readiness: params.readiness });

  const authenticate = createAuthHook({ tokens: params.tokens, failuresPerMinute: params.authFailuresPerMinute ?? 10 });
  await app.register(
    async (api) => {
      api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
      await api.register(async (secured) => {
        secured.addHook('onRequest', authenticate);
        // unknown API paths answer 401 to strangers, 404 only to token holders
        secured.setNotFoundHandler({ preHandler: authenticate }, (request, reply) =>
          reply.code(404).send({ code: 'SUP_ERR_NOT_FOUND', message: `no route ${request.method} ${request.url}` }),
        );
        for (const plugin of params.api ?? []) await secured.register(plugin);
      });
    },
    { prefix: '/api/v1' },
  );
  return app;
}

/** Adapts the project's Logger (a pino subset) to what fastify expects from a logger. */
function toFastifyLogger(logger: Logger): FastifyBaseLogger {
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
  return adapted as unknown as FastifyBaseLogger;
}
