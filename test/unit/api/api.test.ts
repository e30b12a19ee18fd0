import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDaemon, type Daemon } from '../../../src/daemon';
import { silentLogger } from '../../../src/shared/logger';
import { createTokenStore } from '../../../src/store/tokens';

const CONFIG = `
server: { port: 0 }
store: { path: state.db }
pipelines:
  nightly:
    aliases: [nightly_dag]
    schedule: "0 3 * * *"
    tasks:
      - id: say_hello
        operator: command
        params: { command: ["${process.execPath}", "-e", "console.log('hello from a task')"] }
      - id: done
        operator: notify
        upstream: [say_hello]
        params: { message: "nightly finished" }
alerts:
  sinks: { log: { type: log } }
  route: { sinks: [log] }
`;

describe('/api/v1 (inject, real engine and store)', () => {
  let daemon: Daemon;
  let writer: string;
  let reader: string;
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-api-'));
    fs.writeFileSync(path.join(dir, 'supervisor.yaml'), CONFIG);
    daemon = await createDaemon({ configFile: path.join(dir, 'supervisor.yaml'), env: {}, logger: silentLogger, port: 0 });
    await daemon.start();
    const tokens = createTokenStore(daemon.db);
    writer = tokens.create('writer', false).token;
    reader = tokens.create('reader', true).token;
  });
  afterAll(() => daemon.stop());

  it('lists pipelines with their tasks, by id or alias', async () => {
    const list = await daemon.app.inject({ url: '/api/v1/pipelines', headers: auth(reader) });
    expect(list.statusCode).toBe(200);
    expect(list.json().pipelines).toEqual([
      expect.objectContaining({
        id: 'nightly',
        aliases: ['nightly_dag'],
        schedule: '0 3 * * *',
        tasks: [expect.objectContaining({ id: 'say_hello' }), expect.objectContaining({ id: 'done', upstream: ['say_hello'] })],
      }),
    ]);
    expect((await daemon.app.inject({ url: '/api/v1/pipelines/nightly_dag', headers: auth(reader) })).json().id).toBe('nightly');
    const missing = await daemon.app.inject({ url: '/api/v1/pipelines/nope', headers: auth(reader) });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toContain('known: nightly');
  });

  it('triggers a run once per logical date, runs it, and serves its tasks and logs', async () => {
    const first = await daemon.app.inject({
      method: 'POST',
      url: '/api/v1/pipelines/nightly/trigger',
      headers: auth(writer),
      payload: { logical_date: '2025-10-05', conf: { who: 'api-test' } },
    });
    expect(first.statusCode).toBe(201);
    const run = first.json();
    expect(run).toMatchObject({ pipeline: 'nightly', logicalDate: Date.parse('2025-10-05T00:00:00Z'), kind: 'manual', created: true });
    const again = await daemon.app.inject({ method: 'POST', url: '/api/v1/pipelines/nightly_dag/trigger', headers: auth(writer), payload: { logical_date: '2025-10-05' } });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ runId: run.runId, created: false });

    const finished = await daemon.engine.waitForRun(run.runId);
    expect(finished.state).toBe('success');
    const shown = await daemon.app.inject({ url: `/api/v1/runs/${run.runId}`, headers: auth(reader) });
    expect(shown.json().tasks.map((t: { taskId: string; state: string }) => [t.taskId, t.state])).toEqual([
      ['say_hello', 'success'],
      ['done', 'success'],
    ]);
    const logs = await daemon.app.inject({ url: `/api/v1/runs/${run.runId}/tasks/say_hello/logs`, headers: auth(reader) });
    expect(JSON.stringify(logs.json())).toContain('hello from a task');
    const runs = await daemon.app.inject({ url: '/api/v1/runs?pipeline=nightly_dag&state=success&limit=1', headers: auth(reader) });
    expect(runs.json()).toMatchObject({ runs: [expect.objectContaining({ id: run.runId })], limit: 1, offset: 0 });
  });

  it('refuses writes with a read-only token and answers bad requests with 400 naming the field', async () => {
    const ro = await daemon.app.inject({ method: 'POST', url: '/api/v1/pipelines/nightly/trigger', headers: auth(reader), payload: {} });
    expect(ro.statusCode).toBe(403);
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['POST', '/api/v1/pipelines/nightly/trigger', { logical_date: 'yesterday-ish' }, /logical_date/],
      ['POST', '/api/v1/pipelines/nightly/trigger', { surprise: 1 }, /surprise|additional/],
      ['POST', '/api/v1/pipelines/nightly/backfill', { start_date: '2025-10-01' }, /end_date/],
      ['POST', '/api/v1/silences', { matchers: {}, comment: 'x', duration: '1h' }, /matchers/],
      ['POST', '/api/v1/silences', { matchers: { check: '~(' }, comment: 'x', duration: '1h' }, /regular expression/],
      ['POST', '/api/v1/silences', { matchers: { check: 'kafka' }, comment: 'x', duration: 'soon' }, /duration/],
      ['PUT', '/api/v1/variables/bad%20key', { value: 'x' }, /key/],
      ['GET', '/api/v1/runs?state=exploded', undefined, /state/],
      ['GET', '/api/v1/runs?limit=100000', undefined, /limit/],
    ];
    for (const [method, url, payload, field] of cases) {
      const res = await daemon.app.inject({ method: method as 'GET', url, headers: auth(writer), ...(payload === undefined ? {} : { payload: payload as object }) });
      expect({ url, status: res.statusCode }).toEqual({ url, status: 400 });
      expect(res.json().message).toMatch(field);
    }
  });

  it('answers impossible and out-of-range dates with 400 naming the field (never 500, 409 or a rolled-over date)', async () => {
    const cases: Array<[string, unknown, string]> = [
      ['/api/v1/pipelines/nightly/backfill', { start_date: 9e15, end_date: 9e15 + 1 }, 'body.start_date'],
      ['/api/v1/pipelines/nightly/trigger', { logical_date: 8.64e15 }, 'body.logical_date'],
      ['/api/v1/pipelines/nightly/trigger', { logical_date: Date.UTC(9999, 11, 31) + 86_400_000 }, 'body.logical_date'],
      ['/api/v1/pipelines/nightly/trigger', { logical_date: '2025-02-30' }, 'body.logical_date'],
      ['/api/v1/pipelines/nightly/trigger', { logical_date: '0000-01-01' }, 'body.logical_date'],
      ['/api/v1/pipelines/nightly/trigger', { logical_date: '2025-10-05T06:00:00' }, 'body.logical_date'],
      // was "end before start": 2025-02-30 had become 2 March
      ['/api/v1/pipelines/nightly/backfill', { start_date: '2025-02-30', end_date: '2025-03-01' }, 'body.start_date'],
      ['/api/v1/pipelines/nightly/backfill', { start_date: '2025-03-01', end_date: '2025-02-29' }, 'body.end_date'],
      ['/api/v1/pipelines/nightly/backfill', { start_date: '2025-03-02', end_date: '2025-03-01' }, 'body.end_date: "2025-03-01" is before body.start_date "2025-03-02"'],
      ['/api/v1/pipelines/nightly/backfill', { start_date: '2025-10-01', end_date: '2025-10-02', max_active: 65 }, 'body.max_active'],
    ];
    for (const [url, payload, field] of cases) {
      const res = await daemon.app.inject({ method: 'POST', url, headers: auth(writer), payload: payload as object });
      expect({ payload, status: res.statusCode }).toEqual({ payload, status: 400 });
      expect(res.json().message).toContain(field);
      expect(res.body).not.toMatch(/see the log/);
    }
    for (const url of ['/api/v1/pipelines/nope/trigger', '/api/v1/pipelines/nope/backfill']) {
      const missing = await daemon.app.inject({
        method: 'POST',
        url,
        headers: auth(writer),
        payload: url.endsWith('backfill') ? { start_date: '2025-10-01', end_date: '2025-10-02' } : {},
      });
      expect({ url, status: missing.statusCode }).toEqual({ url, status: 404 });
      expect(missing.json().message).toMatch(/^path\.id: /);
    }
    const runs = await daemon.app.inject({ url: '/api/v1/runs?from=2025-02-30', headers: auth(reader) });
    expect(runs.statusCode).toBe(400);
    expect(runs.json().message).toContain('query.from');
    // a date-time with a zone and epoch ms are read exactly
    const plan = await daemon.app.inject({
      method: 'POST',
      url: '/api/v1/pipelines/nightly/backfill',
      headers: auth(writer),
      payload: { start_date: '2025-02-28T00:00:00+01:00', end_date: Date.UTC(2025, 2, 1, 12), dry_run: true },
    });
    expect(plan.statusCode).toBe(200);
    expect(plan.json().plan.map((r: { logicalDate: number }) => new Date(r.logicalDate).toISOString())).toEqual(['2025-02-28T03:00:00.000Z', '2025-03-01T03:00:00.000Z']);
  });

  it('never answers 5xx to fuzzed bodies', async () => {
    // 470 requests through inject: allow for a loaded machine
    const values: unknown[] = [null, 0, -1, 1e308, '', 'x'.repeat(5000), [], {}, [1, 'a'], { nested: { deep: [null] } }, true, '2025-13-45', '\u0000'];
    const routes = ['/api/v1/pipelines/nightly/trigger', '/api/v1/pipelines/nightly/backfill', '/api/v1/silences'];
    const fields = ['logical_date', 'conf', 'rerun', 'start_date', 'end_date', 'dry_run', 'reprocess', 'max_active', 'matchers', 'duration', 'ends_at', 'comment'];
    let n = 0;
    for (const url of routes)
      for (const field of fields)
        for (const value of values) {
          const res = await daemon.app.inject({
            method: 'POST',
            url,
            headers: { ...auth(writer), 'content-type': 'application/json' },
            payload: JSON.stringify({ [field]: value }),
          });
          expect({ url, field, value, status: res.statusCode < 500 }).toEqual({ url, field, value, status: true });
          n++;
        }
    const raw = await daemon.app.inject({ method: 'POST', url: '/api/v1/silences', headers: { ...auth(writer), 'content-type': 'application/json' }, payload: '{"matchers": ' });
    expect(raw.statusCode).toBe(400);
    expect(n).toBe(routes.length * fields.length * values.length);
  }, 60_000);

  it('creates, lists and deletes silences and variables', async () => {
    const created = await daemon.app.inject({
      method: 'POST',
      url: '/api/v1/silences',
      headers: auth(writer),
      payload: { matchers: { check: '~.*_freshness' }, duration: '2h', comment: 'backfill in progress' },
    });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    expect(created.json()).toMatchObject({ createdBy: 'writer', comment: 'backfill in progress' });
    expect((await daemon.app.inject({ url: '/api/v1/silences', headers: auth(reader) })).json().silences).toEqual([expect.objectContaining({ id })]);
    expect((await daemon.app.inject({ method: 'DELETE', url: `/api/v1/silences/${id}`, headers: auth(writer) })).statusCode).toBe(204);
    expect((await daemon.app.inject({ method: 'DELETE', url: `/api/v1/silences/${id}`, headers: auth(writer) })).statusCode).toBe(404);

    expect((await daemon.app.inject({ method: 'PUT', url: '/api/v1/variables/kafka_servers', headers: auth(writer), payload: { value: 'kafka:9092' } })).statusCode).toBe(200);
    expect((await daemon.app.inject({ url: '/api/v1/variables', headers: auth(reader) })).json().variables.kafka_servers).toEqual({ value: 'kafka:9092', source: 'store' });
    expect((await daemon.app.inject({ method: 'DELETE', url: '/api/v1/variables/kafka_servers', headers: auth(writer) })).statusCode).toBe(204);
  });

  it('publishes an OpenAPI document covering the routes', async () => {
    const doc = (await daemon.app.inject({ url: '/api/v1/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/v1/health', '/api/v1/pipelines', '/api/v1/pipelines/{id}/trigger', '/api/v1/runs', '/api/v1/silences', '/api/v1/variables/{key}']),
    );
  });
});
