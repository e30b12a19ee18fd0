import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** A registry that hands out its exposition as buffers (src/metrics/snapshot-gauge.ts FastRegistry). */
type ChunkedRegistry = Registry & { exposition?: () => Promise<Buffer[]> };

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
    const registry = deps.registry as ChunkedRegistry;
    reply.header('content-type', registry.contentType);
    if (typeof registry.exposition !== 'function') return reply.send(await registry.metrics());
    // The kept buffers as they are: no string of the whole text (48 MB at 200,000 lag series)
    // and no copy of it; one buffer when the text is small.
    const chunks = await registry.exposition();
    let length = 0;
    for (const c of chunks) length += c.length;
    if (length < 1024 * 1024) return reply.send(Buffer.concat(chunks, length));
    return reply.header('content-length', length).send(Readable.from(chunks, { objectMode: false }));
  });
}
