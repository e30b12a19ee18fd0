/**
 * `supervisor worker [--concurrency N] [--name NAME] [--grace D] [--listen HOST:PORT]` — a task
 * worker: claims the tries a daemon in `executor.mode: workers` queues in the shared store and
 * runs them (src/engine/worker.ts) until SIGTERM/SIGINT.
 *
 * With `--listen` (or `executor.worker_listen`) it serves /healthz, /readyz and /metrics
 * (src/server/worker-app.ts) from before its first claim until its running tries have finished
 * on shutdown, so a probe sees it draining.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { createTaskWorker } from '../../engine/worker';
import { createLogger } from '../../logging';
import { parseDuration } from '../../config/duration';
import { parseListenAddress, type ListenAddress } from '../../config/listen';
import { createMetricsRegistry } from '../../metrics/registry';
import { registerWorkerMetrics } from '../../metrics/worker';
import { createHttpListener, type HttpListener } from '../../server/listener';
import { buildWorkerApp, workerReadiness } from '../../server/worker-app';
import { storeHealth } from '../../store/database';
import { VERSION } from '../../version';
import { createSqliteOutboxStore } from '../../store/outbox';
import { createRunStore } from '../../store/runs';
import { systemClock } from '../../shared/clock';
import { armKillBackstop, createShutdownController } from '../../shutdown';
import { createOperators } from '../../wiring/operators';
import type { CliContext } from '../context';

function parseConcurrency(value: string): number {
  const n = /^\d{1,4}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!(Number.isInteger(n) && n >= 1 && n <= 1024)) throw new InvalidArgumentError(`${JSON.stringify(value)} is not a concurrency; give an integer from 1 to 1024.`);
  return n;
}

function parseName(value: string): string {
  if (!/^[A-Za-z0-9_.:@-]{1,100}$/.test(value)) throw new InvalidArgumentError(`${JSON.stringify(value)} is not a worker name; use 1-100 letters, digits and _ . : @ -`);
  return value;
}

function parseListen(value: string): ListenAddress {
  const parsed = parseListenAddress(value);
  if ('problem' in parsed) throw new InvalidArgumentError(`${parsed.problem}.`);
  return parsed;
}

function parseGrace(value: string): number {
  const ms = parseDuration(value);
  if (ms === null || !(ms >= 0) || ms > 3_600_000) throw new InvalidArgumentError(`${JSON.stringify(value)} is not a grace; give a duration such as 30s (at most 1h).`);
  return ms;
}

export function registerWorkerCommand(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('worker')
    .description('run task tries queued by a daemon in executor.mode workers (same store), until SIGTERM/SIGINT')
    .option('--concurrency <n>', 'tries run at the same time (default 4)', parseConcurrency, 4)
    .option('--name <name>', 'this worker in task_queue.claimed_by (default host:pid)', parseName)
    .option('--grace <duration>', 'on SIGTERM, how long running tries may finish before they are stopped and released (default 30s)', parseGrace)
    .option('--listen <host:port>', 'serve /healthz, /readyz and /metrics here (a bare port: on 127.0.0.1; default executor.worker_listen, else none)', parseListen)
    .action(async (opts: { concurrency: number; name?: string; grace?: number; listen?: ListenAddress }) => {
      const loaded = ctx.loadConfig();
      const config = loaded.config;
      const db = ctx.openStore();
      const logger = createLogger({ level: config.logging.level, format: config.logging.format });
      const name = opts.name ?? `${os.hostname()}:${process.pid}`;
      const configured = config.executor.worker_listen === undefined ? undefined : parseListenAddress(config.executor.worker_listen);
      const listen = opts.listen ?? (configured && !('problem' in configured) ? configured : undefined);
      const outbox = createSqliteOutboxStore(db);
      const statusDir = fs.mkdtempSync(path.join(os.tmpdir(), 'supervisor-worker-status-'));
      const worker = createTaskWorker({
        db,
        runs: createRunStore(db),
        // the same operators as the daemon (a notify/alert task, kept local by default, would enqueue into the shared outbox)
        operators: createOperators({ config, notify: (n) => void outbox.enqueue(n, config.alerts.route.sinks, Date.now()) }),
        name,
        concurrency: opts.concurrency,
        clock: systemClock,
        logger,
        statusDir,
        heartbeatIntervalMs: Math.max(200, Math.min(2_000, Math.floor(config.executor.heartbeat_timeout / 3))),
        // under the shutdown's hard bound: the tries get the grace, then their SIGTERM → SIGKILL
        shutdownGraceMs: opts.grace ?? 30_000,
      });
      let started = false;
      let http: HttpListener | undefined;
      if (listen) {
        const registry = createMetricsRegistry({ version: VERSION });
        registerWorkerMetrics({ registry, worker });
        const app = buildWorkerApp({ logger, registry, readiness: workerReadiness({ store: () => storeHealth(db), worker, started: () => started }) });
        http = createHttpListener({ app, ...listen, where: opts.listen ? '--listen' : `${loaded.file}: executor.worker_listen`, logger });
        try {
          // before the first claim: a refused address (in use, not this host's) ends the command with nothing started
          await http.start();
        } catch (err) {
          await http.stop();
          fs.rmSync(statusDir, { recursive: true, force: true });
          throw err;
        }
      }
      const shutdown = createShutdownController({
        stop: async () => {
          await worker.stop();
          // after the drain: until then /readyz says draining
          await http?.stop();
          fs.rmSync(statusDir, { recursive: true, force: true });
          ctx.close();
        },
        logger,
        exit: (code) => process.exit(code),
        armBackstop: armKillBackstop,
        // the grace, the tries' kill grace and a margin
        hardMs: (opts.grace ?? 30_000) + 20_000,
      });
      const onSignal = (signal: NodeJS.Signals): void => shutdown.onSignal(signal);
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      await worker.start();
      started = true;
      logger.info({ name, concurrency: opts.concurrency, store: db.name, ...(http ? { listen: http.url() } : {}) }, 'supervisor worker started');
      setExit(await shutdown.stopped);
    });
}
