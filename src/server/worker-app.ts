/**
 * The task worker's HTTP endpoint (`supervisor worker --listen`): the daemon's open probe
 * routes (src/server/routes/probes.ts) on a fastify app of their own, and nothing else — no
 * API, no token store, no UI.
 *
 * - `/healthz`: the process answers.
 * - `/readyz`: 200 while the store answers and the worker claims; 503 with the reason when the
 *   store does not answer (PostgreSQL down, its breaker open) or the worker is draining
 *   (SIGTERM received: no new claims, its running tries finishing).
 * - `/metrics`: the worker's registry (src/metrics/worker.ts plus the process metrics).
 *
 * Builds the app and never listens: `supervisor worker` listens (createHttpListener), tests
 * may `inject()`.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../protocol';
import type { TaskWorkerFacts } from '../engine/worker';
import { toFastifyLogger } from './app';
import { registerProbeRoutes, type Readiness } from './routes/probes';

export interface BuildWorkerAppParams {
  logger: Logger;
  registry: Registry;
  readiness: () => Readiness;
}

export function buildWorkerApp(params: BuildWorkerAppParams): FastifyInstance {
  const app = Fastify({
    loggerInstance: toFastifyLogger(params.logger.child({ component: 'http' })),
    // probes every few seconds: request lines would be all the worker logs
    logController: new LogController({ disableRequestLogging: true }),
    // nothing here reads a body
    bodyLimit: 1024,
  });
  registerProbeRoutes(app, { registry: params.registry, readiness: params.readiness });
  return app;
}

export interface WorkerReadinessParams {
  /** Whether the store answers (storeHealth of src/store/database.ts). */
  store: () => { ok: boolean; reason?: string };
  worker: { facts(): TaskWorkerFacts; running(): readonly string[] };
  /** Whether the worker has been started (claims). */
  started: () => boolean;
}

/** The worker's readiness: the store answers, and the worker is started and not draining. */
export function workerReadiness(params: WorkerReadinessParams): () => Readiness {
  return () => {
    const store = params.store();
    const facts = params.worker.facts();
    const worker: true | string = facts.draining
      ? `draining: shutting down, no new claims (${params.worker.running().length} running tries finishing)`
      : params.started()
        ? true
        : 'not started';
    const components: Record<string, true | string> = { store: store.ok ? true : (store.reason ?? 'unavailable'), worker };
    return { ready: Object.values(components).every((v) => v === true), components };
  };
}
