import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Registry } from 'prom-client';
import { acceptsGzip, gzipChunks, plainBuffer, plainBytes, plainLength, type ExpositionChunk } from '../../metrics/deflate-segment';

/** A registry that hands out its exposition as buffers (src/metrics/snapshot-gauge.ts FastRegistry). */
type ChunkedRegistry = Registry & { exposition?: () => Promise<ExpositionChunk[]> };

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

  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    const registry = deps.registry as ChunkedRegistry;
    reply.header('content-type', registry.contentType);
    if (typeof registry.exposition !== 'function') return reply.send(await registry.metrics());
    // The kept chunks, never the whole text as one string (46 MB at 200,000 lag series): to a
    // client that accepts gzip (Prometheus does) the kept compressed batches as they are, in
    // one gzip member; to any other the text, inflated a batch at a time as it is sent.
    const chunks = await registry.exposition();
    reply.header('vary', 'accept-encoding');
    if (acceptsGzip(request.headers['accept-encoding'])) {
      const gzipped = gzipChunks(chunks);
      reply.header('content-encoding', 'gzip');
      return send(reply, gzipped, () => Readable.from(gzipped, { objectMode: false }));
    }
    return send(reply, chunks, () => Readable.from(plainBytes(chunks), { objectMode: false }));
  });
}

/** Chunks of a response with their length: one buffer when small, else `stream` (a batch at a time). */
function send(reply: FastifyReply, chunks: readonly ExpositionChunk[], stream: () => Readable): FastifyReply {
  const length = plainLength(chunks);
  if (length < 1024 * 1024) return reply.send(plainBuffer(chunks));
  return reply.header('content-length', length).send(stream());
}
