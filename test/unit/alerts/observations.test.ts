/** alerts/observations.ts: which rules a signal or run event matches, and what each observation carries. */
import { defineRule } from '../../../alerts/config';
import { clearCheckWide, invalidRunEvent, invalidSignal, RuleObserver } from '../../../alerts/observations';
import { CHECK_WIDE_TARGET, type AlertRecord, type RunEvent, type Signal } from '../../../src/protocol';

const stale = defineRule({
  name: 'data_stale',
  match: { kind: 'delta_freshness' },
  status: 'crit',
  summary: '{{ check }} is {{ value_human }} old (threshold {{ threshold_human }})',
  labels: { team: 'data' },
});
const goldOnly = defineRule({ name: 'gold_warn', match: { check: 'gold_freshness', labels: { layer: '~g.*' } }, status: 'warn', description: 'layer {{ labels.layer }}' });
const failed = defineRule({ name: 'pipeline_failed', source: 'run', match: { pipeline: 'ingest' }, summary: '{{ pipeline }} {{ state }}: {{ reason }}' });

function signal(extra: Partial<Signal> = {}): Signal {
  return {
    check: 'gold_freshness',
    kind: 'delta_freshness',
    target: 's3://lake/gold',
    labels: { layer: 'gold' },
    status: 'crit',
    value: 9000,
    unit: 'seconds',
    threshold: 7200,
    observedAt: 0,
    durationMs: 1,
    summary: 'gold is old',
    ...extra,
  };
}

function run(extra: Partial<Extract<RunEvent, { type: 'run' }>> = {}): RunEvent {
  return {
    type: 'run',
    runId: 'r/1',
    pipeline: 'ingest',
    logicalDate: Date.UTC(2024, 0, 1),
    trigger: 'cron',
    state: 'failed',
    at: 0,
    reason: 'exit 1',
    durationMs: 12_000,
    ...extra,
  };
}

describe('RuleObserver.signal', () => {
  const observer = new RuleObserver([stale, goldOnly, failed], 'http://sup.test:8090//');

  it('one observation per matching signal rule, labels = rule labels + signal labels + identity, templates rendered', () => {
    const obs = observer.signal(signal());
    expect(obs.map((o) => o.rule.name)).toEqual(['data_stale', 'gold_warn']);
    expect(obs[0]).toEqual({
      rule: stale,
      labels: { team: 'data', layer: 'gold', check: 'gold_freshness', kind: 'delta_freshness', target: 's3://lake/gold', severity: 'critical', alertname: 'data_stale' },
      condition: true,
      status: 'crit',
      summary: 'gold_freshness is 2h30m old (threshold 2h)',
      value: 9000,
      threshold: 7200,
      unit: 'seconds',
      url: 'http://sup.test:8090/api/v1/health',
    });
    expect(obs[1]).toMatchObject({ summary: 'gold is old', description: 'layer gold', condition: true });
  });

  it('the condition is status ≥ the rule status', () => {
    const warn = observer.signal(signal({ status: 'warn' }));
    expect(warn.map((o) => [o.rule.name, o.condition])).toEqual([
      ['data_stale', false],
      ['gold_warn', true],
    ]);
  });

  it('check, kind and label matchers filter; a pipeline matcher never matches a signal', () => {
    expect(observer.signal(signal({ check: 'silver_freshness' })).map((o) => o.rule.name)).toEqual(['data_stale']);
    expect(observer.signal(signal({ labels: { layer: 'silver' } })).map((o) => o.rule.name)).toEqual(['data_stale']);
    expect(observer.signal(signal({ kind: 'spark' })).map((o) => o.rule.name)).toEqual(['gold_warn']);
    const withPipeline = new RuleObserver([defineRule({ name: 'odd', match: { pipeline: 'ingest' } })]);
    expect(withPipeline.signal(signal())).toEqual([]);
  });

  it('no link without a public URL', () => {
    const bare = new RuleObserver([stale]);
    expect(bare.healthUrl()).toBeUndefined();
    expect(bare.signal(signal())[0]!.url).toBeUndefined();
  });

  it('an invalid label regex in a rule names its place', () => {
    // the config schema rejects it first; a rule built in code reaches the observer
    const bad = { ...defineRule({ name: 'bad' }), match: { labels: { layer: '~(' } } };
    expect(() => new RuleObserver([stale, bad])).toThrow(/alerts\.rules\[1\]\.match\.labels/);
  });
});

describe('RuleObserver.run', () => {
  const observer = new RuleObserver([stale, failed], 'http://sup.test');

  it('a failed run: condition true, pipeline labels, duration in seconds, a link to the run', () => {
    expect(observer.run(run())).toEqual([
      {
        rule: failed,
        labels: { pipeline: 'ingest', severity: 'critical', alertname: 'pipeline_failed' },
        condition: true,
        status: 'failed',
        summary: 'ingest failed: exit 1',
        value: 12,
        unit: 'seconds',
        url: 'http://sup.test/api/v1/runs/r%2F1',
      },
    ]);
  });

  it('a success clears (condition false); other states, other pipelines and task events say nothing', () => {
    expect(observer.run(run({ state: 'success' })).map((o) => o.condition)).toEqual([false]);
    expect(observer.run(run({ state: 'running' }))).toEqual([]);
    expect(observer.run(run({ pipeline: 'other' }))).toEqual([]);
    expect(observer.run({ type: 'task', runId: 'r', pipeline: 'ingest', logicalDate: 0, taskId: 't', attempt: 1, state: 'failed', at: 0 })).toEqual([]);
  });

  it('the default summary names pipeline and state', () => {
    const plain = new RuleObserver([defineRule({ name: 'f', source: 'run' })]);
    expect(plain.run(run({ state: 'timed_out' }))[0]!.summary).toBe('Pipeline ingest run timed_out');
  });
});

describe('clearCheckWide', () => {
  const record = (labels: Record<string, string>, state: AlertRecord['state'] = 'firing'): AlertRecord => ({
    key: 'k',
    rule: 'data_stale',
    labels,
    state,
    activeSince: 0,
    lastTrueAt: 0,
    summary: '',
  });

  it('a signal for a real target clears the unresolved check-wide alerts of its check only', () => {
    const alerts = [
      { rule: stale, record: record({ check: 'gold_freshness', target: CHECK_WIDE_TARGET }) },
      { rule: stale, record: record({ check: 'gold_freshness', target: CHECK_WIDE_TARGET }, 'resolved') },
      { rule: stale, record: record({ check: 'silver_freshness', target: CHECK_WIDE_TARGET }) },
      { rule: stale, record: record({ check: 'gold_freshness', target: 's3://lake/gold' }) },
    ];
    const out = clearCheckWide(signal({ status: 'ok', summary: 'fine' }), alerts);
    expect(out).toEqual([{ rule: stale, labels: alerts[0]!.record.labels, condition: false, status: 'ok', summary: 'gold_freshness answers again: fine' }]);
  });

  it('a check-wide signal clears nothing', () => {
    expect(clearCheckWide(signal({ target: CHECK_WIDE_TARGET }), [{ rule: stale, record: record({ check: 'gold_freshness', target: CHECK_WIDE_TARGET }) }])).toEqual([]);
  });
});

describe('input validation', () => {
  it('names what is wrong with a signal', () => {
    expect(invalidSignal(signal())).toBeUndefined();
    expect(invalidSignal(null)).toBe('signal is not an object');
    expect(invalidSignal(signal({ check: '' }))).toBe('signal.check is missing');
    expect(invalidSignal(signal({ status: 'bad' as never }))).toBe('signal gold_freshness: status "bad" is not one of ok, warn, unknown, crit');
    expect(invalidSignal(signal({ labels: null as never }))).toBe('signal gold_freshness: labels must be an object');
  });

  it('names what is wrong with a run event; task events pass', () => {
    expect(invalidRunEvent(run())).toBeUndefined();
    expect(invalidRunEvent(undefined)).toBe('run event is not an object');
    expect(invalidRunEvent({ type: 'task' } as RunEvent)).toBeUndefined();
    expect(invalidRunEvent(run({ runId: 3 as never }))).toBe('run event lacks pipeline, runId or state');
  });
});
