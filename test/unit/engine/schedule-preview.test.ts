/**
 * `dags next-execution` / `GET /pipelines/:id/next`: ticks from croner (streams/cron.ts) shown
 * in UTC and as the wall clock of the pipeline's zone. The expected instants follow from the
 * zones' 2026 DST rules: Europe/Berlin springs forward on 29 March at 02:00 CET (01:00 UTC)
 * and falls back on 25 October at 03:00 CEST (01:00 UTC); America/New_York springs forward on
 * 8 March at 02:00 EST (07:00 UTC) and falls back on 1 November at 02:00 EDT (06:00 UTC).
 */
import { formatInZone, nextExecutions, type ScheduleTick } from '../../../src/engine/schedule-preview';

const ticks = (schedule: string, timezone: string, after: string, n: number): ScheduleTick[] => nextExecutions({ id: 'p', schedule, timezone }, Date.parse(after), n).ticks;
const locals = (t: ScheduleTick[]) => t.map((x) => x.local);
const utcs = (t: ScheduleTick[]) => t.map((x) => x.utc);

/** Every tick's local time with its offset denotes the same instant as its UTC time. */
function expectConsistent(list: ScheduleTick[]): void {
  for (const t of list) {
    expect(Date.parse(t.local)).toBe(t.logicalDate);
    expect(new Date(t.logicalDate).toISOString()).toBe(t.utc);
    expect(t.local.endsWith(t.offset)).toBe(true);
  }
  for (let i = 1; i < list.length; i++) expect(list[i]!.logicalDate).toBeGreaterThan(list[i - 1]!.logicalDate);
}

describe('next executions across DST in Europe/Berlin', () => {
  it('a daily 02:30 on the spring-forward day (02:30 does not exist) fires once, at the first valid minute after, 03:00 CEST', () => {
    const list = ticks('30 2 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', 4);
    expectConsistent(list);
    expect(locals(list)).toEqual(['2026-03-28T02:30:00+01:00', '2026-03-29T03:00:00+02:00', '2026-03-30T02:30:00+02:00', '2026-03-31T02:30:00+02:00']);
    expect(utcs(list)).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z', '2026-03-31T00:30:00.000Z']);
  });

  it('a daily 02:30 on the fall-back day (02:30 happens twice) fires once, and the offset moves from +02:00 to +01:00', () => {
    const list = ticks('30 2 * * *', 'Europe/Berlin', '2026-10-23T12:00:00Z', 4);
    expectConsistent(list);
    expect(list.filter((t) => t.local.startsWith('2026-10-25'))).toHaveLength(1);
    expect(list.map((t) => t.offset)).toEqual(['+02:00', '+02:00', '+01:00', '+01:00']);
    expect(list.every((t) => t.local.slice(11, 19) === '02:30:00')).toBe(true);
    // 25 hours between the ticks either side of the change
    expect(list[2]!.logicalDate - list[1]!.logicalDate).toBe(25 * 3600_000);
  });

  it('an hourly schedule skips the missing hour in spring (no 02:00 local) with one real hour between ticks', () => {
    const list = ticks('0 * * * *', 'Europe/Berlin', '2026-03-28T23:30:00Z', 4);
    expectConsistent(list);
    expect(locals(list)).toEqual(['2026-03-29T01:00:00+01:00', '2026-03-29T03:00:00+02:00', '2026-03-29T04:00:00+02:00', '2026-03-29T05:00:00+02:00']);
    for (let i = 1; i < list.length; i++) expect(list[i]!.logicalDate - list[i - 1]!.logicalDate).toBe(3600_000);
  });
});

describe('next executions across DST in America/New_York', () => {
  it('a daily 09:00 stays 09:00 local while its UTC time moves an hour earlier after spring-forward', () => {
    const list = ticks('0 9 * * *', 'America/New_York', '2026-03-06T12:00:00Z', 4);
    expectConsistent(list);
    expect(locals(list)).toEqual(['2026-03-06T09:00:00-05:00', '2026-03-07T09:00:00-05:00', '2026-03-08T09:00:00-04:00', '2026-03-09T09:00:00-04:00']);
    expect(utcs(list).map((u) => u.slice(11, 16))).toEqual(['14:00', '14:00', '13:00', '13:00']);
  });

  it('a daily 02:00 on the spring-forward day (02:00 does not exist) fires at 03:00 EDT', () => {
    const list = ticks('0 2 * * *', 'America/New_York', '2026-03-06T12:00:00Z', 3);
    expectConsistent(list);
    expect(locals(list)).toEqual(['2026-03-07T02:00:00-05:00', '2026-03-08T03:00:00-04:00', '2026-03-09T02:00:00-04:00']);
  });

  it('a daily 01:30 on the fall-back day (01:30 happens twice) fires once', () => {
    const list = ticks('30 1 * * *', 'America/New_York', '2026-10-30T12:00:00Z', 4);
    expectConsistent(list);
    expect(list.filter((t) => t.local.startsWith('2026-11-01'))).toHaveLength(1);
    expect(list.map((t) => t.offset)).toEqual(['-04:00', '-04:00', '-05:00', '-05:00']);
  });
});

describe('other schedules', () => {
  it('a 6-field cron (seconds first) ticks on its second', () => {
    const list = ticks('30 */20 * * * *', 'UTC', '2026-01-01T00:00:00Z', 3);
    expectConsistent(list);
    expect(utcs(list)).toEqual(['2026-01-01T00:00:30.000Z', '2026-01-01T00:20:30.000Z', '2026-01-01T00:40:30.000Z']);
    expect(list.every((t) => t.offset === '+00:00')).toBe(true);
  });

  it('a half-hour zone (Asia/Kolkata, +05:30) and a seed-like UTC quarter-hour schedule', () => {
    const kolkata = ticks('0 0 * * *', 'Asia/Kolkata', '2026-01-01T00:00:00Z', 2);
    expectConsistent(kolkata);
    expect(locals(kolkata)).toEqual(['2026-01-02T00:00:00+05:30', '2026-01-03T00:00:00+05:30']);
    const quarter = ticks('*/15 * * * *', 'UTC', '2026-01-01T00:07:00Z', 3);
    expect(utcs(quarter)).toEqual(['2026-01-01T00:15:00.000Z', '2026-01-01T00:30:00.000Z', '2026-01-01T00:45:00.000Z']);
  });

  it('ticks are strictly after `after`, and n bounds the count', () => {
    const list = ticks('0 * * * *', 'UTC', '2026-01-01T05:00:00Z', 1000);
    expect(list).toHaveLength(1000);
    expect(list[0]!.utc).toBe('2026-01-01T06:00:00.000Z');
    expectConsistent(list);
  });

  it('a pipeline without a schedule has no ticks', () => {
    expect(nextExecutions({ id: 'manual', schedule: null, timezone: 'UTC' }, 0, 5)).toEqual({ pipeline: 'manual', schedule: null, timezone: 'UTC', after: 0, ticks: [] });
  });

  it('a 6-field schedule on 29 February ticks only in leap years', () => {
    const list = ticks('0 0 12 29 2 *', 'UTC', '2026-01-01T00:00:00Z', 2);
    expect(utcs(list)).toEqual(['2028-02-29T12:00:00.000Z', '2032-02-29T12:00:00.000Z']);
  });

  it('years 0001–0099 and local mean time offsets (before 1883 in New York) are formatted, not read as 19xx', () => {
    const list = ticks('0 9 * * *', 'America/New_York', '0001-01-01T00:00:00Z', 2);
    expect(locals(list)).toEqual(['0001-01-01T09:00:00-04:56:02', '0001-01-02T09:00:00-04:56:02']);
    expect(list[0]!.logicalDate).toBe(Date.parse('0001-01-01T13:56:02Z'));
    expect(formatInZone(Date.parse('1850-06-01T12:00:00Z'), 'Europe/Berlin')).toEqual({ local: '1850-06-01T12:53:28+00:53:28', offset: '+00:53:28' });
  });

  it('formats an instant in a zone with its offset', () => {
    expect(formatInZone(Date.parse('2026-07-01T10:00:00Z'), 'Europe/Berlin')).toEqual({ local: '2026-07-01T12:00:00+02:00', offset: '+02:00' });
    expect(formatInZone(Date.parse('2026-07-01T10:00:00Z'), 'Etc/UTC')).toEqual({ local: '2026-07-01T10:00:00+00:00', offset: '+00:00' });
  });
});
