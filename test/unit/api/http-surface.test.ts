import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDaemon, type Daemon } from '../../../src/daemon';
import { silentLogger } from '../../../src/shared/logger';
import { jsonDepthProblem, MAX_PARAM_LENGTH } from '../../../src/server/app';
import { apiRoutes } from '../../../src/server/routes/api';
import { buildApp } from '../../../src/server/app';
import { createSqliteSilenceStore } from '../../../src/store/silences';
import { createTokenStore } from '../../../src/store/tokens';
import { Registry } from 'prom-client';
import { LIMITS } from '../../../src/shared/limits';

const CONFIG = `
server: { port: 0 }
store: { path: state.db }
variables:
  kafka_servers: "127.0.0.1:9092"
connections:
  kafka: { brokers: "{{ var.kafka_servers }}" }
pipelines:
  nightly:
    schedule: "0 3 * * *"
    tasks:
      - id: done
        operator: notify
        params: { message: "nightly finished" }
alerts:
  sinks: { log: { type: log } }
  route: { sinks: [log] }
`;

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS' | 'HEAD';

describe('the HTTP surface: strangers, methods, parameters, bodies, the OpenAPI document', () => {
  let daemon: Daemon;
  let writer: string;
  let reader: string;
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });
  const deep = (levels: number) => `{"conf":${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}`;

  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-http-'));
    fs.writeFileSync(path.join(dir, 'supervisor.yaml'), CONFIG);
    daemon = await createDaemon({ configFile: path.join(dir, 'supervisor.yaml'), env: {}, logger: silentLogger, port: 0 });
    const tokens = createTokenStore(daemon.db);
    writer = tokens.create('writer', false).token;
    reader = tokens.create('reader', true).token;
  });
  afterAll(() => daemon.stop());

  it('answers a stranger 401 for every /api/v1 request: known or unknown path, any method, any parameter length, bad bodies', async () => {
    const long = 'x'.repeat(MAX_PARAM_LENGTH + 50);
    const requests: Array<[Method, string, string?]> = [
      ['GET', '/api/v1/pipelines'],
      ['GET', '/api/v1/no-such-route'],
      ['GET', '/api/v1'],
      ['DELETE', '/api/v1/pipelines'],
      ['PATCH', '/api/v1/pipelines/nightly/trigger', '{}'],
      ['OPTIONS', '/api/v1/runs'],
      ['GET', `/api/v1/runs/${'r'.repeat(250)}`],
      // beyond the router's limit: this answered 414 before the token check, telling which routes exist
      ['GET', `/api/v1/runs/${long}`],
      ['GET', `/api/v1/no-such-route/${long}`],
      ['GET', '/api/v1/runs/%E0%A4%A'],
      ['POST', '/api/v1/pipelines/nightly/trigger', '{"conf": '],
      ['POST', '/api/v1/pipelines/nightly/trigger', deep(100_000)],
      ['PUT', '/api/v1/variables/x', 'not json'],
    ];
    for (const [method, url, payload] of requests) {
      for (const headers of [{}, auth('sup_wrong')]) {
        const res = await daemon.app.inject({
          method,
          url,
          headers: { ...headers, ...(payload ? { 'content-type': 'application/json' } : {}) },
          ...(payload ? { payload } : {}),
          remoteAddress: `10.77.${requests.indexOf(requests.find((r) => r[1] === url)!)}.1`,
        });
        expect({ method, url: url.slice(0, 60), status: res.statusCode }).toEqual({ method, url: url.slice(0, 60), status: 401 });
      }
    }
  });

  it('answers an unknown method on a known path 405 with Allow (after the token check), an unknown path 404', async () => {
    const patch = await daemon.app.inject({ method: 'PATCH', url: '/api/v1/pipelines/nightly/trigger', headers: auth(writer) });
    expect(patch.statusCode).toBe(405);
    expect(patch.headers.allow).toBe('POST');
    expect(patch.json()).toEqual({ code: 'SUP_ERR_METHOD_NOT_ALLOWED', message: 'method: PATCH is not allowed on /api/v1/pipelines/nightly/trigger (allowed: POST)' });
    // answered before the body is read: a content type no parser takes does not matter
    const del = await daemon.app.inject({ method: 'DELETE', url: '/api/v1/variables', headers: { ...auth(writer), 'content-type': 'text/plain' }, payload: 'x' });
    expect(del.statusCode).toBe(405);
    expect(del.headers.allow).toBe('GET, HEAD');
    expect((await daemon.app.inject({ method: 'OPTIONS', url: '/api/v1/variables/some_key', headers: auth(reader) })).headers.allow).toBe('DELETE, PUT');
    expect((await daemon.app.inject({ method: 'POST', url: '/healthz' })).statusCode).toBe(405);
    const unknown = await daemon.app.inject({ url: '/api/v1/nothing/here', headers: auth(reader) });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toBe('path: no route GET /api/v1/nothing/here');
  });

  it('lets schema validation answer over-long path parameters (400 naming the parameter), never the router', async () => {
    const res = await daemon.app.inject({ url: `/api/v1/runs/${'r'.repeat(LIMITS.nameLength + 1)}`, headers: auth(reader) });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/^invalid request: path\.id: must NOT have more than 200 characters/);
    const beyond = await daemon.app.inject({ url: `/api/v1/runs/${'r'.repeat(MAX_PARAM_LENGTH + 1)}`, headers: auth(reader) });
    expect(beyond.statusCode).toBe(400);
    expect(beyond.json().message).toBe(`path: a parameter is longer than ${MAX_PARAM_LENGTH} characters`);
  });

  it('refuses a deeply nested body with 400 naming the field, without parsing it', async () => {
    for (const levels of [LIMITS.confDepth + 1, 1000, 100_000]) {
      const res = await daemon.app.inject({
        method: 'POST',
        url: '/api/v1/pipelines/nightly/trigger',
        headers: { ...auth(writer), 'content-type': 'application/json' },
        payload: deep(levels),
      });
      expect({ levels, status: res.statusCode, body: res.json() }).toEqual({
        levels,
        status: 400,
        body: { code: 'SUP_ERR_BAD_REQUEST', message: `body.conf: nested more than ${LIMITS.confDepth} levels deep` },
      });
    }
    const ok = await daemon.app.inject({
      method: 'POST',
      url: '/api/v1/pipelines/nightly/trigger',
      headers: { ...auth(writer), 'content-type': 'application/json' },
      payload: JSON.stringify({ logical_date: '2025-10-05', conf: JSON.parse(deep(LIMITS.confDepth)).conf }),
    });
    expect(ok.statusCode).toBe(201);
    const arrays = await daemon.app.inject({
      method: 'POST',
      url: '/api/v1/silences',
      headers: { ...auth(writer), 'content-type': 'application/json' },
      payload: '['.repeat(50_000) + ']'.repeat(50_000),
    });
    expect(arrays.json()).toEqual({ code: 'SUP_ERR_BAD_REQUEST', message: `body: nested more than ${LIMITS.confDepth + 1} levels deep` });
    const big = await daemon.app.inject({
      method: 'POST',
      url: '/api/v1/pipelines/nightly/trigger',
      headers: auth(writer),
      payload: { conf: { blob: 'x'.repeat(LIMITS.confBytes) } },
    });
    expect(big.statusCode).toBe(400);
    expect(big.json().message).toMatch(/^body\.conf: \d+ bytes serialized; at most 65536$/);
  });

  it('scans JSON for depth in linear time with a constant stack, strings and escapes included', () => {
    expect(jsonDepthProblem('{"a":"[[[[[[[[[[","b":"\\"[[[["}', 2)).toBeNull();
    expect(jsonDepthProblem('{"a":[[1]]}', 3)).toBeNull();
    expect(jsonDepthProblem('{"a":[[[1]]]}', 3)).toBe('body.a: nested more than 2 levels deep');
    expect(jsonDepthProblem('[[[[]]]]', 3)).toBe('body: nested more than 3 levels deep');
    expect(jsonDepthProblem('['.repeat(5_000_000), 10)).toBe('body: nested more than 10 levels deep');
  });

  it('refuses keys that reach a prototype, at any depth, naming them', async () => {
    for (const payload of ['{"conf":{"__proto__":{"x":1}}}', '{"conf":{"a":[{"__proto__":1}]}}', '{"conf":{"constructor":{"prototype":{"x":1}}}}']) {
      const res = await daemon.app.inject({ method: 'POST', url: '/api/v1/pipelines/nightly/trigger', headers: { ...auth(writer), 'content-type': 'application/json' }, payload });
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toMatch(/^body: a key named "(__proto__|constructor\.prototype)" is not accepted/);
    }
  });

  it('does not coerce JSON body types: {"value": null} is not "", "true" is not true, 5 is not "5"', async () => {
    for (const [url, method, payload, field] of [
      ['/api/v1/variables/kafka_servers', 'PUT', '{"value": null}', 'body.value'],
      ['/api/v1/variables/kafka_servers', 'PUT', '{"value": 5}', 'body.value'],
      ['/api/v1/pipelines/nightly/trigger', 'POST', '{"rerun": "true"}', 'body.rerun'],
      ['/api/v1/pipelines/nightly/backfill', 'POST', '{"start_date": "2025-10-01", "end_date": "2025-10-02", "dry_run": 1}', 'body.dry_run'],
    ] as const) {
      const res = await daemon.app.inject({ method, url, headers: { ...auth(writer), 'content-type': 'application/json' }, payload });
      expect({ payload, status: res.statusCode }).toEqual({ payload, status: 400 });
      expect(res.json().message).toContain(`${field}: must be`);
    }
    expect(daemon.config.variables.kafka_servers).toBe('127.0.0.1:9092');
    expect((await daemon.app.inject({ url: '/api/v1/variables', headers: auth(reader) })).json().variables.kafka_servers).toEqual({ value: '127.0.0.1:9092', source: 'config' });
    // query strings are text: their numbers and booleans are still read as such
    expect((await daemon.app.inject({ url: '/api/v1/runs?limit=2&offset=0', headers: auth(reader) })).json()).toMatchObject({ limit: 2, offset: 0 });
  });

  it('names the field in every 4xx from fastify itself: content type, empty body, JSON syntax', async () => {
    const cases: Array<[Record<string, string>, string, RegExp]> = [
      [{ 'content-type': 'application/xml' }, '<x/>', /^content-type: "application\/xml" is not supported; send application\/json$/],
      [{ 'content-type': 'text/plain' }, 'x', /^invalid request: body: must be object$/],
      [{ 'content-type': 'application/json' }, '', /^body: empty/],
      [{ 'content-type': 'application/json' }, '{"conf": ', /^body: not valid JSON \(/],
    ];
    for (const [headers, payload, message] of cases) {
      const res = await daemon.app.inject({ method: 'POST', url: '/api/v1/pipelines/nightly/trigger', headers: { ...auth(writer), ...headers }, payload });
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      expect(res.json().message).toMatch(message);
    }
  });

  it('documents every status each route answers in the OpenAPI document', async () => {
    const doc = (await daemon.app.inject({ url: '/api/v1/openapi.json' })).json<{ paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }>();
    const statuses = (p: string, m: string) => Object.keys(doc.paths[p]![m]!.responses).sort();
    expect(statuses('/api/v1/pipelines', 'get')).toEqual(['200', '400', '401', '429']);
    expect(statuses('/api/v1/pipelines/{id}', 'get')).toEqual(['200', '400', '401', '404', '429']);
    expect(statuses('/api/v1/pipelines/{id}/trigger', 'post')).toEqual(['200', '201', '400', '401', '403', '404', '409', '413', '415', '429']);
    expect(statuses('/api/v1/pipelines/{id}/backfill', 'post')).toEqual(['200', '202', '400', '401', '403', '404', '409', '413', '415', '429']);
    expect(statuses('/api/v1/variables/{key}', 'put')).toEqual(['200', '400', '401', '403', '413', '415', '429']);
    expect(statuses('/api/v1/variables/{key}', 'delete')).toEqual(['204', '400', '401', '403', '404', '413', '415', '429']);
    expect(statuses('/api/v1/silences', 'post')).toEqual(['201', '400', '401', '403', '413', '415', '429']);
    for (const [p, methods] of Object.entries(doc.paths))
      for (const [m, op] of Object.entries(methods)) expect({ p, m, has401: '401' in op.responses, has400: '400' in op.responses }).toEqual({ p, m, has401: true, has400: true });
    // the silences body says one of duration/ends_at is required
    const silenceBody = (doc.paths['/api/v1/silences']!.post as unknown as { requestBody: { content: Record<string, { schema: { oneOf?: unknown; anyOf?: unknown } }> } })
      .requestBody.content['application/json']!.schema;
    expect(silenceBody.oneOf ?? silenceBody.anyOf).toEqual([{ required: ['duration'] }, { required: ['ends_at'] }]);
    // the bounds come from LIMITS
    const text = JSON.stringify(doc);
    expect(text).toContain(`"maxLength":${LIMITS.variableValueLength}`);
    expect(text).toContain(`"maximum":${LIMITS.backfillMaxActive}`);
    expect(text).toContain(`"maximum":${LIMITS.pageSize}`);
  });

  it('never says "see the log" in an answer, a 500 included', async () => {
    const app = await buildApp({
      logger: silentLogger,
      registry: new Registry(),
      readiness: () => ({ ready: true, components: {} }),
      tokens: createTokenStore(daemon.db),
      version: '0.0.0',
      api: [
        async (api) =>
          void api.get('/boom', async () => {
            throw new Error('kaboom');
          }),
      ],
    });
    const res = await app.inject({ url: '/api/v1/boom', headers: auth(reader) });
    expect(res.statusCode).toBe(500);
    expect(res.json().code).toBe('SUP_ERR_INTERNAL');
    expect(res.body).not.toMatch(/see the (supervisor )?log|kaboom/);
    await app.close();
    const src = ['src/server/app.ts', 'src/server/auth.ts', 'src/server/routes/api.ts', 'src/server/routes/health.ts']
      .map((f) => fs.readFileSync(path.join(__dirname, '../../..', f), 'utf8'))
      .join('\n');
    expect(src).not.toMatch(/see the (supervisor )?log/);
  });

  it("checks a variable change by loading the config with it, and refuses it with the config's error", async () => {
    const app = await buildApp({
      logger: silentLogger,
      registry: new Registry(),
      readiness: () => ({ ready: true, components: {} }),
      tokens: createTokenStore(daemon.db),
      version: '0.0.0',
      api: [
        apiRoutes({
          engine: daemon.engine,
          db: daemon.db,
          alerts: daemon.alerts,
          silenceStore: createSqliteSilenceStore(daemon.db),
          clock: { now: () => Date.now() } as never,
          loaded: daemon.config,
          env: {},
        }),
      ],
    });
    // the real check: kafka_servers feeds connections.kafka.brokers, "" would stop the next start
    const empty = await app.inject({ method: 'PUT', url: '/api/v1/variables/kafka_servers', headers: auth(writer), payload: { value: '' } });
    expect(empty.statusCode).toBe(400);
    expect(empty.json()).toMatchObject({ code: 'SUP_ERR_CONFIG_INVALID' });
    expect(empty.json().message).toMatch(/^body\.value: setting variable "kafka_servers" to "" would make the configuration invalid, so it was not stored: .*brokers/);
    expect((await app.inject({ url: '/api/v1/variables', headers: auth(reader) })).json().variables.kafka_servers).toEqual({ value: '127.0.0.1:9092', source: 'config' });
    const fine = await app.inject({ method: 'PUT', url: '/api/v1/variables/kafka_servers', headers: auth(writer), payload: { value: 'kafka-1:9092' } });
    expect(fine.statusCode).toBe(200);
    expect((await app.inject({ url: '/api/v1/variables', headers: auth(reader) })).json().variables.kafka_servers).toEqual({ value: 'kafka-1:9092', source: 'store' });
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/variables/kafka_servers', headers: auth(writer) })).statusCode).toBe(204);
    const reserved = await app.inject({ method: 'PUT', url: '/api/v1/variables/__proto__', headers: auth(writer), payload: { value: 'x' } });
    expect(reserved.statusCode).toBe(400);
    expect(reserved.json().message).toMatch(/^invalid request: path\.key/);
    await app.close();
  });
});
