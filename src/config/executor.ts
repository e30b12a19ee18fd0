import { z } from 'zod';
import { durationSchema } from './duration';
import { listenAddressSchema } from './listen';

/**
 * Where task tries run (src/engine/executor.ts):
 *
 *     executor:
 *       mode: workers            # local (default): in the daemon; workers: `supervisor worker` processes
 *       heartbeat_timeout: 30s   # a claimed try whose worker has not heartbeated this long is lost (retried)
 *       local_operators: [notify, alert, collect_metrics]   # these still run in the daemon
 *       worker_listen: 127.0.0.1:9464   # `supervisor worker`'s /healthz /readyz /metrics (or --listen); off when unset
 */
export const executorSchema = z.strictObject({
  mode: z.enum(['local', 'workers']).default('local'),
  /** A worker that has not heartbeated this long has lost its tries (SUP_ERR_WORKER_LOST, retried per policy). */
  heartbeat_timeout: durationSchema({ min: 1_000, max: 3_600_000 }).default(30_000),
  /** How often the runner reads a queued try's row while it waits for its outcome. */
  poll_interval: durationSchema({ min: 20, max: 60_000 }).default(200),
  /**
   * Operators that stay in the daemon in `workers` mode: they use the daemon's own state (the
   * latest signals) or enqueue notifications, which only the leader does (fenced).
   */
  local_operators: z.array(z.string().min(1)).default(['notify', 'alert', 'collect_metrics']),
  /** Where `supervisor worker` serves /healthz, /readyz and /metrics (HOST:PORT or a PORT on 127.0.0.1); `--listen` overrides it. */
  worker_listen: listenAddressSchema.optional(),
});

export type ExecutorConfig = z.output<typeof executorSchema>;
