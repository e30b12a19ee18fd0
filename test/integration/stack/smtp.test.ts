/**
 * The stack's SMTP sink: nodemailer sends a multipart message, the sink's HTTP API returns it
 * parsed (subject with non-ASCII characters, text and HTML bodies, recipients).
 */
import nodemailer from 'nodemailer';
import { freshName } from '../../helpers/names';
import { STACK_TIMEOUT_MS, endpoints, ensureServices } from '../../helpers/stack';

jest.setTimeout(60_000);

interface Message {
  id: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  envelope: { from: string; to: string[] };
}

describe('local stack: smtp sink', () => {
  beforeAll(() => ensureServices(['smtp']), STACK_TIMEOUT_MS);

  it('keeps a received message where tests can read it', async () => {
    const to = `${freshName('oncall')}@example.test`;
    const transport = nodemailer.createTransport({ host: endpoints.smtpHost, port: endpoints.smtpPort, secure: false, ignoreTLS: true });
    try {
      await transport.sendMail({
        from: 'supervisor@example.test',
        to,
        subject: 'CRIT kafka_lag — Verzögerung ✓',
        text: 'Lag is 12 345 messages.\nSecond line = ok',
        html: '<p>Lag is <b>12 345</b> messages.</p>',
      });
    } finally {
      transport.close();
    }

    const res = await fetch(`${endpoints.smtpApiUrl}/api/messages?to=${encodeURIComponent(to)}`);
    expect(res.status).toBe(200);
    const messages = (await res.json()) as Message[];
    expect(messages).toHaveLength(1);
    const msg = messages[0]!;
    expect(msg).toMatchObject({ from: 'supervisor@example.test', to: [to], subject: 'CRIT kafka_lag — Verzögerung ✓' });
    expect(msg.envelope).toEqual({ from: 'supervisor@example.test', to: [to] });
    expect(msg.text).toBe('Lag is 12 345 messages.\nSecond line = ok');
    expect(msg.html).toBe('<p>Lag is <b>12 345</b> messages.</p>');

    const one = await fetch(`${endpoints.smtpApiUrl}/api/messages/${msg.id}`);
    expect(((await one.json()) as Message).subject).toBe(msg.subject);
  });
});
