import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import type { Logger } from '../../../src/protocol';
import { buildApp, type BuildAppParams } from '../../../src/server/app';
import { clientKey } from '../../../src/server/auth';
import { isProxyAddress } from '../../../src/shared/addresses';
import { validateRawConfig } from '../../../src/config/schema';

const VALID = 'sup_valid-token';

/** `server:` through the config schema: the trust_proxy it yields, or not ok. */
function serverConfigSchemaProbe(server: Record<string, unknown>): { ok: true; trustProxy: unknown } | { ok: false } {
  const result = validateRawConfig({ server });
  return result.success ? { ok: true, trustProxy: result.data.server.trust_proxy } : { ok: false };
}
const tokens: BuildAppParams['tokens'] = {
  verify: (token: string) => (token === VALID ? { id: '1', name: 'ops', readOnly: false, createdAt: 0, lastUsedAt: null } : null),
};

function capturingLogger(): Logger & { entries: Array<{ level: string; msg: string; fields: Record<string, unknown> }> } {
  const entries: Array<{ level: string; msg: string; fields: Record<string, unknown> }> = [];
  const at =
    (level: string) =>
    (o: unknown, m?: string): void =>
      void entries.push({ level, msg: typeof o === 'string' ? o : (m ?? ''), fields: typeof o === 'object' && o !== null ? (o as Record<string, unknown>) : {} });
  const make = (): Logger & { entries: typeof entries } => ({ entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => make() });
  return make();
}

async function app(options: Partial<BuildAppParams> = {}): Promise<FastifyInstance> {
  const built = await buildApp({
    logger: options.logger ?? capturingLogger(),
    registry: new Registry(),
    readiness: () => ({ ready: true, components: {} }),
    tokens,
    version: '0.0.0',
    api: [async (api) => void api.get('/thing', async () => ({ ok: true }))],
    ...options,
  });
  await built.ready();
  return built;
}

const get = (a: FastifyInstance, token: string | null, remoteAddress: string, headers: Record<string, string> = {}) =>
  a.inject({ url: '/api/v1/thing', remoteAddress, headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } });

describe('auth rate limiter', () => {
  it('lets a valid token through from an address that is locked out for failures', async () => {
    const a = await app({ authFailuresPerMinute: 3 });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await get(a, 'sup_wrong', '10.0.0.7')).statusCode);
    expect(codes).toEqual([401, 401, 401, 429, 429]);
    const limited = await get(a, null, '10.0.0.7');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json().message).toMatch(/^authorization: /);
    // the bug: a valid token got 429 for 60 s (behind a proxy: everyone's did)
    expect((await get(a, VALID, '10.0.0.7')).statusCode).toBe(200);
    // other addresses are not affected
    expect((await get(a, 'sup_wrong', '10.0.0.8')).statusCode).toBe(401);
    await a.close();
  });

  it('lifts the limit after its one-minute window', async () => {
    let now = 1_000_000;
    const { createAuthHook } = await import('../../../src/server/auth');
    const hook = createAuthHook({ tokens, failuresPerMinute: 2, now: () => now });
    const Fastify = (await import('fastify')).default;
    const a = Fastify();
    a.addHook('onRequest', hook);
    a.get('/x', async () => 'ok');
    const hit = async () => (await a.inject({ url: '/x', remoteAddress: '10.1.1.1', headers: { authorization: 'Bearer nope' } })).statusCode;
    expect([await hit(), await hit(), await hit()]).toEqual([401, 401, 429]);
    now += 59_000;
    expect(await hit()).toBe(429);
    now += 1_000;
    expect(await hit()).toBe(401);
    await a.close();
  });

  it('never forgets a locked-out address wholesale: a spray of new addresses does not unlock it', async () => {
    const a = await app({ authFailuresPerMinute: 2 });
    for (let i = 0; i < 3; i++) await get(a, 'sup_wrong', '127.0.0.1');
    expect((await get(a, 'sup_wrong', '127.0.0.1')).statusCode).toBe(429);
    // the old table was cleared once 10,000 addresses had failed
    for (let i = 0; i < 10_050; i++) {
      if (i % 2_000 === 0) expect((await get(a, 'sup_wrong', '127.0.0.1')).statusCode).toBe(429);
      await get(a, 'sup_wrong', `127.1.${(i >> 8) & 255}.${i & 255}`);
    }
    expect((await get(a, 'sup_wrong', '127.0.0.1')).statusCode).toBe(429);
    await a.close();
  }, 60_000);

  it('logs each failed attempt with the address and the reason, never the token', async () => {
    const logger = capturingLogger();
    const a = await app({ logger, authFailuresPerMinute: 2 });
    await get(a, 'sup_secret-guess-1', '10.0.0.9');
    await get(a, null, '10.0.0.9');
    await a.inject({ url: '/api/v1/thing', remoteAddress: '10.0.0.9', headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    const failed = logger.entries.filter((e) => e.msg.startsWith('authentication failed'));
    expect(failed.map((e) => [e.level, e.fields.address, e.fields.reason])).toEqual([
      ['warn', '10.0.0.9', 'unknown or revoked token'],
      ['warn', '10.0.0.9', 'no authorization header'],
      ['debug', '10.0.0.9', 'authorization header is not "Bearer <token>"'],
    ]);
    const text = JSON.stringify(logger.entries);
    expect(text).not.toContain('sup_secret-guess-1');
    expect(text).not.toContain('dXNlcjpwYXNz');
    await a.close();
  });

  it('counts IPv6 failures per /64 (one host owns the whole network) and IPv4-mapped addresses as IPv4', () => {
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(clientKey('10.0.0.1')).toBe('10.0.0.1');
  });
});

describe('server.trust_proxy', () => {
  it('ignores X-Forwarded-For by default: every client behind a proxy shares its address', async () => {
    const a = await app({ authFailuresPerMinute: 2 });
    for (const client of ['1.1.1.1', '2.2.2.2']) await get(a, 'sup_wrong', '10.0.0.1', { 'x-forwarded-for': client });
    expect((await get(a, 'sup_wrong', '10.0.0.1', { 'x-forwarded-for': '3.3.3.3' })).statusCode).toBe(429);
    await a.close();
  });

  it('counts failures per forwarded client when the proxy is trusted (true or a list of addresses/CIDRs)', async () => {
    for (const trustProxy of [true, ['10.0.0.0/8'], ['10.0.0.1']] as const) {
      const a = await app({ authFailuresPerMinute: 2, trustProxy });
      for (let i = 0; i < 3; i++) await get(a, 'sup_wrong', '10.0.0.1', { 'x-forwarded-for': '1.1.1.1' });
      expect((await get(a, 'sup_wrong', '10.0.0.1', { 'x-forwarded-for': '1.1.1.1' })).statusCode).toBe(429);
      expect((await get(a, 'sup_wrong', '10.0.0.1', { 'x-forwarded-for': '2.2.2.2' })).statusCode).toBe(401);
      await a.close();
    }
    // a proxy not in the list cannot name the client
    const a = await app({ authFailuresPerMinute: 2, trustProxy: ['192.168.0.0/16'] });
    for (const client of ['1.1.1.1', '2.2.2.2']) await get(a, 'sup_wrong', '10.0.0.1', { 'x-forwarded-for': client });
    expect((await get(a, 'sup_wrong', '10.0.0.1', { 'x-forwarded-for': '3.3.3.3' })).statusCode).toBe(429);
    await a.close();
  });

  it('is a config setting: false by default, true, or addresses/CIDRs, anything else refused', () => {
    expect(serverConfigSchemaProbe({})).toEqual({ ok: true, trustProxy: false });
    expect(serverConfigSchemaProbe({ trust_proxy: true })).toEqual({ ok: true, trustProxy: true });
    expect(serverConfigSchemaProbe({ trust_proxy: ['10.0.0.0/8', '::1', 'loopback'] })).toEqual({ ok: true, trustProxy: ['10.0.0.0/8', '::1', 'loopback'] });
    for (const bad of [['10.0.0.0/33'], ['proxy.example'], [], 'yes', ['10.0.0.1/8/1']]) expect(serverConfigSchemaProbe({ trust_proxy: bad })).toMatchObject({ ok: false });
    expect(isProxyAddress('fd00::/8')).toBe(true);
    expect(isProxyAddress('fd00::/129')).toBe(false);
  });
});
