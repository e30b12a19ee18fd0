/**
 * The leader-only roles of a replica, started when it gains the lease and stopped when it
 * loses it: the engine's scheduling (triggers, catchup, crash recovery, dispatch) and the alert
 * engine's evaluation with notifications. A lifecycle Component named `leader-roles`, started
 * after the engine and the alert engine; transitions run one at a time, in order, never inside
 * the call that changed the leadership (a fenced write refused in the middle of a dispatch).
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
    chain = chain.then(() => become(leader)).catch((err: unknown) => logger.error({ error: describeError(err).message, leader }, 'changing the leader-only roles failed'));
  }

  return {
    name: 'leader-roles',
    settled: () => chain,
    start() {
      if (subscription || stopped) return Promise.resolve();
      // leader$ replays the current state: a replica leading at start starts its roles now
      subscription = params.leadership.leader$.subscribe({ next: (s) => enqueue(s.leader) });
      return chain;
    },
    stop() {
      stopping ??= (async () => {
        subscription?.unsubscribe();
        await chain;
        stopped = true;
        params.engine.stopScheduling();
      })();
      return stopping;
    },
  };
}
