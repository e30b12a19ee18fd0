/**
 * The alert engine under leadership. alerts/ knows nothing of leases: this wrapper (the
 * composition root's) gives it stores whose writes are fenced by the leader's epoch, and swaps
 * the engine when this replica gains or loses the lease:
 *
 * - **leading**: an engine whose alert-state writes and outbox enqueues go through
 *   `leadership.fenced` (a deposed leader's enqueue fails before anything is written);
 * - **following**: an engine that evaluates the same signals for the UI and `/metrics`, with
 *   stores that persist nothing and enqueue nothing.
 *
 * Each swap stops the old engine and starts a new one, which restores the persisted state (the
 * leader's) first: the new leader continues the old one's groups and dedup keys.
 */
import { BehaviorSubject, switchMap, type Observable } from 'rxjs';
import type { AlertEngine, AlertView } from '../../alerts';
import type { AlertEngineErrorStage, AlertStateStore, Logger, OutboxStore, RuleFiring } from '../protocol';
import type { Leadership } from './leadership';

export type AlertsRole = 'leader' | 'follower';

/** Alert state writes fenced by the leader's epoch. */
export function fencedAlertStateStore(store: AlertStateStore, leadership: Pick<Leadership, 'fenced'>): AlertStateStore {
  return {
    loadAlerts: () => store.loadAlerts(),
    loadGroups: () => store.loadGroups(),
    saveAlert: (record) => leadership.fenced(() => store.saveAlert(record)),
    deleteAlert: (key) => leadership.fenced(() => store.deleteAlert(key)),
    saveGroup: (record) => leadership.fenced(() => store.saveGroup(record)),
    deleteGroup: (key) => leadership.fenced(() => store.deleteGroup(key)),
  };
}

/** Outbox enqueues fenced by the leader's epoch; delivery (any replica's) is not. */
export function fencedOutboxStore(store: OutboxStore, leadership: Pick<Leadership, 'fenced'>): OutboxStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'enqueue') return (...args: Parameters<OutboxStore['enqueue']>): number[] => leadership.fenced(() => target.enqueue(...args));
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A follower's alert state: read what the leader persisted, write nothing. */
export function readOnlyAlertStateStore(store: AlertStateStore): AlertStateStore {
  return {
    loadAlerts: () => store.loadAlerts(),
    loadGroups: () => store.loadGroups(),
    saveAlert: () => undefined,
    deleteAlert: () => undefined,
    saveGroup: () => undefined,
    deleteGroup: () => undefined,
  };
}

/** A follower's outbox: enqueues nothing (the leader does). */
export function followerOutboxStore(store: OutboxStore): OutboxStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'enqueue') return (): number[] => [];
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export interface LeaderAlertsParams {
  /** Builds a (not started) alert engine for a role, with the stores of that role. */
  create(role: AlertsRole): AlertEngine;
  /** The role at start. */
  initialRole: () => AlertsRole;
  logger: Logger;
}

/** An AlertEngine whose inner engine follows the replica's role; `setRole` swaps it. */
export interface LeaderAlerts extends AlertEngine {
  role(): AlertsRole | null;
  setRole(role: AlertsRole): Promise<void>;
}

export function createLeaderAlerts(params: LeaderAlertsParams): LeaderAlerts {
  const logger = params.logger.child({ component: 'alerts', name: 'leadership' });
  const current = new BehaviorSubject<AlertEngine | null>(null);
  let currentRole: AlertsRole | null = null;
  let closed = false;
  let swapping: Promise<void> = Promise.resolve();
  let stopping: Promise<void> | undefined;
  const noErrors: Record<AlertEngineErrorStage, number> = { event: 0, tick: 0, input: 0, silences: 0, store: 0, notify: 0 };
  /** Errors of engines already swapped out, so the counters never go down. */
  const pastErrors: Record<AlertEngineErrorStage, number> = { ...noErrors };

  const alerts$: Observable<readonly AlertView[]> = current.pipe(switchMap((engine) => engine?.alerts$ ?? new BehaviorSubject<readonly AlertView[]>([])));

  async function swap(role: AlertsRole): Promise<void> {
    if (closed || role === currentRole) return;
    const old = current.value;
    if (old) {
      const errors = old.errorCounts();
      for (const k of Object.keys(pastErrors) as AlertEngineErrorStage[]) pastErrors[k] += errors[k];
      await old.stop();
    }
    if (closed) return;
    const engine = params.create(role);
    currentRole = role;
    current.next(engine);
    await engine.start();
    logger.info({ role }, role === 'leader' ? 'alert engine evaluating and notifying (leader)' : 'alert engine evaluating for display only (follower)');
  }

  const serialized = (role: AlertsRole): Promise<void> => {
    swapping = swapping.then(
      () => swap(role),
      () => swap(role),
    );
    return swapping;
  };

  return {
    name: 'alerts',
    alerts$,
    role: () => currentRole,
    setRole: serialized,
    evaluate: () => current.value?.evaluate(),
    snapshot: () => current.value?.snapshot() ?? [],
    errorCounts() {
      const now = current.value?.errorCounts() ?? noErrors;
      const out = { ...noErrors };
      for (const k of Object.keys(out) as AlertEngineErrorStage[]) out[k] = pastErrors[k] + now[k];
      return out;
    },
    firingByRule: (): RuleFiring[] => current.value?.firingByRule() ?? [],
    start: () => serialized(params.initialRole()),
    stop() {
      stopping ??= (async () => {
        await swapping.catch(() => undefined);
        closed = true;
        await current.value?.stop();
        current.complete();
      })().catch((err: unknown) => logger.error({ err: (err as Error)?.message }, 'stopping the alert engine failed'));
      return stopping;
    },
  };
}
