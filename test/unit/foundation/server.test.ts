import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDaemon, type Daemon } from '../../../src/daemon';
import { silentLogger } from '../../../src/shared/logger';
import { createTokenStore } from '../../../src/store/tokens';

function tempConfig(): { file: string; env: Record<string, string> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-daemon-'));
  const file = path.join(dir, 'supervisor.yaml');
  // no checks and no schedules: the HTTP surface alone
  fs.writeFileSync(file, 'server:\n  port: 0\nstore:\n  path: state.db\n');
  return { file, env: {} };
}

describe('HTTP probes and auth (inject)', () => {
  let daemon: Daemon;
  beforeAll(async () => {
    const { file, env } = tempConfig();
    daemon = await createDaemon({ configFile: file, env, logger: silentLogger });
  });
  afterAll(() => daemon.stop());

  it('serves /healthz and /metrics without a token', async () => {
    expect((await daemon.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const metrics = await daemon.app.inject({ url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.body).toMatch(/^supervisor_build_info\{version="\d+\.\d+\.\d+",nodejs="20\.[\d.]+"\} 1$/m);
    expect(metrics.body).toContain('process_resident_memory_bytes');
  });

  it('answers /readyz 503 naming what is not started, before start', async () => {
    const ready = await daemon.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().components).toMatchObject({ store: true, http: 'not started' });
  });

  it('requires a bearer token under /api/v1, refuses writes with a read-only token, and serves OpenAPI openly', async () => {
    expect((await daemon.app.inject({ url: '/api/v1/openapi.json' })).json()).toMatchObject({ openapi: expect.stringMatching(/^3\./) });
    const none = await daemon.app.inject({ url: '/api/v1/health' });
    expect(none.statusCode).toBe(401);
    expect(none.json().code).toBe('SUP_ERR_UNAUTHORIZED');
    const wrong = await daemon.app.inject({ url: '/api/v1/health', headers: { authorization: 'Bearer sup_wrong' } });
    expect(wrong.statusCode).toBe(401);
    const { token } = createTokenStore(daemon.db).create('reader', true);
    const readOnlyWrite = await daemon.app.inject({ method: 'POST', url: '/api/v1/pipelines/anything/trigger', headers: { authorization: `Bearer ${token}` }, payload: {} });
    expect(readOnlyWrite.statusCode).toBe(403);
    // no route: nothing to forbid, the answer says the route does not exist
    expect((await daemon.app.inject({ method: 'POST', url: '/api/v1/anything', headers: { authorization: `Bearer ${token}` }, payload: {} })).statusCode).toBe(404);
  });

  it('rate-limits repeated failures from one address', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await daemon.app.inject({ url: '/api/v1/health', headers: { authorization: 'Bearer nope' }, remoteAddress: '10.9.9.9' })).statusCode);
    expect(codes.slice(0, 10).every((c) => c === 401)).toBe(true);
    expect(codes.slice(10)).toEqual([429, 429]);
  });
});

describe('daemon lifecycle', () => {
  it('listens, becomes ready, and stops idempotently leaving the store closed', async () => {
    const { file, env } = tempConfig();
    const daemon = await createDaemon({ configFile: file, env, logger: silentLogger, port: 0 });
    await daemon.start();
    const res = await fetch(`${daemon.url()}/readyz`);
    expect(res.status).toBe(200);
    await Promise.all([daemon.stop(), daemon.stop()]);
    expect(daemon.db.open).toBe(false);
    await expect(fetch(`${daemon.url()}/healthz`)).rejects.toThrow();
  });
});
