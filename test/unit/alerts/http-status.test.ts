/**
 * How an HTTP sink's answer becomes a delivery outcome (alerts/sinks/http.ts postJson), against
 * a real local HTTP server: 2xx delivered; 429 and 503 retryable after exactly the Retry-After
 * the receiver sent; other 5xx and 408 retryable; other 4xx permanent. The outbox worker's
 * scheduling of the retry is in outbox.test.ts; this is where the header is read.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { postJson } from '../../../alerts/sinks/http';
import { SinkError } from '../../../src/protocol';

let server: http.Server;
let url: string;
let answer: { status: number; headers?: Record<string, string> } = { status: 200 };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(answer.status, answer.headers ?? {});
      res.end('{"ok":false}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/secret-path`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function outcome(status: number, headers?: Record<string, string>): Promise<SinkError | 'delivered'> {
  answer = { status, ...(headers ? { headers } : {}) };
  try {
    await postJson({ what: 'webhook', url, body: '{}', headers: {}, timeoutMs: 5000, signal: new AbortController().signal });
    return 'delivered';
  } catch (err) {
    if (err instanceof SinkError) return err;
    throw err;
  }
}

describe('HTTP sink status mapping', () => {
  it('2xx is delivered', async () => {
    expect(await outcome(204)).toBe('delivered');
  });

  it('429 is retryable after exactly the Retry-After seconds the receiver asked for', async () => {
    const err = await outcome(429, { 'retry-after': '7' });
    expect(err).toBeInstanceOf(SinkError);
    expect(err).toMatchObject({ retryable: true, retryAfterMs: 7000 });
    expect((err as SinkError).message).toMatch(/HTTP 429/);
    expect((err as SinkError).message).not.toContain('secret-path');
  });

  it('503 with Retry-After is retryable after it; 500 without is retryable with backoff', async () => {
    expect(await outcome(503, { 'retry-after': '2' })).toMatchObject({ retryable: true, retryAfterMs: 2000 });
    const plain = await outcome(500);
    expect(plain).toMatchObject({ retryable: true });
    expect((plain as SinkError).retryAfterMs).toBeUndefined();
  });

  it('other 4xx are permanent (never retried), 408 is not', async () => {
    expect(await outcome(400)).toMatchObject({ retryable: false });
    expect(await outcome(404)).toMatchObject({ retryable: false });
    expect(await outcome(408)).toMatchObject({ retryable: true });
  });
});
