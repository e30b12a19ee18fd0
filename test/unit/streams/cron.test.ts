import { Cron } from 'croner';
import { firstValueFrom, take, toArray } from 'rxjs';
import { compileSchedule, createCronTrigger$, ticksBetween, ticksInRange } from '../../../streams/cron';
import type { Trigger } from '../../../src/protocol';
import { createFakeClock } from '../engine/fake-clock';

const iso = (t: number) => new Date(t).toISOString();

describe('cron schedule', () => {
  it('hourly ticks stay hourly in UTC across the autumn DST change in Europe/Berlin', () => {
    const cron = compileSchedule('0 * * * *', 'Europe/Berlin');
    const ticks = ticksBetween(cron, Date.parse('2025-10-25T23:30:00Z'), Date.parse('2025-10-26T03:00:00Z'));
    expect(ticks.map(iso)).toEqual(['2025-10-26T00:00:00.000Z', '2025-10-26T01:00:00.000Z', '2025-10-26T02:00:00.000Z', '2025-10-26T03:00:00.000Z']);
  });
  it('a daily 02:30 in Europe/Berlin runs once on both DST days (skipped hour → 03:00, repeated hour → once)', () => {
    const cron = compileSchedule('30 2 * * *', 'Europe/Berlin');
    expect(ticksBetween(cron, Date.parse('2025-03-29T12:00:00Z'), Date.parse('2025-03-31T12:00:00Z')).map(iso)).toEqual(['2025-03-30T01:00:00.000Z', '2025-03-31T00:30:00.000Z']);
    expect(ticksBetween(cron, Date.parse('2025-10-25T12:00:00Z'), Date.parse('2025-10-27T12:00:00Z')).map(iso)).toEqual(['2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z']);
  });
  it('UTC zones (scheduled at a fixed offset 0, without Intl) tick exactly as croner does through Intl', () => {
    const from = Date.parse('2024-01-01T00:00:00Z'); // a leap year: 29 February exists
    const to = Date.parse('2024-04-01T00:00:00Z');
    for (const schedule of ['0 * * * *', '*/15 * * * *', '30 2 * * *', '0 0 1 * *', '0 9 * * 1-5', '0 0 29 2 *', '5 4 L * *']) {
      for (const zone of ['UTC', 'Etc/UTC', 'GMT']) {
        const viaIntl = ticksBetween(new Cron(schedule, { timezone: zone, paused: true }), from, to);
        expect(viaIntl.length).toBeGreaterThan(0);
        expect(ticksBetween(compileSchedule(schedule, zone), from, to)).toEqual(viaIntl);
      }
    }
  });
  it('range ticks include the start', () => {
    const cron = compileSchedule('0 0 * * *', 'UTC');
    expect(ticksInRange(cron, Date.parse('2025-10-01T00:00:00Z'), Date.parse('2025-10-03T00:00:00Z')).map(iso)).toEqual([
      '2025-10-01T00:00:00.000Z',
      '2025-10-02T00:00:00.000Z',
      '2025-10-03T00:00:00.000Z',
    ]);
  });
  it('rejects bad expressions and time zones with the pipeline named', () => {
    expect(() => compileSchedule('61 * * * *', 'UTC', 'pipelines.x.schedule')).toThrow(/invalid cron expression "61 \* \* \* \*"/);
    expect(() => compileSchedule('0 * * * *', 'Mars/Base', 'pipelines.x.timezone')).toThrow(/unknown time zone "Mars\/Base"/);
  });
});

describe('createCronTrigger$', () => {
  it('emits one trigger per tick with the tick as logical date, never waiting more than 30 s per timer', async () => {
    const clock = createFakeClock(Date.parse('2025-10-05T00:00:10Z'));
    const got: Trigger[] = [];
    const sub = createCronTrigger$({ pipeline: 'p', schedule: '*/15 * * * *', timezone: 'UTC', clock }).subscribe((t) => got.push(t));
    await clock.flush();
    expect(clock.pending()).toBe(1);
    await clock.advance(15 * 60_000);
    expect(got.map((t) => iso(t.logicalDate))).toEqual(['2025-10-05T00:15:00.000Z']);
    expect(got[0]).toMatchObject({ kind: 'cron', pipeline: 'p' });
    expect(got[0]!.firedAt).toBe(Date.parse('2025-10-05T00:15:00Z'));
    await clock.advance(30 * 60_000);
    expect(got.map((t) => iso(t.logicalDate))).toEqual(['2025-10-05T00:15:00.000Z', '2025-10-05T00:30:00.000Z', '2025-10-05T00:45:00.000Z']);
    expect(Math.max(...clock.sleeps)).toBeLessThanOrEqual(30_000);
    expect(clock.sleeps.length).toBeGreaterThan(3 * 30); // 45 minutes in ≤ 30 s steps
    sub.unsubscribe();
    await clock.flush();
    expect(clock.pending()).toBe(0);
  });

  it('after a clock jump fires the newest missed tick only and reports the others', async () => {
    const clock = createFakeClock(Date.parse('2025-10-05T00:00:10Z'));
    const missed: number[] = [];
    const got = firstValueFrom(createCronTrigger$({ pipeline: 'p', schedule: '* * * * *', timezone: 'UTC', clock, onMissed: (t) => missed.push(...t) }).pipe(take(1), toArray()));
    await clock.flush();
    clock.set(Date.parse('2025-10-05T00:05:30Z')); // suspended for five minutes
    await clock.advance(30_000);
    const [t] = await got;
    expect(iso(t!.logicalDate)).toBe('2025-10-05T00:05:00.000Z');
    expect(missed.map(iso)).toEqual(['2025-10-05T00:01:00.000Z', '2025-10-05T00:02:00.000Z', '2025-10-05T00:03:00.000Z', '2025-10-05T00:04:00.000Z']);
  });
});
