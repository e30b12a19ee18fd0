/**
 * GET /api/v1/pipelines/:id/next and /graph on the real daemon (app.inject): the API side of
 * `dags next-execution` and `dags show`. Bad input answers 400 naming the parameter, an unknown
 * pipeline 404; the routes are read-only and need a token like the rest of /api/v1.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDaemon, type Daemon } from '../../../src/daemon';
import { silentLogger } from '../../../src/shared/logger';
import { createPipelineStateStore } from '../../../src/store/pipeline-state';
import { createTokenStore } from '../../../src/store/tokens';

const CONFIG = `
server: { port: 0 }
store: { path: state.db }
pipelines:
  nightly:
    aliases: [nightly_dag]
    schedule: "0 9 * * *"
    timezone: America/New_York
    tasks:
      - id: a
        group: g
        operator: command
        params: { command: ["${process.execPath}", "-e", ""] }
      - id: b
        group: g
        operator: command
        params: { command: ["${process.execPath}", "-e", ""] }
      - id: c
        operator: command
        upstream: [g]
        trigger_rule: one_failed
        params: { command: ["${process.execPath}", "-e", ""] }
  on_demand:
    tasks:
      - id: only
        operator: command
        params: { command: ["${process.execPath}", "-e", ""] }
alerts:
  sinks: { log: { type: log } }
  route: { sinks: [log] }
`;

describe('/api/v1/pipelines/:id/next and /graph', () => {
  let daemon: Daemon;
  let dir: string;
  let headers: { authorization: string };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-inspect-api-'));
    fs.writeFileSync(path.join(dir, 'supervisor.yaml'), CONFIG);
    daemon = await createDaemon({ configFile: path.join(dir, 'supervisor.yaml'), env: {}, logger: silentLogger, port: 0 });
    await daemon.start();
    headers = { authorization: `Bearer ${createTokenStore(daemon.db).create('reader', true).token}` };
  });
  afterAll(async () => {
    await daemon.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const get = (url: string, h: Record<string, string> = headers) => daemon.app.inject({ url, headers: h });

  it('answers the next ticks in UTC and New York time across the spring DST change', async () => {
    const r = await get(`/api/v1/pipelines/nightly_dag/next?n=4&after=${encodeURIComponent('2026-03-06T12:00:00Z')}`);
    expect(r.statusCode).toBe(200);
    const body = r.json<{ pipeline: string; paused: boolean; timezone: string; ticks: Array<{ logical_date: string; local: string; offset: string; epoch_ms: number }> }>();
    expect(body).toMatchObject({ pipeline: 'nightly', timezone: 'America/New_York', paused: false, schedule: '0 9 * * *' });
    expect(body.ticks.map((t) => t.local)).toEqual(['2026-03-06T09:00:00-05:00', '2026-03-07T09:00:00-05:00', '2026-03-08T09:00:00-04:00', '2026-03-09T09:00:00-04:00']);
    for (const t of body.ticks) expect(Date.parse(t.local)).toBe(Date.parse(t.logical_date));
    expect(body.ticks[0]!.epoch_ms).toBe(Date.parse('2026-03-06T14:00:00Z'));
  });

  it('defaults to 5 ticks after now, reports a pause from the store, and none for a pipeline without schedule', async () => {
    const before = Date.now();
    const r = await get('/api/v1/pipelines/nightly/next');
    const ticks = r.json<{ ticks: Array<{ epoch_ms: number }> }>().ticks;
    expect(ticks).toHaveLength(5);
    expect(ticks[0]!.epoch_ms).toBeGreaterThan(before);
    createPipelineStateStore(daemon.db).setPaused('nightly', true, 'test', 'maintenance', Date.now());
    try {
      expect((await get('/api/v1/pipelines/nightly/next?n=1')).json()).toMatchObject({ paused: true });
    } finally {
      createPipelineStateStore(daemon.db).setPaused('nightly', false, 'test', null, Date.now());
    }
    const manual = await get('/api/v1/pipelines/on_demand/next');
    expect(manual.statusCode).toBe(200);
    expect(manual.json()).toMatchObject({ pipeline: 'on_demand', schedule: null, ticks: [] });
  });

  it('answers the graph as JSON, Mermaid and DOT', async () => {
    const json = await get('/api/v1/pipelines/nightly/graph');
    expect(json.statusCode).toBe(200);
    expect(json.json()).toMatchObject({
      pipeline: 'nightly',
      format: 'json',
      groups: [{ id: 'g', tasks: ['a', 'b'] }],
      edges: [
        { from: 'a', to: 'c' },
        { from: 'b', to: 'c' },
      ],
    });
    expect(json.json<{ nodes: Array<{ id: string; trigger_rule: string }> }>().nodes.map((n) => [n.id, n.trigger_rule])).toEqual([
      ['a', 'all_success'],
      ['b', 'all_success'],
      ['c', 'one_failed'],
    ]);
    const mermaid = await get('/api/v1/pipelines/nightly_dag/graph?format=mermaid');
    expect(mermaid.json<{ source: string }>().source).toMatch(/^flowchart LR$/m);
    expect(mermaid.json<{ source: string }>().source).toContain('t_a -.-> t_c');
    const dot = await get('/api/v1/pipelines/nightly/graph?format=dot');
    expect(dot.json<{ source: string }>().source).toContain('"b" -> "c" [style=dashed];');
  });

  it('bad input is a 400 naming the parameter; an unknown pipeline a 404; no token a 401', async () => {
    for (const [url, field] of [
      ['/api/v1/pipelines/nightly/next?n=0', 'query.n'],
      ['/api/v1/pipelines/nightly/next?n=1001', 'query.n'],
      ['/api/v1/pipelines/nightly/next?n=abc', 'query.n'],
      ['/api/v1/pipelines/nightly/next?after=2026-02-30', 'query.after'],
      ['/api/v1/pipelines/nightly/next?bogus=1', 'query.bogus'],
      ['/api/v1/pipelines/nightly/graph?format=png', 'query.format'],
    ] as const) {
      const r = await get(url);
      expect({ url, status: r.statusCode, code: r.json<{ code: string }>().code }).toEqual({ url, status: 400, code: 'SUP_ERR_BAD_REQUEST' });
      expect(r.json<{ message: string }>().message).toContain(field);
    }
    for (const url of ['/api/v1/pipelines/nope/next', '/api/v1/pipelines/nope/graph']) {
      const r = await get(url);
      expect(r.statusCode).toBe(404);
      expect(r.json()).toEqual({ code: 'SUP_ERR_NOT_FOUND', message: 'path.id: no pipeline "nope" (known: nightly, on_demand)' });
    }
    expect((await get('/api/v1/pipelines/nightly/graph', {})).statusCode).toBe(401);
  });
});
