/**
 * Issue 13, items 6 and 7: one duration parser, one meaning of a bare number (seconds)
 * everywhere a duration is read, bounded, and long waits slept in bounded steps.
 */
import { alertsConfigSchema } from '../../../alerts/config';
import { parseDuration as alertsParseDuration } from '../../../alerts/duration';
import { kafkaClusterOptionsSchema } from '../../../checks/kafka-cluster';
import { parseDuration as configParseDuration, durationMs } from '../../../src/config/duration';
import { pipelineSchema } from '../../../src/config/pipelines';
import { durationMsParam } from '../../../src/engine/operators/durations';
import { systemClock } from '../../../src/shared/clock';
import { MAX_TIMER_MS, formatDuration, parseDuration, parseDurationOrThrow, readDuration } from '../../../src/shared/duration';
import { LIMITS } from '../../../src/shared/limits';
import { resolveCheck } from '../../../src/wiring/check-options';
import { configSchema } from '../../../src/config/schema';

describe('the one duration parser', () => {
  it.each([
    ['250ms', 250],
    ['15s', 15_000],
    ['30m', 1_800_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1w', 604_800_000],
    ['1h30m', 5_400_000],
    ['1h 30m', 5_400_000],
    ['1.5s', 1_500],
    ['0', 0],
    ['45', 45_000],
    [90, 90_000],
    [0.25, 250],
    ['366d', LIMITS.durationMaxMs],
  ])('%p → %d ms', (input, ms) => expect(parseDuration(input)).toBe(ms));

  it.each(['soon', '5 minutes', '-1s', '', '  ', '1e20', '99999999999999999999d', '367d', 'NaN', 'Infinity', '0x10', '1s-'])('rejects %p', (input) => {
    expect(parseDuration(input)).toBeNull();
    expect(() => parseDurationOrThrow(input, 'field')).toThrow(/^field: /);
  });

  it.each([1e20, -1, Number.NaN, Number.POSITIVE_INFINITY, LIMITS.durationMaxMs / 1000 + 1])('rejects the number %p', (input) => expect(parseDuration(input)).toBeNull());

  it('says what the maximum is', () => {
    const r = readDuration('99999999999999999999d');
    expect(r).toEqual({ ok: false, message: '"99999999999999999999d" is longer than the maximum of 366d' });
    expect(readDuration('30d', { max: MAX_TIMER_MS })).toMatchObject({ ok: false, message: expect.stringMatching(/longest one timer/) as unknown });
  });

  it('refuses very long input without scanning it', () => {
    expect(readDuration('1s'.repeat(10_000))).toMatchObject({ ok: false, message: expect.stringMatching(/20000 characters/) as unknown });
  });

  it('formats exactly, so a formatted value parses back to itself', () => {
    for (const ms of [0, 1, 999, 1_000, 90_000, 5_400_000, 86_400_000 + 1, 2 ** 31 - 1, LIMITS.durationMaxMs]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});

describe('a bare number means seconds everywhere', () => {
  it('in the config, the alerts config, check options and task params', () => {
    expect(configParseDuration(5)).toBe(5_000);
    expect(durationMs.parse(5)).toBe(5_000);
    expect(alertsParseDuration('5')).toBe(5_000);
    expect(alertsConfigSchema.parse({ route: { repeat_interval: 5 } }).route.repeat_interval).toBe(5_000);
    // a check's connection_timeout: 5 was 5 ms before (checks/kafka-client read numbers as ms)
    expect(kafkaClusterOptionsSchema.parse({ brokers: ['a:1'], connectionTimeout: 5 }).connectionTimeout).toBe(5_000);
    expect(durationMsParam({ kill_grace: 5 }, 'kill_grace', 'task')).toBe(5_000);
    expect(() => durationMsParam({ kill_grace: '30d' }, 'kill_grace', 'task')).toThrow(/param "kill_grace": "30d" is longer than the maximum/);
    expect(pipelineSchema.parse({ run_timeout: 5, tasks: [{ id: 'a', operator: 'notify' }] }).run_timeout).toBe(5_000);
  });

  it('check options from YAML: connection_timeout: 5 is 5 s, inherited connection timeouts keep their milliseconds', () => {
    const config = configSchema.parse({
      connections: { kafka: { connection_timeout: '750ms' } },
      checks: { k: { kind: 'kafka_cluster', connection_timeout: 5 }, inherited: { kind: 'kafka_cluster' } },
    });
    const own = resolveCheck('k', config.checks.k!, config.connections).check!.options as { connectionTimeout: number };
    const inherited = resolveCheck('inherited', config.checks.inherited!, config.connections).check!.options as { connectionTimeout: number };
    expect(own.connectionTimeout).toBe(5_000);
    expect(inherited.connectionTimeout).toBe(750);
  });

  it('seconds-valued check options read durations through the same parser and bounds', () => {
    const config = configSchema.parse({ checks: {} });
    const ok = resolveCheck('d', { kind: 'delta_freshness', enabled: true, path: '/x', max_age: '30m' } as never, config.connections);
    expect((ok.check!.options as { maxAge: number }).maxAge).toBe(1_800);
    const big = resolveCheck('d', { kind: 'delta_freshness', enabled: true, path: '/x', max_age: 1e20 } as never, config.connections);
    expect(big.issues).toEqual([expect.objectContaining({ path: ['max_age'], message: expect.stringMatching(/longer than the maximum/) as unknown })]);
  });
});

describe('long waits', () => {
  afterEach(() => jest.useRealTimers());

  it('the system clock sleeps past 2^31 ms in bounded steps instead of firing after 1 ms', async () => {
    jest.useFakeTimers();
    const spy = jest.spyOn(global, 'setTimeout');
    let done = false;
    const thirtyDays = 30 * 86_400_000;
    const sleeping = systemClock.sleep(thirtyDays).then(() => (done = true));
    expect(spy.mock.calls.every(([, ms]) => (ms ?? 0) <= MAX_TIMER_MS)).toBe(true);
    await jest.advanceTimersByTimeAsync(MAX_TIMER_MS);
    expect(done).toBe(false);
    await jest.advanceTimersByTimeAsync(thirtyDays - MAX_TIMER_MS);
    await sleeping;
    expect(done).toBe(true);
    expect(spy.mock.calls.every(([, ms]) => (ms ?? 0) <= MAX_TIMER_MS)).toBe(true);
    spy.mockRestore();
  });

  it('an abort still ends a long sleep', async () => {
    jest.useFakeTimers();
    const ac = new AbortController();
    const sleeping = systemClock.sleep(40 * 86_400_000, ac.signal);
    await jest.advanceTimersByTimeAsync(MAX_TIMER_MS + 5);
    ac.abort();
    await expect(sleeping).rejects.toThrow(/abort/i);
  });

  it('settings that feed one timer (check interval and timeout, sink and Kafka timeouts) are bounded by it', () => {
    const r = configSchema.safeParse({ checks: { k: { kind: 'kafka_cluster', interval: '30d' } } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/interval.*longest one timer|longest one timer/);
    expect(configSchema.safeParse({ checks: { k: { kind: 'kafka_cluster', interval: '0' } } }).success).toBe(false);
    expect(alertsConfigSchema.safeParse({ sinks: { w: { type: 'webhook', url: 'http://x', timeout: '30d' } } }).success).toBe(false);
    // a pipeline's execution timeout may be long: the runner sleeps through the clock
    expect(pipelineSchema.parse({ defaults: { execution_timeout: '30d' }, tasks: [{ id: 'a', operator: 'notify' }] }).defaults.execution_timeout).toBe(30 * 86_400_000);
  });
});
