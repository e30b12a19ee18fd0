/**
 * The leader-only roles of a replica, started when it gains the lease and stopped when it
 * loses it: the engine's scheduling (triggers, catchup, crash recovery, dispatch) and the alert
 * engine's evaluation with notifications. A lifecycle Component named `leader-roles`, started
 * after the engine and the alert engine; transitions run one at a time, in order, never inside
 * the call that changed the leadership (a fenced write refused in the middle of a dispatch).
 *
 * Becoming the leader starts with the engine's crash recovery (fenced, src/engine/recovery.ts),
 * which adopts the dead leader's tries on task workers. When it fails (the store did not answer),
 * the roles are tried again after `retryMs` while this replica still leads, instead of leading
 * without scheduling.
 */
import type { Subscription } from 'rxjs';
import { describeError, type Component, type Logger } from '../protocol';
import type { Engine, SchedulingOptions } from '../engine/engine';
import type { Leadership } from './leadership';
import type { LeaderAlerts } from './leader-alerts';

export interface LeaderRolesParams {
  leadership: Pick<Leadership, 'leader$' | 'shared'>;
  engine: Pick<Engine, 'startScheduling' | 'stopScheduling'>;
  alerts: Pick<LeaderAlerts, 'setRole'>;
  logger: Logger;
  /** `leader.catchup_window` (ms): a new leader of a shared store fires the ticks missed since the last fired one. */
  catchupWindowMs: number;
  /** After a failed start of the leader roles, try again this much later while still leading. Default 2 s. */
  retryMs?: number;
}

export interface LeaderRoles extends Component {
  readonly name: 'leader-roles';
  /** Resolves when the transitions asked so far are done (tests). */
  settled(): Promise<void>;
}

export function createLeaderRoles(params: LeaderRolesParams): LeaderRoles {
  const logger = params.logger.child({ component: 'leadership', name: 'roles' });
  let subscription: Subscription | undefined;
  let chain: Promise<void> = Promise.resolve();
  let leading = false;
  /** What leader$ said last. */
  let wanted = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let stopping: Promise<void> | undefined;

  async function become(leader: boolean): Promise<void> {
    if (stopped || leader === leading) return;
    leading = leader;
    if (leader) {
      await params.alerts.setRole('leader');
      if (stopped || !leading) return;
      const options: SchedulingOptions = params.leadership.shared ? { catchupWindowMs: params.catchupWindowMs } : {};
      await params.engine.startScheduling(options);
    } else {
      params.engine.stopScheduling();
      await params.alerts.setRole('follower');
    }
  }

  function enqueue(leader: boolean): void {
    chain = chain
      .then(() => become(leader))
      .catch((err: unknown) => {
        logger.error({ error: describeError(err).message, leader }, 'changing the leader-only roles failed');
        if (!leader || stopped) return;
        // not scheduling after all: start again later if this replica still leads then
        leading = false;
        params.engine.stopScheduling();
        if (retryTimer) clearTimeout(retryTimer);
        retryTimer = setTimeout(() => {
          retryTimer = undefined;
          if (wanted && !stopped) enqueue(true);
        }, params.retryMs ?? 2_000);
        retryTimer.unref();
      });
  }

  return {
    name: 'leader-roles',
    settled: () => chain,
    start() {
      if (subscription || stopped) return Promise.resolve();
      // leader$ replays the current state: a replica leading at start starts its roles now
      subscription = params.leadership.leader$.subscribe({
        next: (s) => {
          wanted = s.leader;
          enqueue(s.leader);
        },
      });
      return chain;
    },
    stop() {
      stopping ??= (async () => {
        subscription?.unsubscribe();
        if (retryTimer) clearTimeout(retryTimer);
        await chain;
        stopped = true;
        params.engine.stopScheduling();
      })();
      return stopping;
    },
  };
}
