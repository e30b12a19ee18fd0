/**
 * Generic webhook: the notification as JSON. With a secret, the raw body is signed with
 * HMAC-SHA256: `X-Supervisor-Signature-256: sha256=<hex>` (GitHub's scheme). Receivers should
 * de-duplicate on `X-Supervisor-Dedup-Key` (delivery is at least once).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AlertSink, Notification } from '../../src/protocol';
import type { WebhookSinkConfig } from '../config';
import { postJson } from './http';

export const SIGNATURE_HEADER = 'x-supervisor-signature-256';
export const DEDUP_HEADER = 'x-supervisor-dedup-key';

export function webhookBody(n: Notification): Record<string, unknown> {
  return {
    version: 1,
    dedupKey: n.dedupKey,
    kind: n.kind,
    rule: n.rule,
    severity: n.severity,
    title: n.title,
    text: n.text,
    labels: n.labels,
    annotations: n.annotations,
    startsAt: new Date(n.startsAt).toISOString(),
    ...(n.endsAt !== undefined ? { endsAt: new Date(n.endsAt).toISOString() } : {}),
    ...(n.url !== undefined ? { url: n.url } : {}),
    items: n.items,
  };
}

export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** For receivers (and tests): constant-time check of the signature header. */
export function verifyWebhookSignature(secret: string, body: string, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signBody(secret, body));
  const actual = Buffer.from(header);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

export function createWebhookSink(name: string, config: WebhookSinkConfig): AlertSink {
  return {
    name,
    type: 'webhook',
    async deliver(notification, signal) {
      const body = JSON.stringify(webhookBody(notification));
      const headers: Record<string, string> = { ...config.headers, [DEDUP_HEADER]: notification.dedupKey, 'idempotency-key': notification.dedupKey };
      if (config.secret) headers[SIGNATURE_HEADER] = signBody(config.secret, body);
      await postJson({ what: `webhook sink "${name}"`, url: config.url, body, headers, timeoutMs: config.timeout, signal });
    },
  };
}
