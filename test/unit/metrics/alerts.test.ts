import { Registry } from 'prom-client';
import { registerAlertMetrics } from '../../../src/metrics/alerts';
import type { AlertEngineErrorStage, AlertFacts, RuleFiring } from '../../../src/protocol';

/** Facts an alert engine would report, changed by the test between scrapes. */
function fakeAlerts(): AlertFacts & { firing: RuleFiring[]; errors: Record<AlertEngineErrorStage, number> } {
  const facts = {
    firing: [] as RuleFiring[],
    errors: { event: 0, tick: 0, input: 0, silences: 0, store: 0, notify: 0 },
    firingByRule: () => facts.firing,
    errorCounts: () => facts.errors,
  };
  return facts;
}

describe('alert metrics (src/metrics/alerts.ts)', () => {
  it('renders firing instances per rule from the facts read at scrape time, zero for quiet rules', async () => {
    const registry = new Registry();
    const alerts = fakeAlerts();
    registerAlertMetrics({ registry, alerts });
    alerts.firing = [
      { rule: 'data_stale', severity: 'critical', firing: 2 },
      { rule: 'lag_high', severity: 'warning', firing: 0 },
    ];
    expect(await registry.getSingleMetricAsString('supervisor_alerts_firing')).toBe(
      [
        '# HELP supervisor_alerts_firing Alert instances currently firing, by rule and severity (silenced and inhibited included).',
        '# TYPE supervisor_alerts_firing gauge',
        'supervisor_alerts_firing{rule="data_stale",severity="critical"} 2',
        'supervisor_alerts_firing{rule="lag_high",severity="warning"} 0',
      ].join('\n'),
    );
    alerts.firing = [{ rule: 'data_stale', severity: 'critical', firing: 0 }];
    expect(await registry.getSingleMetricAsString('supervisor_alerts_firing')).toContain('supervisor_alerts_firing{rule="data_stale",severity="critical"} 0');
    expect(await registry.getSingleMetricAsString('supervisor_alerts_firing')).not.toContain('lag_high');
  });

  it('renders the errors survived as a counter by stage; stages without errors have no series', async () => {
    const registry = new Registry();
    const alerts = fakeAlerts();
    registerAlertMetrics({ registry, alerts });
    const text = async (): Promise<string> => registry.getSingleMetricAsString('supervisor_alerts_evaluation_errors_total');
    expect(await text()).toMatch(
      /^# HELP supervisor_alerts_evaluation_errors_total Errors the alert engine survived, by stage .*\n# TYPE supervisor_alerts_evaluation_errors_total counter$/,
    );
    alerts.errors.input = 1;
    alerts.errors.notify = 3;
    expect((await text()).split('\n').slice(2)).toEqual([
      'supervisor_alerts_evaluation_errors_total{stage="input"} 1',
      'supervisor_alerts_evaluation_errors_total{stage="notify"} 3',
    ]);
    alerts.errors.input = 2;
    expect(await text()).toContain('supervisor_alerts_evaluation_errors_total{stage="input"} 2');
  });
});
