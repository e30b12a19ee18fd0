import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface Readiness {
  ready: boolean;
  /** Per component: true when ready, or the reason it is not. */
  components: Record<string, true | string>;
  /** Which replica leads (a replica that does not lead is still ready). */
  leader?: { self: boolean; holder: string | null; epoch: number | null };
}

/** The open endpoints: liveness, readiness and the Prometheus scrape. */
export function registerProbeRoutes(app: FastifyInstance, deps: { registry: Registry; readiness: () => Readiness }): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const r = deps.readiness();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', components: r.components, ...(r.leader ? { leader: r.leader } : {}) });
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const body = await deps.registry.metrics();
    return reply.header('content-type', deps.registry.contentType).send(body);
  });
}
