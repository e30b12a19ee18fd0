/**
 * Health status of one signal. Ordered ok < warn < crit; `unknown` means the probe could not
 * run (or its answer could not be understood). When statuses are combined the worst wins, and
 * `unknown` ranks between warn and crit: "we cannot see" is worse than a warning but is not
 * proof of an outage.
 */
export type Status = 'ok' | 'warn' | 'unknown' | 'crit';

export const STATUSES: readonly Status[] = ['ok', 'warn', 'unknown', 'crit'] as const;

const RANK: Record<Status, number> = { ok: 0, warn: 1, unknown: 2, crit: 3 };

/** Numeric value used by the `supervisor_check_status` gauge: 0 ok, 1 warn, 2 unknown, 3 crit. */
export function statusRank(status: Status): number {
  return RANK[status];
}

export function worstStatus(statuses: Iterable<Status>): Status {
  let worst: Status = 'ok';
  for (const s of statuses) if (RANK[s] > RANK[worst]) worst = s;
  return worst;
}

export function isAtLeast(status: Status, threshold: Status): boolean {
  return RANK[status] >= RANK[threshold];
}

export function isStatus(value: unknown): value is Status {
  return typeof value === 'string' && value in RANK;
}
