/**
 * Slack and webhook sinks against local HTTP receivers that fail, answer 429 with
 * Retry-After, and recover — through the real engine, outbox and SQLite file, including a
 * restart in the middle of an outage. Exact delivered counts: no loss, no duplicates.
 */
import { verifyWebhookSignature, SIGNATURE_HEADER, DEDUP_HEADER } from '../../../alerts/sinks';
import { createSlackSink } from '../../../alerts/sinks/slack';
import { createWebhookSink } from '../../../alerts/sinks/webhook';
import { SinkError } from '../../../src/protocol';
import { tempDbPath } from '../../helpers/alert-db';
import { note } from '../../unit/alerts/fakes';
import { Receiver, signal, startSupervisor, waitFor, type Supervisor } from './harness';

const SECRET = 'hmac-secret-for-tests';

let tmp: ReturnType<typeof tempDbPath>;
let hook: Receiver;
let slack: Receiver;
const running: Supervisor[] = [];

beforeEach(async () => {
  tmp = tempDbPath('alerts-it-');
  hook = await new Receiver('/hook').listen();
  slack = await new Receiver('/services/T000/B000/XXXXSECRET').listen();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  await hook.close();
  await slack.close();
  tmp.cleanup();
});

function config() {
  return {
    sinks: {
      hook: { type: 'webhook' as const, url: hook.url, secret: SECRET, headers: { 'x-team': 'data' }, timeout: '2s' },
      chat: { type: 'slack' as const, url: slack.url, timeout: '2s' },
    },
    route: { sinks: ['hook', 'chat'] },
    default_rules: false,
    rules: [
      { name: 'data_stale', match: { kind: 'delta_freshness' as const }, summary: 'Data stale: {{ check }} last changed {{ value_human }} ago (threshold {{ threshold_human }})' },
    ],
  };
}

function start(): Supervisor {
  const s = startSupervisor(tmp.file, config());
  running.push(s);
  return s;
}

const keys = (r: Receiver): string[] =>
  r
    .accepted()
    .map((x) =>
      String(
        x.headers[DEDUP_HEADER] ??
          (x.json.blocks as Array<{ type: string; elements?: Array<{ text: string }> }>)
            .find((b) => b.type === 'context' && b.elements?.[0]?.text.includes('key'))!
            .elements![0]!.text.replace(/.*key `([^`]+)`.*/, '$1'),
      ),
    );

describe('HTTP sinks through the outbox', () => {
  it('delivers every notification exactly once across failures, 429 Retry-After and a restart', async () => {
    hook.mode = 'down';
    slack.mode = 'down';
    let sup = start();
    sup.signals.next(signal('gold_freshness', 'crit'));
    sup.signals.next(signal('silver_freshness', 'crit'));
    await waitFor('a few failed attempts', () => hook.requests.length >= 4 && slack.requests.length >= 4);
    expect(hook.accepted()).toHaveLength(0);

    // recover behind a 429 asking for 1 s
    hook.script = [{ status: 429, retryAfter: '1' }];
    slack.script = [{ status: 429, retryAfter: '1' }];
    hook.mode = 'ok';
    slack.mode = 'ok';
    await waitFor('both firing notifications on both receivers', () => hook.accepted().length === 2 && slack.accepted().length === 2, 20_000);
    const rateLimited = hook.requests.findIndex((r) => r.status === 429);
    expect(rateLimited).toBeGreaterThanOrEqual(0);
    const afterLimit = hook.requests[rateLimited + 1]!;
    expect(afterLimit.at - hook.requests[rateLimited]!.at).toBeGreaterThanOrEqual(950);

    // an outage again, a resolved notification waiting in the outbox, and a restart
    hook.mode = 'down';
    slack.mode = 'down';
    sup.signals.next(signal('gold_freshness', 'ok'));
    await waitFor('the resolved notification attempted', () => hook.requests.filter((r) => r.status === 503).length > 4 && hook.requests.at(-1)!.json.kind === 'resolved');
    await sup.close();
    expect(sup.outbox).toBeDefined();

    sup = start();
    expect(sup.engine.snapshot().map((a) => `${a.labels.check}:${a.state}`)).toEqual(['gold_freshness:resolved', 'silver_freshness:firing']);
    sup.signals.next(signal('silver_freshness', 'crit')); // still firing: no new page after the restart
    hook.mode = 'ok';
    slack.mode = 'ok';
    await waitFor('the resolved notification delivered', () => hook.accepted().length === 3 && slack.accepted().length === 3);
    await new Promise((r) => setTimeout(r, 1500)); // time for any duplicate to show up
    await sup.worker.idle();

    for (const r of [hook, slack]) {
      const k = keys(r);
      expect(k).toHaveLength(3);
      expect(new Set(k).size).toBe(3);
      expect(k.filter((x) => x.includes('|firing|'))).toHaveLength(2);
      expect(k.filter((x) => x.includes('|resolved|'))).toHaveLength(1);
    }
    expect(sup.outbox.stats()).toEqual({ pending: 0, delivered: 6, dead: 0 });

    // webhook: JSON body, HMAC signature, custom header
    for (const req of hook.accepted()) {
      expect(verifyWebhookSignature(SECRET, req.body, req.headers[SIGNATURE_HEADER] as string)).toBe(true);
      expect(req.headers['x-team']).toBe('data');
      expect(req.headers['content-type']).toBe('application/json');
    }
    const firing = hook.accepted().find((r) => r.json.kind === 'firing')!.json;
    expect(firing).toMatchObject({ version: 1, rule: 'data_stale', severity: 'critical', labels: { alertname: 'data_stale' } });
    expect(String((firing.annotations as Record<string, string>).summary)).toMatch(/Data stale: (gold|silver)_freshness last changed 2h30m ago \(threshold 2h\)/);
    // Slack: Block Kit with what, since when, value vs threshold and the health link
    const blocks = JSON.stringify(slack.accepted()[0]!.json.blocks);
    expect(blocks).toContain('"type":"header"');
    expect(blocks).toMatch(/2h30m vs threshold 2h/);
    expect(blocks).toContain('*Since*');
    expect(blocks).toContain('http://127.0.0.1:8090/api/v1/health');
  });

  it('notifies within a second of the signal (for: 0, outbox woken on enqueue)', async () => {
    const sup = start();
    const t0 = Date.now();
    sup.signals.next(signal('gold_freshness', 'crit'));
    const got = await waitFor('the webhook delivery', () => hook.accepted()[0], 5000, 2);
    expect(got.at - t0).toBeLessThan(1000);
  });

  it('maps HTTP answers to SinkErrors without leaking the URL or the secret', async () => {
    const wh = createWebhookSink('hook', { type: 'webhook', url: hook.url, secret: SECRET, headers: {}, timeout: 2000 });
    const sl = createSlackSink('chat', { type: 'slack', url: slack.url, timeout: 2000 });
    const signal = new AbortController().signal;
    slack.script = [{ status: 429, retryAfter: new Date(Date.now() + 5000).toUTCString() }, 'down'];
    const e429 = await sl.deliver(note('k1'), signal).then(
      () => null,
      (e: unknown) => e as SinkError,
    );
    expect(e429).toBeInstanceOf(SinkError);
    expect(e429!.retryable).toBe(true);
    expect(e429!.retryAfterMs).toBeGreaterThan(3000);
    expect(e429!.retryAfterMs).toBeLessThanOrEqual(5000);
    const e503 = await sl.deliver(note('k1'), signal).then(
      () => null,
      (e: unknown) => e as SinkError,
    );
    expect(e503).toMatchObject({ retryable: true });
    expect(e503!.message).toMatch(/^slack sink "chat" \(127\.0\.0\.1:\d+\): HTTP 503/);
    for (const e of [e429!, e503!]) {
      expect(e.message).not.toContain('XXXXSECRET');
      expect(e.message).not.toContain('/services/');
    }
    // a permanent 4xx, and a receiver that is gone
    hook.script = ['reject'];
    const e400 = await wh.deliver(note('k2'), signal).then(
      () => null,
      (e: unknown) => e as SinkError,
    );
    expect(e400).toMatchObject({ retryable: false, message: expect.stringMatching(/HTTP 400 invalid_payload$/) });
    const gone = await new Receiver('/gone').listen();
    await gone.close();
    const goneSink = createWebhookSink('gone', { type: 'webhook', url: gone.url, secret: SECRET, headers: {}, timeout: 2000 });
    const refused = await goneSink.deliver(note('k2'), signal).then(
      () => null,
      (e: unknown) => e as SinkError,
    );
    expect(refused).toMatchObject({ retryable: true });
    expect(refused!.message).toMatch(/ECONNREFUSED/);
    expect(refused!.message).not.toContain(SECRET);
    expect(refused!.message).not.toContain('/gone');
    await wh.deliver(note('k3'), signal);
    expect(hook.accepted()).toHaveLength(1);
  });
});
