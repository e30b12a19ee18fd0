/**
 * The stack's Prometheus and Alertmanager: Prometheus scrapes itself and has the supervisor's
 * /metrics as a target, and knows the stack's Alertmanager; Alertmanager accepts an alert via
 * API v2 and returns it.
 */
import { freshName } from '../../helpers/names';
import { STACK_TIMEOUT_MS, endpoints, ensureServices, ports } from '../../helpers/stack';

jest.setTimeout(90_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(500);
  }
}

interface Target {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: string;
}

describe('local stack: prometheus + alertmanager', () => {
  beforeAll(() => ensureServices(['prometheus', 'alertmanager']), STACK_TIMEOUT_MS);

  it('prometheus scrapes itself, targets the supervisor and knows the alertmanager', async () => {
    const up = await eventually(async () => {
      const res = await fetch(`${endpoints.prometheusUrl}/api/v1/query?query=${encodeURIComponent('up{job="prometheus"}')}`);
      const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
      return body.data.result[0]?.value[1];
    });
    expect(up).toBe('1');

    const targets = (await (await fetch(`${endpoints.prometheusUrl}/api/v1/targets`)).json()) as { data: { activeTargets: Target[] } };
    const supervisor = targets.data.activeTargets.find((t) => t.labels.job === 'supervisor');
    expect(supervisor?.scrapeUrl).toBe(`http://127.0.0.1:${ports.supervisor}/metrics`);

    const ams = await eventually(async () => {
      const res = await fetch(`${endpoints.prometheusUrl}/api/v1/alertmanagers`);
      const body = (await res.json()) as { data: { activeAlertmanagers: { url: string }[] } };
      return body.data.activeAlertmanagers.length > 0 ? body.data.activeAlertmanagers : undefined;
    });
    expect(ams.map((a) => a.url)).toContain(`http://127.0.0.1:${ports.alertmanager}/api/v2/alerts`);
  });

  it('alertmanager accepts and lists an alert (API v2)', async () => {
    const alertname = freshName('StackTest');
    const post = await fetch(`${endpoints.alertmanagerUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          labels: { alertname, severity: 'warning', source: 'stack-test' },
          annotations: { summary: 'stack round trip' },
          startsAt: new Date().toISOString(),
          endsAt: new Date(Date.now() + 60_000).toISOString(),
        },
      ]),
    });
    expect(post.status).toBe(200);

    const listed = await eventually(async () => {
      const res = await fetch(`${endpoints.alertmanagerUrl}/api/v2/alerts?filter=${encodeURIComponent(`alertname="${alertname}"`)}`);
      const body = (await res.json()) as { labels: Record<string, string>; annotations: Record<string, string>; status: { state: string } }[];
      return body.length > 0 ? body : undefined;
    });
    expect(listed).toHaveLength(1);
    expect(listed[0]!.labels).toMatchObject({ alertname, severity: 'warning' });
    expect(listed[0]!.annotations.summary).toBe('stack round trip');
    expect(listed[0]!.status.state).toBe('active');
  });
});
