import { alertmanagerAlerts } from '../../../alerts/sinks/alertmanager';
import { parseRetryAfter, redact } from '../../../alerts/sinks/http';
import { signBody, verifyWebhookSignature, webhookBody } from '../../../alerts/sinks/webhook';
import { createLogSink } from '../../../alerts/sinks/log';
import { createSinks } from '../../../alerts/sinks';
import { alertsConfigSchema } from '../../../alerts/config';
import { buildNotification } from '../../../alerts/notifications';
import { renderEmail, renderSlack, renderTemplate } from '../../../alerts/templates';
import type { Logger } from '../../../src/protocol';

const t0 = Date.UTC(2024, 10, 28, 12, 0, 0);

const firing = buildNotification({
  kind: 'firing',
  dedupKey: 'data_stale|check="gold"|firing|1|0',
  rule: 'data_stale',
  severity: 'critical',
  groupLabels: { alertname: 'data_stale', check: 'gold_freshness' },
  summary: 'Data stale: gold <b>',
  startsAt: t0,
  url: 'http://sup:8090/api/v1/health',
  items: [
    {
      name: 'gold_freshness',
      status: 'crit',
      value: 9000,
      threshold: 7200,
      unit: 'seconds',
      summary: 'gold last changed 2h30m ago',
      since: t0,
      labels: { alertname: 'data_stale', check: 'gold_freshness', severity: 'critical', 'bad-label': 'x', empty: '' },
    },
    { name: 'silver_freshness', status: 'resolved', summary: 'silver ok', since: t0, endsAt: t0 + 60_000, labels: { alertname: 'data_stale', check: 'silver_freshness' } },
  ],
});

describe('templates', () => {
  it('renders variables, nested labels and numbers; unknown names are empty', () => {
    expect(renderTemplate('{{ check }} {{labels.layer}} {{ value }} {{ nope }}!', { check: 'gold', labels: { layer: 'g' }, value: 1.23456 })).toBe('gold g 1.23 !');
  });

  it('plain text says what, since when and value vs threshold', () => {
    expect(firing.title).toBe('[FIRING:2] data_stale (check=gold_freshness)');
    expect(firing.text.split('\n')).toEqual([
      'FIRING · critical · data_stale',
      'Data stale: gold <b>',
      'Firing since 2024-11-28T12:00:00Z',
      '- gold_freshness: crit — 2h30m vs threshold 2h — gold last changed 2h30m ago (since 2024-11-28T12:00:00Z)',
      '- silver_freshness: resolved — silver ok (since 2024-11-28T12:00:00Z)',
      'Link: http://sup:8090/api/v1/health',
    ]);
  });

  it('email HTML escapes content', () => {
    const mail = renderEmail(firing, '[sup]');
    expect(mail.subject).toBe('[sup] [FIRING:2] data_stale (check=gold_freshness)');
    expect(mail.html).toContain('Data stale: gold &lt;b&gt;');
    expect(mail.html).not.toContain('gold <b>');
    expect(mail.text).toBe(firing.text);
  });

  it('Slack payload is Block Kit with a header, value vs threshold and a link button', () => {
    const p = renderSlack(firing, { channel: '#alerts' }) as { text: string; channel: string; blocks: Array<Record<string, unknown>> };
    expect(p.channel).toBe('#alerts');
    expect(p.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: firing.title, emoji: true } });
    const all = JSON.stringify(p.blocks);
    expect(all).toContain('2h30m vs threshold 2h');
    expect(all).toContain('Data stale: gold &lt;b&gt;');
    expect(p.blocks.find((b) => b.type === 'actions')).toEqual({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open health' }, url: 'http://sup:8090/api/v1/health' }],
    });
  });
});

describe('sink payloads', () => {
  it('Alertmanager: one alert per item, valid labels only, endsAt on resolved items', () => {
    const alerts = alertmanagerAlerts(firing);
    expect(alerts).toEqual([
      {
        labels: { alertname: 'data_stale', check: 'gold_freshness', severity: 'critical' },
        annotations: { summary: 'gold last changed 2h30m ago', value: '9000', threshold: '7200' },
        startsAt: '2024-11-28T12:00:00.000Z',
        generatorURL: 'http://sup:8090/api/v1/health',
      },
      {
        labels: { alertname: 'data_stale', check: 'silver_freshness', severity: 'critical' },
        annotations: { summary: 'silver ok' },
        startsAt: '2024-11-28T12:00:00.000Z',
        endsAt: '2024-11-28T12:01:00.000Z',
        generatorURL: 'http://sup:8090/api/v1/health',
      },
    ]);
  });

  it('webhook: JSON body and a verifiable HMAC-SHA256 signature', () => {
    const body = JSON.stringify(webhookBody(firing));
    const sig = signBody('k', body);
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature('k', body, sig)).toBe(true);
    expect(verifyWebhookSignature('other', body, sig)).toBe(false);
    expect(verifyWebhookSignature('k', `${body} `, sig)).toBe(false);
    expect(JSON.parse(body)).toMatchObject({ version: 1, kind: 'firing', startsAt: '2024-11-28T12:00:00.000Z', dedupKey: firing.dedupKey });
  });

  it('Retry-After in seconds or as an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(t0 + 10_000).toUTCString(), t0)).toBe(10_000);
    expect(parseRetryAfter(new Date(t0 - 10_000).toUTCString(), t0)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('redacts URLs, their paths and secrets from messages', () => {
    const url = 'https://hooks.slack.com/services/T1/B2/SECRET';
    expect(redact(`failed POST ${url}`, [url])).toBe('failed POST <redacted>');
    expect(redact('GET /services/T1/B2/SECRET 404', [url])).toBe('GET <redacted> 404');
    expect(redact('nothing here', [undefined])).toBe('nothing here');
  });

  it('createSinks builds one sink per configured entry; log sink logs', async () => {
    const cfg = alertsConfigSchema.parse({
      sinks: {
        a: { type: 'slack', url: 'https://hooks.slack.com/services/x' },
        b: { type: 'email', host: 'localhost', from: 'a@b.c', to: ['d@e.f'] },
        c: { type: 'webhook', url: 'http://127.0.0.1:1/x' },
        d: { type: 'alertmanager', url: 'http://127.0.0.1:9093' },
        e: { type: 'log' },
      },
    });
    const lines: Array<[string, object, string | undefined]> = [];
    const logger: Logger = {
      debug: () => undefined,
      info: (o: object | string, m?: string) => void lines.push(['info', o as object, m]),
      warn: (o: object | string, m?: string) => void lines.push(['warn', o as object, m]),
      error: () => undefined,
      child: () => logger,
    };
    const sinks = createSinks(cfg.sinks, logger);
    expect(sinks.map((s) => `${s.name}:${s.type}`)).toEqual(['a:slack', 'b:email', 'c:webhook', 'd:alertmanager', 'e:log']);
    await createLogSink('e', logger).deliver(firing, new AbortController().signal);
    expect(lines[0]![0]).toBe('warn');
    expect(lines[0]![2]).toBe(firing.text);
    await Promise.all(sinks.map(async (s) => s.close?.()));
  });
});
