/**
 * A task worker's metrics (`supervisor worker --listen`), read from its facts at scrape time:
 * tries running, claimed and finished by outcome, heartbeat and claim-poll failures, its
 * concurrency and whether it is draining. On the worker's own registry (with the process
 * metrics of createMetricsRegistry), never the daemon's.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { TaskWorkerFacts } from '../engine/worker';

export interface WorkerMetricsParams {
  registry: Registry;
  worker: { facts(): TaskWorkerFacts; running(): readonly string[] };
}

export function registerWorkerMetrics({ registry, worker }: WorkerMetricsParams): void {
  const registers = [registry];
  new Gauge({
    name: 'supervisor_worker_tries_running',
    help: 'Task tries running on this worker now.',
    registers,
    collect() {
      this.set(worker.running().length);
    },
  });
  new Gauge({
    name: 'supervisor_worker_concurrency',
    help: 'Tries this worker runs at the same time at most (--concurrency).',
    registers,
    collect() {
      this.set(worker.facts().concurrency);
    },
  });
  new Gauge({
    name: 'supervisor_worker_draining',
    help: 'Whether this worker is shutting down (1: no new claims, running tries finishing) or not (0).',
    registers,
    collect() {
      this.set(worker.facts().draining ? 1 : 0);
    },
  });
  new Counter({
    name: 'supervisor_worker_tries_claimed_total',
    help: 'Task tries this worker claimed from the store’s queue.',
    registers,
    collect() {
      this.reset();
      this.inc(worker.facts().claimed);
    },
  });
  new Counter({
    name: 'supervisor_worker_tries_finished_total',
    help: 'Task tries that ended on this worker, by outcome: done (the operator returned), failed (it threw; the runner retries per policy), lost (stopped by this worker’s shutdown and released for a retry elsewhere).',
    labelNames: ['outcome'] as const,
    registers,
    collect() {
      this.reset();
      for (const [outcome, n] of Object.entries(worker.facts().finished)) this.inc({ outcome }, n);
    },
  });
  new Counter({
    name: 'supervisor_worker_heartbeat_failures_total',
    help: 'Heartbeat writes the store refused or did not answer (a worker silent past executor.heartbeat_timeout loses its tries).',
    registers,
    collect() {
      this.reset();
      this.inc(worker.facts().heartbeatFailures);
    },
  });
  new Counter({
    name: 'supervisor_worker_claim_errors_total',
    help: 'Claim polls that failed with a store error (tried again at the next poll).',
    registers,
    collect() {
      this.reset();
      this.inc(worker.facts().claimErrors);
    },
  });
}
