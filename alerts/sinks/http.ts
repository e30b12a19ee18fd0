/**
 * One HTTP POST for the HTTP sinks (undici), with a timeout, the caller's AbortSignal and
 * the status → SinkError mapping: 2xx delivered; 429 (and 503 with Retry-After) retryable
 * after Retry-After; 408, 5xx and network errors retryable; other 4xx permanent. Error
 * messages name the sink and host only: webhook URLs carry secrets in their paths.
 */
import { SinkError } from '../../src/protocol';
import { httpRequest } from '../../src/shared/http-client';

export interface PostParams {
  /** `slack sink "ops"` — used in every error message. */
  what: string;
  url: string;
  body: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
}

/** Retry-After as delay-seconds or an HTTP date → milliseconds from now; undefined when absent or invalid. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** `hooks.slack.com` for `https://hooks.slack.com/services/T/B/SECRET`. */
export function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '<invalid url>';
  }
}

/** Removes the URL (and its path and query, which may be secret) from a message. */
export function redact(message: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = message;
  for (const secret of secrets) {
    if (!secret) continue;
    out = out.split(secret).join('<redacted>');
    try {
      const u = new URL(secret);
      if (u.pathname.length > 1) out = out.split(u.pathname).join('<redacted>');
      if (u.search) out = out.split(u.search).join('<redacted>');
      if (u.password) out = out.split(u.password).join('<redacted>');
    } catch {
      // not a URL
    }
  }
  return out;
}

export async function postJson(p: PostParams): Promise<void> {
  const timeout = AbortSignal.timeout(p.timeoutMs);
  const signal = AbortSignal.any([p.signal, timeout]);
  const where = `${p.what} (${safeHost(p.url)})`;
  let statusCode: number;
  let headers: Record<string, string | string[] | undefined>;
  let text = '';
  try {
    const res = await httpRequest(p.url, {
      method: 'POST',
      body: p.body,
      headers: { 'content-type': 'application/json', 'user-agent': 'pipeline-supervisor', ...p.headers },
      signal,
      headersTimeout: p.timeoutMs,
      bodyTimeout: p.timeoutMs,
    });
    statusCode = res.statusCode;
    headers = res.headers;
    text = (await res.body.text()).slice(0, 300);
  } catch (err) {
    if (timeout.aborted && !p.signal.aborted) throw new SinkError(`${where}: no answer within ${p.timeoutMs} ms`, true);
    if (p.signal.aborted) throw new SinkError(`${where}: delivery aborted`, true);
    const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
    const code = e.code ?? e.cause?.code;
    throw new SinkError(redact(`${where}: ${code ? `${code} ` : ''}${e.cause?.message ?? e.message}`, [p.url]), true);
  }
  if (statusCode >= 200 && statusCode < 300) return;
  const detail = text.replace(/\s+/g, ' ').trim();
  const message = redact(`${where}: HTTP ${statusCode}${detail ? ` ${detail}` : ''}`, [p.url]);
  const retryAfterMs = parseRetryAfter(headers['retry-after']);
  if (statusCode === 429) throw new SinkError(message, true, retryAfterMs);
  if (statusCode === 408 || statusCode >= 500) throw new SinkError(message, true, retryAfterMs);
  throw new SinkError(message, false);
}
