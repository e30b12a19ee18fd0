/**
 * A state store that does not answer (PostgreSQL down or hung: SUP_ERR_STORE_UNAVAILABLE from
 * the store facade) is a 503 with Retry-After and the store's reason, not a 500.
 */
import { Registry } from 'prom-client';
import { SupervisorError } from '../../../src/protocol';
import { buildApp } from '../../../src/server/app';
import { silentLogger } from '../../../src/shared/logger';

describe('store unavailable → 503', () => {
  it('answers 503 with Retry-After and the reason naming the store host', async () => {
    const app = await buildApp({
      logger: silentLogger,
      registry: new Registry(),
      readiness: () => ({ ready: false, components: { store: 'postgres at 127.0.0.1:5442 does not answer' } }),
      tokens: { verify: () => ({ id: 't', name: 'ops', readOnly: false, createdAt: 0, lastUsedAt: null }) },
      version: '0.0.0',
      api: [
        async (api) =>
          void api.get('/runs', async () => {
            throw new SupervisorError('SUP_ERR_STORE_UNAVAILABLE', 'state store postgres at 127.0.0.1:5442 did not answer within 5 s');
          }),
      ],
    });
    const res = await app.inject({ method: 'GET', url: '/api/v1/runs', headers: { authorization: 'Bearer x' } });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json()).toEqual({ code: 'SUP_ERR_STORE_UNAVAILABLE', message: 'state store postgres at 127.0.0.1:5442 did not answer within 5 s' });
    await app.close();
  });
});
