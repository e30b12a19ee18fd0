/**
 * The next ticks of a pipeline's schedule, as `dags next-execution` and
 * `GET /api/v1/pipelines/:id/next` show them: each tick in UTC and as the wall-clock time in the
 * pipeline's IANA time zone with its offset. The ticks come from croner through streams/cron.ts,
 * the same code the daemon schedules with, so DST is handled the same way (a spring-forward
 * time that does not exist fires at the first valid minute after; a repeated autumn hour once).
 * Pure: the caller passes `after`, no clock is read here.
 */
import { compileSchedule, nextTick } from '../../streams/cron';
import type { PipelineSpec } from './dag';

/** Bounds of N, shared by the CLI (`-n`) and the API (`?n=`). */
export const NEXT_EXECUTIONS_MAX = 1000;
export const NEXT_EXECUTIONS_DEFAULT = 5;

export interface ScheduleTick {
  /** Epoch milliseconds of the tick (the run's logical date). */
  logicalDate: number;
  /** The tick in UTC, ISO 8601 (`2026-03-29T01:00:00.000Z`). */
  utc: string;
  /** The wall-clock time in the pipeline's zone with its offset (`2026-03-29T03:00:00+02:00`). */
  local: string;
  /** The zone's UTC offset at the tick (`+02:00`). */
  offset: string;
}

export interface SchedulePreview {
  pipeline: string;
  schedule: string | null;
  timezone: string;
  /** Ticks strictly after this instant. */
  after: number;
  ticks: ScheduleTick[];
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `+02:00`; `-04:56:02` for the local mean times some zones had before 1900. */
function formatOffset(seconds: number): string {
  const sign = seconds < 0 ? '-' : '+';
  const abs = Math.abs(seconds);
  const hm = `${sign}${pad(Math.floor(abs / 3600))}:${pad(Math.floor(abs / 60) % 60)}`;
  return abs % 60 === 0 ? hm : `${hm}:${pad(abs % 60)}`;
}

/**
 * A formatter of wall-clock parts in `timezone`; UTC-like zones are done without Intl (as
 * streams/cron.ts does: the first Intl zone formatter maps megabytes of ICU data).
 */
function wallClock(timezone: string): (t: number) => { local: string; offset: string } {
  const asUtc = (t: number, offsetSeconds: number): { local: string; offset: string } => {
    const d = new Date(t + offsetSeconds * 1000);
    const local = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
    const offset = formatOffset(offsetSeconds);
    return { local: `${local}${offset}`, offset };
  };
  let utcLike = timezone === 'UTC' || timezone === 'Etc/UTC' || timezone === 'GMT' || timezone === 'Etc/GMT';
  let fmt: Intl.DateTimeFormat | undefined;
  if (!utcLike) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    utcLike = fmt.resolvedOptions().timeZone === 'UTC';
  }
  if (utcLike || !fmt) return (t) => asUtc(t, 0);
  const formatter = fmt;
  return (t) => {
    const parts = formatter.formatToParts(new Date(t));
    const part = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === type)?.value);
    // the wall clock read as if it were UTC, minus the instant: the zone's offset at t
    // (setUTCFullYear, not Date.UTC, which reads the years 0–99 as 1900–1999)
    const wall = new Date(0);
    wall.setUTCFullYear(part('year'), part('month') - 1, part('day'));
    wall.setUTCHours(part('hour'), part('minute'), part('second'), 0);
    const whole = Math.floor(t / 1000) * 1000;
    return asUtc(t, Math.round((wall.getTime() - whole) / 1000));
  };
}

/** Formats one instant in a zone: `{ local, offset }`. */
export function formatInZone(t: number, timezone: string): { local: string; offset: string } {
  return wallClock(timezone)(t);
}

/**
 * The next `n` ticks strictly after `after` (fewer when the schedule ends; none when the
 * pipeline has no schedule). `n` must already be within 1..NEXT_EXECUTIONS_MAX.
 */
export function nextExecutions(spec: Pick<PipelineSpec, 'id' | 'schedule' | 'timezone'>, after: number, n: number): SchedulePreview {
  const preview: SchedulePreview = { pipeline: spec.id, schedule: spec.schedule, timezone: spec.timezone, after, ticks: [] };
  if (spec.schedule === null) return preview;
  const cron = compileSchedule(spec.schedule, spec.timezone, `pipelines.${spec.id}.schedule`);
  const format = wallClock(spec.timezone);
  let t = nextTick(cron, after);
  while (t !== null && preview.ticks.length < n) {
    preview.ticks.push({ logicalDate: t, utc: new Date(t).toISOString(), ...format(t) });
    t = nextTick(cron, t);
  }
  return preview;
}
