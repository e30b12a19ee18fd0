import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpAgent, httpRequest } from '../../../src/shared/http-client';

describe('http client (undici request and Agent without the index)', () => {
  let server: http.Server;
  let base: string;
  const seen: Array<{ method?: string; url?: string; header?: string; body: string }> = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, header: req.headers['x-test'] as string | undefined, body });
        if (req.url === '/slow') return void setTimeout(() => res.end('late'), 2000);
        res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/json', 'retry-after': '3' });
        res.end(JSON.stringify({ path: req.url }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('sends method, path with query, headers and body, and returns status, headers and body', async () => {
    const res = await httpRequest(`${base}/a/b?x=1&y=2`, { method: 'POST', body: '{"k":1}', headers: { 'x-test': 'yes' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['retry-after']).toBe('3');
    expect(await res.body.json()).toEqual({ path: '/a/b?x=1&y=2' });
    expect(seen.at(-1)).toEqual({ method: 'POST', url: '/a/b?x=1&y=2', header: 'yes', body: '{"k":1}' });
  });

  it('defaults to GET and uses a given Agent', async () => {
    const agent = createHttpAgent({ keepAliveTimeout: 1000 });
    try {
      const res = await httpRequest(`${base}/missing`, { dispatcher: agent });
      expect(res.statusCode).toBe(404);
      await res.body.dump();
      expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/missing' });
    } finally {
      await agent.close();
    }
  });

  it('rejects when the signal aborts, and when nothing listens', async () => {
    await expect(httpRequest(`${base}/slow`, { signal: AbortSignal.timeout(100) })).rejects.toThrow();
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(httpRequest(`http://127.0.0.1:${port}/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
