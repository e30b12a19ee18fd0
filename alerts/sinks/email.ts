/**
 * Email over SMTP (nodemailer): text and HTML bodies from templates.renderEmail. The
 * Message-ID derives from the dedup key, so a redelivery is recognisable as the same mail.
 * SMTP 4xx and connection problems are retryable; 5xx, bad addresses and auth failures are not.
 * nodemailer is loaded on the first delivery: a supervisor that never mails never pays its ~2 MB.
 */
import { createHash } from 'node:crypto';
import type { Transporter } from 'nodemailer';
import { SinkError, type AlertSink } from '../../src/protocol';
import type { EmailSinkConfig } from '../config';
import { renderEmail } from '../templates';
import { redact } from './http';

const PERMANENT_CODES = new Set(['EAUTH', 'EENVELOPE', 'EMESSAGE', 'ECONFIG', 'ENOAUTH']);

export function createEmailSink(name: string, config: EmailSinkConfig): AlertSink {
  let transport: Transporter | undefined;
  const getTransport = async (): Promise<Transporter> => {
    if (transport) return transport;
    const nodemailer = (await import('nodemailer')).default;
    return (transport ??= nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure,
      ...(config.user ? { auth: { user: config.user, pass: config.password ?? '' } } : {}),
      connectionTimeout: config.timeout,
      greetingTimeout: config.timeout,
      socketTimeout: config.timeout,
    }));
  };
  const where = `email sink "${name}" (${config.host}:${config.port})`;
  return {
    name,
    type: 'email',
    async deliver(notification, signal) {
      const { subject, text, html } = renderEmail(notification, config.subject_prefix);
      const messageId = `<${createHash('sha256').update(notification.dedupKey).digest('hex').slice(0, 32)}@pipeline-supervisor>`;
      const send = (await getTransport()).sendMail({
        from: config.from,
        to: config.to,
        subject,
        text,
        html,
        messageId,
        headers: { 'X-Supervisor-Dedup-Key': notification.dedupKey, 'X-Supervisor-Rule': notification.rule, 'X-Supervisor-Kind': notification.kind },
      });
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(new SinkError(`${where}: delivery aborted`, true));
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        await Promise.race([send, aborted]);
      } catch (err) {
        if (err instanceof SinkError) throw err;
        const e = err as Error & { code?: string; responseCode?: number };
        const message = redact(`${where}: ${e.code ? `${e.code} ` : ''}${e.message}`, [config.password]);
        const permanent = (e.responseCode !== undefined && e.responseCode >= 500) || (e.code !== undefined && PERMANENT_CODES.has(e.code));
        throw new SinkError(message, !permanent);
      } finally {
        if (onAbort) signal.removeEventListener('abort', onAbort);
        send.catch(() => undefined);
      }
    },
    async close() {
      transport?.close();
    },
  };
}
