/** Email sink against the stack's real SMTP sink (messages read back over its HTTP API). */
import { request } from 'undici';
import { createEmailSink } from '../../../alerts/sinks/email';
import { createInfoNotification } from '../../../alerts/notifications';
import { SinkError } from '../../../src/protocol';
import { tempDbPath } from '../../helpers/alert-db';
import { freshName } from '../../helpers/names';
import { endpoints, ensureServices, STACK_TIMEOUT_MS } from '../../helpers/stack';
import { signal, startSupervisor, waitFor, type Supervisor } from './harness';

interface StoredMessage {
  subject: string;
  text: string;
  html: string;
  to: string[];
  from: string;
  headers: Record<string, string>;
}

async function messagesTo(address: string): Promise<StoredMessage[]> {
  const res = await request(`${endpoints.smtpApiUrl}/api/messages?to=${encodeURIComponent(address)}`);
  if (res.statusCode !== 200) throw new Error(`SMTP sink API answered ${res.statusCode}`);
  return (await res.body.json()) as StoredMessage[];
}

beforeAll(() => ensureServices(['smtp']), STACK_TIMEOUT_MS);

let tmp: ReturnType<typeof tempDbPath>;
let sup: Supervisor | undefined;

beforeEach(() => {
  tmp = tempDbPath('alerts-mail-');
});

afterEach(async () => {
  await sup?.close();
  sup = undefined;
  tmp.cleanup();
});

describe('email sink (real SMTP sink)', () => {
  it('mails a firing alert and its resolution, with text and HTML bodies, once each', async () => {
    const to = `${freshName('oncall')}@example.test`;
    sup = startSupervisor(tmp.file, {
      sinks: { mail: { type: 'email', host: endpoints.smtpHost, port: endpoints.smtpPort, from: 'supervisor@example.test', to: [to], timeout: '5s' } },
      route: { sinks: ['mail'] },
      default_rules: false,
      rules: [{ name: 'data_stale', match: { kind: 'delta_freshness' }, summary: 'Data stale: {{ check }} last changed {{ value_human }} ago (threshold {{ threshold_human }})' }],
    });
    sup.signals.next(signal('gold_freshness', 'crit'));
    const [firing] = await waitFor('the firing mail', async () => ((await messagesTo(to)).length >= 1 ? messagesTo(to) : false));
    expect(firing!.subject).toBe('[supervisor] [FIRING:1] data_stale (check=gold_freshness)');
    expect(firing!.from).toContain('supervisor@example.test');
    expect(firing!.text).toContain('Data stale: gold_freshness last changed 2h30m ago (threshold 2h)');
    expect(firing!.text).toContain('Firing since');
    expect(firing!.html).toContain('<table');
    expect(firing!.html).toContain('2h30m');
    expect(firing!.html).toContain('http://127.0.0.1:8090/api/v1/health');
    expect(firing!.headers['x-supervisor-dedup-key']).toMatch(/^data_stale\|.*\|firing\|\d+\|0$/);

    sup.signals.next(signal('gold_freshness', 'ok'));
    const all = await waitFor('the resolved mail', async () => {
      const m = await messagesTo(to);
      return m.length >= 2 ? m : false;
    });
    expect(all[1]!.subject).toBe('[supervisor] [RESOLVED:1] data_stale (check=gold_freshness)');
    expect(all[1]!.text).toContain('resolved at');
    await new Promise((r) => setTimeout(r, 500));
    expect(await messagesTo(to)).toHaveLength(2);
    expect(sup.outbox.stats()).toEqual({ pending: 0, delivered: 2, dead: 0 });
  });

  it('sends an info notification (send_success_notification) directly', async () => {
    const to = `${freshName('team')}@example.test`;
    const sink = createEmailSink('mail', {
      type: 'email',
      host: endpoints.smtpHost,
      port: endpoints.smtpPort,
      secure: false,
      from: 'supervisor@example.test',
      to: [to],
      subject_prefix: '[sup]',
      timeout: 5000,
    });
    try {
      await sink.deliver(
        createInfoNotification({ pipeline: 'domain_ingestion', runId: 'run-1', at: Date.now(), publicUrl: 'http://127.0.0.1:8090' }),
        new AbortController().signal,
      );
    } finally {
      await sink.close?.();
    }
    const [m] = await messagesTo(to);
    expect(m!.subject).toBe('[sup] [INFO] send_success_notification (pipeline=domain_ingestion)');
    expect(m!.text).toContain('Pipeline domain_ingestion succeeded');
    expect(m!.html).toContain('http://127.0.0.1:8090/api/v1/runs/run-1');
  });

  it('reports an unreachable SMTP server as retryable without the password', async () => {
    const sink = createEmailSink('mail', {
      type: 'email',
      host: '127.0.0.1',
      port: 1,
      secure: false,
      user: 'u',
      password: 'p4ssw0rd-secret',
      from: 'a@example.test',
      to: ['b@example.test'],
      subject_prefix: '',
      timeout: 2000,
    });
    const err = await sink.deliver(createInfoNotification({ pipeline: 'p', runId: 'r', at: 0 }), new AbortController().signal).then(
      () => null,
      (e: unknown) => e as SinkError,
    );
    await sink.close?.();
    expect(err).toBeInstanceOf(SinkError);
    expect(err!.retryable).toBe(true);
    expect(err!.message).toMatch(/^email sink "mail" \(127\.0\.0\.1:1\)/);
    expect(err!.message).not.toContain('p4ssw0rd-secret');
  });
});
