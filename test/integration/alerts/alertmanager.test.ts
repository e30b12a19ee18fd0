/** Alertmanager sink against the stack's real Alertmanager: visible while firing, resolved there. */
import { request } from 'undici';
import { tempDbPath } from '../../helpers/alert-db';
import { freshName } from '../../helpers/names';
import { endpoints, ensureServices, STACK_TIMEOUT_MS } from '../../helpers/stack';
import { signal, startSupervisor, waitFor, type Supervisor } from './harness';

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  generatorURL?: string;
  status: { state: string };
}

async function amAlerts(alertname: string): Promise<AmAlert[]> {
  const filter = encodeURIComponent(`alertname="${alertname}"`);
  const res = await request(`${endpoints.alertmanagerUrl}/api/v2/alerts?filter=${filter}&active=true&silenced=true&inhibited=true&unprocessed=true`);
  if (res.statusCode !== 200) throw new Error(`Alertmanager answered ${res.statusCode}`);
  return (await res.body.json()) as AmAlert[];
}

beforeAll(() => ensureServices(['alertmanager']), STACK_TIMEOUT_MS);

let tmp: ReturnType<typeof tempDbPath>;
let sup: Supervisor | undefined;

beforeEach(() => {
  tmp = tempDbPath('alerts-am-');
});

afterEach(async () => {
  await sup?.close();
  sup = undefined;
  tmp.cleanup();
});

describe('Alertmanager sink (real Alertmanager)', () => {
  it('posts firing alerts, re-sends them while firing, and resolves them with endsAt', async () => {
    const rule = freshName('it_stale').replace(/-/g, '_');
    sup = startSupervisor(tmp.file, {
      sinks: { am: { type: 'alertmanager', url: endpoints.alertmanagerUrl, resend_interval: '1s', timeout: '5s' } },
      route: { sinks: ['am'] },
      default_rules: false,
      rules: [{ name: rule, match: { kind: 'delta_freshness' }, summary: '{{ check }} stale for {{ value_human }}' }],
    });
    const t0 = Date.now();
    sup.signals.next(signal('gold_freshness', 'crit', { labels: { layer: 'gold' } }));
    sup.signals.next(signal('silver_freshness', 'crit', { labels: { layer: 'silver' } }));
    const firing = await waitFor('both alerts active in Alertmanager', async () => {
      const a = await amAlerts(rule);
      return a.length === 2 && a.every((x) => x.status.state === 'active') ? a : false;
    });
    const gold = firing.find((a) => a.labels.check === 'gold_freshness')!;
    expect(gold.labels).toMatchObject({ alertname: rule, severity: 'critical', layer: 'gold', kind: 'delta_freshness' });
    expect(gold.annotations.summary).toBe('gold_freshness stale for 2h30m');
    expect(gold.generatorURL).toBe('http://127.0.0.1:8090/api/v1/health');
    expect(Math.abs(Date.parse(gold.startsAt) - t0)).toBeLessThan(2000);
    // no endsAt sent: Alertmanager sets one resolve_timeout ahead, pushed forward by each re-send
    const firstUpdate = Date.parse(gold.updatedAt);
    await waitFor(
      'a re-send',
      async () => {
        const a = (await amAlerts(rule)).find((x) => x.labels.check === 'gold_freshness');
        return a && Date.parse(a.updatedAt) > firstUpdate ? a : false;
      },
      10_000,
      200,
    );
    expect(Date.parse(gold.endsAt)).toBeGreaterThan(Date.now());

    sup.signals.next(signal('gold_freshness', 'ok', { labels: { layer: 'gold' } }));
    await waitFor('gold resolved in Alertmanager', async () => {
      const a = await amAlerts(rule);
      const g = a.find((x) => x.labels.check === 'gold_freshness');
      // Alertmanager drops resolved alerts from the active list (or shows endsAt in the past)
      return !g || Date.parse(g.endsAt) <= Date.now() ? a : false;
    });
    const left = await amAlerts(rule);
    expect(left.filter((a) => Date.parse(a.endsAt) > Date.now()).map((a) => a.labels.check)).toEqual(['silver_freshness']);
    await sup.worker.idle();
    expect(sup.outbox.stats().dead).toBe(0);
    const resolved = sup.outbox.list({ state: 'delivered', limit: 1000 }).filter((e) => e.notification.kind === 'resolved');
    expect(resolved.map((e) => e.notification.items[0]!.labels!.check)).toEqual(['gold_freshness']);
    // leave Alertmanager clean
    sup.signals.next(signal('silver_freshness', 'ok', { labels: { layer: 'silver' } }));
    await waitFor('silver resolved in Alertmanager', async () => (await amAlerts(rule)).every((a) => Date.parse(a.endsAt) <= Date.now()));
  });
});
