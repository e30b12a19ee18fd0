import { Registry } from 'prom-client';
import { registerOutboxMetrics } from '../../../src/metrics/outbox';
import type { DeliveryCount, OutboxErrorOperation, OutboxFacts } from '../../../src/protocol';

function fakeOutbox(): OutboxFacts & { deliveries: DeliveryCount[]; errors: Record<OutboxErrorOperation, number>; pending: number | Error } {
  const facts = {
    deliveries: [] as DeliveryCount[],
    errors: { due: 0, next_due: 0, mark: 0, prune: 0, idle: 0, unknown_sinks: 0, loop: 0 },
    pending: 0 as number | Error,
    deliveryCounts: () => facts.deliveries,
    errorCounts: () => facts.errors,
    pendingCount: () => {
      if (facts.pending instanceof Error) throw facts.pending;
      return facts.pending;
    },
  };
  return facts;
}

const series = async (registry: Registry, name: string): Promise<string[]> => (await registry.getSingleMetricAsString(name)).split('\n').filter((l) => !l.startsWith('#'));

describe('outbox metrics (src/metrics/outbox.ts)', () => {
  it('registers the three outbox metrics with their help and type', async () => {
    const registry = new Registry();
    registerOutboxMetrics({ registry, outbox: fakeOutbox() });
    const text = await registry.metrics();
    expect(text).toContain(
      '# HELP supervisor_alerts_outbox_errors_total Outbox store errors the delivery loop survived (retried with backoff), by operation.\n# TYPE supervisor_alerts_outbox_errors_total counter',
    );
    expect(text).toContain(
      '# HELP supervisor_alert_notifications_total Notification delivery attempts by sink and result (delivered, retry, dead).\n# TYPE supervisor_alert_notifications_total counter',
    );
    expect(text).toContain(
      '# HELP supervisor_alert_outbox_pending Notifications waiting in the outbox for delivery.\n# TYPE supervisor_alert_outbox_pending gauge\nsupervisor_alert_outbox_pending 0',
    );
  });

  it('renders delivery attempts by sink and result in the order the worker reports them', async () => {
    const registry = new Registry();
    const outbox = fakeOutbox();
    registerOutboxMetrics({ registry, outbox });
    outbox.deliveries = [
      { sink: 'hook', result: 'retry', count: 2 },
      { sink: 'hook', result: 'delivered', count: 1 },
      { sink: 'mail', result: 'dead', count: 1 },
    ];
    expect(await series(registry, 'supervisor_alert_notifications_total')).toEqual([
      'supervisor_alert_notifications_total{sink="hook",result="retry"} 2',
      'supervisor_alert_notifications_total{sink="hook",result="delivered"} 1',
      'supervisor_alert_notifications_total{sink="mail",result="dead"} 1',
    ]);
  });

  it('renders store errors by operation, only those that happened', async () => {
    const registry = new Registry();
    const outbox = fakeOutbox();
    registerOutboxMetrics({ registry, outbox });
    expect(await series(registry, 'supervisor_alerts_outbox_errors_total')).toEqual([]);
    outbox.errors.idle = 1;
    outbox.errors.due = 3;
    expect((await series(registry, 'supervisor_alerts_outbox_errors_total')).sort()).toEqual([
      'supervisor_alerts_outbox_errors_total{operation="due"} 3',
      'supervisor_alerts_outbox_errors_total{operation="idle"} 1',
    ]);
  });

  it('reads the pending count at scrape time and keeps the last value when the store cannot answer', async () => {
    const registry = new Registry();
    const outbox = fakeOutbox();
    registerOutboxMetrics({ registry, outbox });
    outbox.pending = 4;
    expect(await series(registry, 'supervisor_alert_outbox_pending')).toEqual(['supervisor_alert_outbox_pending 4']);
    outbox.pending = new Error('The database connection is not open');
    expect(await series(registry, 'supervisor_alert_outbox_pending')).toEqual(['supervisor_alert_outbox_pending 4']);
  });
});
