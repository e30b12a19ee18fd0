/**
 * GET /metrics sends the registry's kept buffers: a large exposition (a stream with its
 * content-length) and a small one (one buffer) must both be byte for byte the registry's text,
 * over a real socket, plain and gzipped as Prometheus asks for it.
 */
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { FastRegistry, registerSnapshotGauge } from '../../../src/metrics/snapshot-gauge';
import { buildApp } from '../../../src/server/app';
import { silentLogger } from '../../../src/shared/logger';

async function serve(items: () => Array<{ id: number }>) {
  const registry = new FastRegistry();
  registerSnapshotGauge<{ id: number }>(registry, {
    name: 'test_series',
    help: 'one series per item',
    items,
    samples: (it) => [{ labels: { id: it.id, pad: 'x'.repeat(40) }, value: it.id / 4 }],
  });
  const app = await buildApp({ logger: silentLogger, registry, version: 'test', tokens: { verify: () => null }, readiness: () => ({ ready: true, components: {} }) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('the app listens on no TCP port');
  return { registry, app, url: `http://127.0.0.1:${address.port}/metrics` };
}

describe('GET /metrics', () => {
  it.each([
    ['a large exposition, streamed with its length', 40_000],
    ['a small exposition, in one buffer', 10],
  ])('sends %s exactly as the registry renders it', async (_what, n) => {
    const list = Array.from({ length: n }, (_, id) => ({ id }));
    const { registry, app, url } = await serve(() => list);
    try {
      const res = await request(url);
      const body = await res.body.text();
      expect(res.statusCode).toBe(200);
      expect(String(res.headers['content-type'])).toContain('text/plain');
      expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(body));
      expect(body).toBe(await registry.metrics());
      expect(body).toContain(`test_series{id="${n - 1}",pad="${'x'.repeat(40)}"} ${(n - 1) / 4}\n`);
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(res.headers['vary']).toBe('accept-encoding');

      // Prometheus's own request header: the same text as one gzip member, CRC and length checked by gunzip
      const zipped = await request(url, { headers: { 'accept-encoding': 'gzip' } });
      const bytes = Buffer.from(await zipped.body.arrayBuffer());
      expect(zipped.statusCode).toBe(200);
      expect(zipped.headers['content-encoding']).toBe('gzip');
      expect(Number(zipped.headers['content-length'])).toBe(bytes.length);
      expect(gunzipSync(bytes).toString('utf8')).toBe(body);
      if (n > 1000) expect(bytes.length).toBeLessThan(Buffer.byteLength(body) / 5);

      // gzip refused: plain text
      const refused = await request(url, { headers: { 'accept-encoding': 'gzip;q=0, identity' } });
      expect(refused.headers['content-encoding']).toBeUndefined();
      expect(await refused.body.text()).toBe(body);
    } finally {
      await app.close();
    }
  });
});
