/** Overview row "Alerts": in-process alerts firing, notification deliveries, the outbox backlog. */
import { query, stateTimelinePanel, statPanel, timeseriesPanel, valueMappings, type Section } from '../panels';

export function alertsSection(): Section {
  return {
    title: 'Alerts',
    panels: [
      stateTimelinePanel({
        title: 'Firing alerts',
        description: 'Alert instances firing per in-process rule (silenced and inhibited included).',
        size: { w: 12, h: 8 },
        targets: [query('sum by (rule, severity) (supervisor_alerts_firing)', { legend: '{{rule}} ({{severity}})' })],
        mappings: valueMappings([[0, 'ok', 'green']]),
        thresholds: [
          [null, 'green'],
          [1, 'red'],
        ],
      }),
      timeseriesPanel({
        title: 'Notifications',
        description: 'Delivery attempts per sink and result (delivered, retry, dead).',
        size: { w: 8, h: 8 },
        targets: [query('sum by (sink, result) (increase(supervisor_alert_notifications_total[$__rate_interval]))', { legend: '{{sink}} {{result}}' })],
        style: 'stacked-bars',
        legendCalcs: ['sum'],
      }),
      statPanel({
        title: 'Outbox pending',
        description: 'Notifications waiting in the durable outbox.',
        size: { w: 4, h: 8 },
        targets: [query('sum(supervisor_alert_outbox_pending)', { legend: 'pending' })],
        thresholds: [
          [null, 'green'],
          [10, 'yellow'],
          [100, 'red'],
        ],
        graphMode: 'area',
      }),
    ],
  };
}
