import { z } from 'zod';
import { durationSchema } from './duration';

/**
 * The leader lease (several replicas on one PostgreSQL store; src/wiring/leadership.ts). On
 * SQLite the one daemon is always the leader and these are not used.
 */
export const leaderSchema = z
  .strictObject({
    /**
     * How long a lease lasts without renewal: a leader that stops answering (stopped, cut off,
     * wedged) is replaced after at most this long. One whose process dies is replaced sooner: at
     * once on PostgreSQL (its advisory-lock session ends), at the next try on SQLite.
     */
    lease: durationSchema({ min: 1_000, max: 3_600_000 }).default(10_000),
    /** How often the leader renews (well under `lease`). */
    renew_interval: durationSchema({ min: 100, max: 600_000 }).default(2_000),
    /** A new leader fires the cron ticks it finds unfired since the last one, at most this far back (even with `catchup: false`). */
    catchup_window: durationSchema({ min: 0, max: 7 * 86_400_000 }).default(3_600_000),
  })
  .refine((l) => l.renew_interval * 2 <= l.lease, { error: 'leader.renew_interval must be at most half of leader.lease', path: ['renew_interval'] });
