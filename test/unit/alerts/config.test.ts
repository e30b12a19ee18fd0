import { alertsConfigSchema, DEFAULT_ALERT_RULES, resolveAlertRules } from '../../../alerts/config';
import { formatDuration, parseDuration } from '../../../alerts/duration';

describe('parseDuration', () => {
  it.each([
    ['0', 0],
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['4h', 14_400_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1_500],
    // one duration parser everywhere (issue 13, item 7): a bare number is seconds, as in the rest of the config
    ['5', 5_000],
  ])('%s → %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '5 minutes', 'm5', '5x', '-5s'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/duration/);
  });

  it('formats back', () => {
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(7_200_000)).toBe('2h');
    expect(formatDuration(500)).toBe('500ms');
  });
});

describe('alertsConfigSchema', () => {
  it('fills defaults for an empty section', () => {
    const cfg = alertsConfigSchema.parse({});
    expect(cfg.route).toEqual({
      sinks: [],
      group_by: ['alertname', 'check', 'pipeline'],
      group_wait: 0,
      group_interval: 60_000,
      repeat_interval: 14_400_000,
      send_resolved: true,
    });
    expect(cfg.default_rules).toBe(true);
    expect(cfg.rules).toEqual([]);
  });

  it('parses sinks, rules with durations, inhibit', () => {
    const cfg = alertsConfigSchema.parse({
      sinks: {
        ops: { type: 'slack', url: 'https://hooks.slack.com/services/T/B/X' },
        mail: { type: 'email', host: '127.0.0.1', port: 1025, from: 'sup@example.com', to: ['oncall@example.com'] },
        hook: { type: 'webhook', url: 'http://127.0.0.1:9999/hook', secret: 's3cret' },
        am: { type: 'alertmanager', url: 'http://127.0.0.1:9093' },
      },
      route: { sinks: ['ops', 'mail'], repeat_interval: '1h', group_by: ['...'] },
      rules: [{ name: 'gold_stale', match: { check: 'gold_freshness' }, for: '5m', keep_firing_for: '30s', sinks: ['hook'] }],
      inhibit: [{ source_match: { alertname: 'a' }, target_match: { alertname: '~b|c' }, equal: ['check'] }],
    });
    expect(cfg.route.repeat_interval).toBe(3_600_000);
    expect(cfg.rules[0]).toMatchObject({
      name: 'gold_stale',
      source: 'signal',
      status: 'crit',
      for: 300_000,
      keep_firing_for: 30_000,
      severity: 'critical',
      match: { check: ['gold_freshness'] },
    });
    expect(cfg.sinks.am).toMatchObject({ type: 'alertmanager', resend_interval: 60_000, timeout: 10_000 });
    expect(cfg.sinks.mail).toMatchObject({ port: 1025, secure: false });
  });

  it('rejects unknown keys, bad durations, unknown sinks, duplicate rules and bad regex with paths', () => {
    const res = alertsConfigSchema.safeParse({
      sinks: { ops: { type: 'slack', url: 'https://x.test/hook', colour: 'red' } },
      route: { sinks: ['nope'], repeat_interval: '4 hours' },
      rules: [
        { name: 'a', for: 'soon' },
        { name: 'a', sinks: ['missing'] },
      ],
      inhibit: [{ source_match: { alertname: '~(' }, target_match: {} }],
      extra: 1,
    });
    expect(res.success).toBe(false);
    const issues = res.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    const text = issues.join('\n');
    expect(text).toMatch(/sinks\.ops.*colour|colour/);
    expect(text).toMatch(/route\.repeat_interval: .*"4 hours" is not a duration/); // one parser, one message (issue 13, item 7)
    expect(text).toMatch(/rules\.0\.for: .*"soon" is not a duration/);
    expect(text).toMatch(/extra/);
    expect(text).toMatch(/inhibit\.0\.source_match.*invalid regular expression/);
  });

  it('checks sink references once the shape is valid', () => {
    const res = alertsConfigSchema.safeParse({ route: { sinks: ['nope'] }, rules: [{ name: 'a' }, { name: 'a', sinks: ['missing'] }] });
    expect(res.success).toBe(false);
    const text = res.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    expect(text).toMatch(/route\.sinks\.0: unknown sink "nope"/);
    expect(text).toMatch(/rules\.1\.name: duplicate rule name "a"/);
    expect(text).toMatch(/rules\.1\.sinks\.0: unknown sink "missing"/);
  });

  it('default rules cover every seed check kind, deadlines, missed schedules and failed runs', () => {
    const kinds = new Set(DEFAULT_ALERT_RULES.flatMap((r) => r.match.kind ?? []));
    expect([...kinds].sort()).toEqual(['consumer_lag', 'delta_freshness', 'kafka_cluster', 'pipeline_deadline', 'pipeline_schedule', 'schema_registry', 'spark']);
    const run = DEFAULT_ALERT_RULES.find((r) => r.source === 'run');
    expect(run).toMatchObject({ name: 'pipeline_run_failed', run_states: ['failed', 'timed_out'] });
  });

  it('configured rules override defaults by name; default_rules false drops them', () => {
    const cfg = alertsConfigSchema.parse({ rules: [{ name: 'data_stale', match: { kind: 'delta_freshness' }, for: '10m' }] });
    const { rules, inhibit } = resolveAlertRules(cfg);
    expect(rules.filter((r) => r.name === 'data_stale')).toHaveLength(1);
    expect(rules.find((r) => r.name === 'data_stale')!.for).toBe(600_000);
    expect(inhibit.length).toBeGreaterThan(0);
    const none = resolveAlertRules(alertsConfigSchema.parse({ default_rules: false }));
    expect(none).toEqual({ rules: [], inhibit: [] });
  });
});
