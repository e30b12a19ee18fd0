/**
 * Cron schedule ticks as a stream of triggers. croner computes the ticks (IANA time zones,
 * DST: a wall-clock time that does not exist in spring runs at the first valid minute after,
 * an hour repeated in autumn runs once); this module only waits for them.
 *
 * Timers: never one wait longer than `maxWaitMs` (30 s): after each wait the wall clock is
 * read again, so a suspended laptop or a clock step does not make a tick late by hours. When
 * the clock jumped past several ticks, only the newest one fires (catchup is the engine's
 * job) and the skipped ones are reported through `onMissed`.
 */
import { Cron } from 'croner';
import { Observable } from 'rxjs';
import { SupervisorError, type Clock, type Logger, type Trigger } from '../src/protocol';
import { silentLogger } from '../src/shared/logger';

export interface CronTriggerParams {
  pipeline: string;
  schedule: string;
  timezone: string;
  clock: Clock;
  logger?: Logger;
  /** Ticks strictly after this epoch ms are emitted (default: now at subscription). */
  after?: number;
  maxWaitMs?: number;
  /** Called with the ticks the stream skipped because the clock jumped past them. */
  onMissed?: (ticks: readonly number[]) => void;
}

/**
 * Zones that are UTC all year. They are scheduled with a fixed offset of 0 instead of through
 * Intl: the first Intl.DateTimeFormat maps ≈ 8 MB of ICU time-zone data into the process.
 */
const UTC_ZONES = new Set([
  'UTC',
  'Etc/UTC',
  'Etc/UCT',
  'Etc/Universal',
  'Etc/Zulu',
  'Etc/GMT',
  'Etc/GMT0',
  'Etc/GMT+0',
  'Etc/GMT-0',
  'Etc/Greenwich',
  'GMT',
  'UCT',
  'Universal',
  'Zulu',
]);

export interface ScheduleProblem {
  /** Which setting is wrong. */
  field: 'schedule' | 'timezone';
  message: string;
}

function zoneProblem(timezone: string): string | null {
  if (UTC_ZONES.has(timezone)) return null;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return null;
  } catch {
    return `unknown time zone ${JSON.stringify(timezone)} (use an IANA name such as "Europe/Berlin" or "UTC")`;
  }
}

function build(schedule: string, timezone: string): Cron {
  return new Cron(schedule, UTC_ZONES.has(timezone) ? { utcOffset: 0, paused: true } : { timezone, paused: true });
}

/**
 * Every problem of a (schedule, time zone) pair, without throwing: the config validation and
 * compileSchedule (what the daemon runs) both use this, so `config validate` and `start` agree.
 * A schedule is 5 or 6 fields (croner's 7th, the year, is not accepted) and must fire again.
 */
export function scheduleProblems(schedule: string, timezone: string): ScheduleProblem[] {
  const problems: ScheduleProblem[] = [];
  const zone = zoneProblem(timezone);
  if (zone) problems.push({ field: 'timezone', message: zone });
  const fields = schedule.trim().split(/\s+/).filter(Boolean);
  if (schedule.length > 200) {
    problems.push({ field: 'schedule', message: `invalid cron expression: ${schedule.length} characters long` });
    return problems;
  }
  if (!schedule.trim().startsWith('@') && fields.length !== 5 && fields.length !== 6) {
    problems.push({
      field: 'schedule',
      message: `invalid cron expression ${JSON.stringify(schedule)}: expected 5 fields (minute hour day month weekday) or 6 (with seconds first), got ${fields.length}`,
    });
    return problems;
  }
  let cron: Cron;
  try {
    cron = build(schedule, zone ? 'UTC' : timezone);
  } catch (cause) {
    problems.push({ field: 'schedule', message: `invalid cron expression ${JSON.stringify(schedule)}: ${(cause as Error).message.replace(/^CronPattern: /, '')}` });
    return problems;
  }
  if (cron.nextRun() === null) problems.push({ field: 'schedule', message: `cron expression ${JSON.stringify(schedule)} never fires (no such date)` });
  return problems;
}

/** Parses a schedule, with an error naming the pipeline. */
export function compileSchedule(schedule: string, timezone: string, where = 'schedule'): Cron {
  const problems = scheduleProblems(schedule, timezone);
  if (problems.length > 0) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', problems.map((p) => p.message).join('; '), { where });
  }
  return build(schedule, timezone);
}

/** The first tick strictly after `after`, or null when the schedule never fires again. */
export function nextTick(cron: Cron, after: number): number | null {
  const next = cron.nextRun(new Date(after));
  return next ? next.getTime() : null;
}

/** Ticks in (from, to], oldest first, at most `limit`. */
export function ticksBetween(cron: Cron, from: number, to: number, limit = 10_000): number[] {
  const out: number[] = [];
  let t = nextTick(cron, from);
  while (t !== null && t <= to && out.length < limit) {
    out.push(t);
    t = nextTick(cron, t);
  }
  return out;
}

/** Ticks in [from, to] (inclusive start, for backfill date ranges). */
export function ticksInRange(cron: Cron, from: number, to: number, limit = 10_000): number[] {
  return ticksBetween(cron, from - 1, to, limit);
}

export function createCronTrigger$(params: CronTriggerParams): Observable<Trigger> {
  const cron = compileSchedule(params.schedule, params.timezone, `pipelines.${params.pipeline}.schedule`);
  const { clock } = params;
  const maxWait = params.maxWaitMs ?? 30_000;
  const logger = (params.logger ?? silentLogger).child({ component: 'streams', name: 'cron' });

  return new Observable<Trigger>((subscriber) => {
    const ac = new AbortController();
    const loop = async (): Promise<void> => {
      let last = params.after ?? clock.now();
      for (;;) {
        const tick = nextTick(cron, last);
        if (tick === null) {
          logger.info({ pipeline: params.pipeline }, 'schedule has no further ticks');
          subscriber.complete();
          return;
        }
        for (let now = clock.now(); now < tick; now = clock.now()) {
          await clock.sleep(Math.min(tick - now, maxWait), ac.signal);
        }
        // Woke up past several ticks (suspend, clock step): fire the newest only.
        const missed = ticksBetween(cron, tick, clock.now(), 10_000);
        const fire = missed.length > 0 ? missed.pop()! : tick;
        if (missed.length > 0 || fire !== tick) {
          const skipped = [tick, ...missed];
          logger.warn({ pipeline: params.pipeline, skipped: skipped.length }, 'the clock jumped past schedule ticks; firing the newest only');
          params.onMissed?.(skipped);
        }
        subscriber.next({ pipeline: params.pipeline, logicalDate: fire, kind: 'cron', params: {}, firedAt: clock.now() });
        last = fire;
      }
    };
    loop().catch((err: unknown) => {
      if (ac.signal.aborted) return;
      // Only a broken clock gets here; report it without killing the other streams.
      logger.error({ pipeline: params.pipeline, error: (err as Error).message }, 'cron stream stopped');
      subscriber.error(err);
    });
    return () => ac.abort();
  });
}
