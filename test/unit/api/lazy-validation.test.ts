import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDaemon, type Daemon } from '../../../src/daemon';
import { silentLogger } from '../../../src/shared/logger';
import { createTokenStore } from '../../../src/store/tokens';

const CONFIG = `
server: { port: 0 }
store: { path: state.db }
connections:
  kafka: { brokers: "127.0.0.1:9092" }
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

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** The same requests, valid and not, through query strings, path parameters and bodies. */
const REQUESTS: Array<[Method, string, unknown?]> = [
  ['GET', '/api/v1/runs?limit=abc'],
  ['GET', '/api/v1/runs?limit=5'],
  ['GET', '/api/v1/runs?limit=100000'],
  ['GET', '/api/v1/runs?limit=2&limit=3'],
  ['GET', `/api/v1/pipelines/${'x'.repeat(300)}`],
  ['GET', '/api/v1/pipelines/nightly'],
  ['PUT', '/api/v1/variables/answer', { value: null }],
  ['PUT', '/api/v1/variables/answer', { value: 42 }],
  ['PUT', '/api/v1/variables/answer', { value: '42' }],
  ['POST', '/api/v1/silences', {}],
  ['POST', '/api/v1/silences', { matchers: 'all', duration: true }],
  ['POST', '/api/v1/pipelines/nightly/trigger', { conf: 'not an object' }],
];

async function start(dir: string, compileSchemasNow: boolean): Promise<{ daemon: Daemon; token: string }> {
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'supervisor.yaml'), CONFIG);
  const daemon = await createDaemon({ configFile: path.join(dir, 'supervisor.yaml'), env: {}, logger: silentLogger, port: 0, compileSchemasNow });
  return { daemon, token: createTokenStore(daemon.db).create('writer', false).token };
}

describe("the API's request schemas, compiled at each route's first request", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-lazy-validation-'));
  let lazy: { daemon: Daemon; token: string };
  let eager: { daemon: Daemon; token: string };

  beforeAll(async () => {
    lazy = await start(path.join(root, 'lazy'), false);
    eager = await start(path.join(root, 'eager'), true);
  });
  afterAll(async () => {
    await lazy?.daemon.stop();
    await eager?.daemon.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('all compile: the app compiling every schema at ready() starts', async () => {
    await expect(eager.daemon.app.ready()).resolves.toBeDefined();
  });

  it('answer every request as the schemas compiled at start do: the same status and body, refusals naming the field', async () => {
    const answers = async (d: { daemon: Daemon; token: string }) => {
      const out: Array<{ request: string; status: number; body: unknown }> = [];
      // each request twice: the first compiles the route's validator, the second reuses it
      for (const round of [1, 2]) {
        for (const [method, url, body] of REQUESTS) {
          const res = await d.daemon.app.inject({
            method,
            url,
            headers: { authorization: `Bearer ${d.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
            ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
          });
          const json = res.json<Record<string, unknown>>();
          // a run's or silence's id and times differ between the two daemons; the shape must not
          out.push({ request: `${round} ${method} ${url.slice(0, 60)}`, status: res.statusCode, body: res.statusCode < 300 ? Object.keys(json).sort() : json });
        }
      }
      return out;
    };
    const got = await answers(lazy);
    expect(got).toEqual(await answers(eager));
    const refusals = got.filter((a) => a.status === 400);
    expect(refusals.length).toBeGreaterThanOrEqual(8);
    for (const r of refusals) expect(r.body).toMatchObject({ code: 'SUP_ERR_BAD_REQUEST', message: expect.stringMatching(/^invalid request: (path|query|body)/) });
    // query strings are coerced (limit=5 is accepted), bodies are not ("42" is, 42 is not a string)
    expect(got.find((a) => a.request === '1 GET /api/v1/runs?limit=5')?.status).toBe(200);
    expect(got.find((a) => a.request === '1 PUT /api/v1/variables/answer' && a.status === 200)).toBeDefined();
  });
});
