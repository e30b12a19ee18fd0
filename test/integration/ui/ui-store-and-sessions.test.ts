/**
 * The web UI's server side without a browser: the keyset grid over a real SQLite store, the
 * byte-addressed log pages (tail, earlier pages, a truncated log's offsets), sessions and the
 * cookie/CSRF rules of the API auth, and the live hub's resume and bounded client buffers,
 * through the real fastify app (inject and a listening server).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { Subject } from 'rxjs';
import { openDatabase, type SqliteDatabase } from '../../../src/store/database';
import { createRunGridStore, formatGridCursor } from '../../../src/store/run-grid';
import { createTaskLogReader } from '../../../src/store/task-log-pages';
import { createSessionStore } from '../../../src/server/ui/sessions';
import { createAuthHook, type Principal } from '../../../src/server/auth';
import { createTokenStore } from '../../../src/store/tokens';
import { createLiveHub } from '../../../src/server/ui/live-hub';
import { emptySignalState, reduceSignal, type SignalState } from '../../../streams/signal-state';
import { createLogBuffer } from '../../../src/engine/log-buffer';
import { silentLogger } from '../../../src/shared/logger';
import type { RunEvent, Signal } from '../../../src/protocol';
import type { AlertView } from '../../../alerts';

let dir: string;
let db: SqliteDatabase;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-ui-store-'));
  db = openDatabase({ file: path.join(dir, 'state.db') });
  const run = db.prepare(`INSERT INTO runs (id, pipeline, logical_date, trigger_kind, state, params, fired_at, queued_at, rerun) VALUES (?, 'p', ?, ?, ?, '{}', ?, ?, 0)`);
  const task = db.prepare(`INSERT INTO task_instances (run_id, task_id, state, try_number, max_tries) VALUES (?, ?, ?, 1, 1)`);
  db.transaction(() => {
    for (let i = 0; i < 250; i++) {
      // pairs of runs share a queued time: the cursor's id breaks the tie
      const queued = 1_000_000 + Math.floor(i / 2) * 1000;
      const id = `p.run-${String(i).padStart(3, '0')}`;
      run.run(id, 1_000_000 + i, i % 10 === 0 ? 'manual' : 'cron', i % 7 === 0 ? 'failed' : 'success', queued, queued);
      task.run(id, 'a', i % 7 === 0 ? 'failed' : 'success');
      task.run(id, 'b', 'success');
    }
  })();
});
afterAll(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('run grid store', () => {
  it('pages every run exactly once, newest first, by keyset, with each run’s task states', () => {
    const grid = createRunGridStore(db);
    const seen: string[] = [];
    let before: { queuedAt: number; id: string } | undefined;
    let pages = 0;
    for (;;) {
      const page = grid.page({ pipeline: 'p', limit: 40, ...(before ? { before } : {}) });
      pages += 1;
      seen.push(...page.runs.map((r) => r.id));
      for (const r of page.runs) expect(Object.keys(r.tasks).sort()).toEqual(['a', 'b']);
      if (!page.next) break;
      before = page.next;
    }
    expect(pages).toBe(7);
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
    expect(seen[0]).toBe('p.run-249');
    expect(seen[249]).toBe('p.run-000');
  });

  it('filters by state and trigger kind', () => {
    const grid = createRunGridStore(db);
    const failed = grid.page({ pipeline: 'p', limit: 200, states: ['failed'] });
    expect(failed.runs.length).toBe(36);
    expect(failed.runs.every((r) => r.state === 'failed' && r.tasks.a?.state === 'failed')).toBe(true);
    const manual = grid.page({ pipeline: 'p', limit: 200, kinds: ['manual'] });
    expect(manual.runs.map((r) => r.kind)).toEqual(Array(25).fill('manual'));
    expect(formatGridCursor({ queuedAt: 5, id: 'x~y' })).toBe('5~x~y');
  });
});

describe('task log pages', () => {
  const save = (run: string, content: string, truncated: number, tryNumber = 1) =>
    db.prepare('INSERT OR REPLACE INTO task_logs (run_id, task_id, try_number, content, truncated_bytes) VALUES (?, ?, ?, ?, ?)').run(run, 't', tryNumber, content, truncated);

  it('reads the tail first, then earlier pages at line boundaries, byte-addressed (multi-byte text too)', () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${i} — ünïcödé\n`);
    save('log-1', lines.join(''), 0);
    const logs = createTaskLogReader(db);
    const m = logs.meta('log-1', 't', 1)!;
    expect(m.size).toBe(Buffer.byteLength(lines.join('')));
    const tail = logs.pageBefore('log-1', 't', m, undefined, 1000);
    expect(tail.end).toBe(m.size);
    expect(tail.text.endsWith('line 999 — ünïcödé\n')).toBe(true);
    expect(tail.text.startsWith('line ')).toBe(true);
    let text = tail.text;
    let start = tail.start;
    while (start > m.start) {
      const page = logs.pageBefore('log-1', 't', m, start, 1000);
      expect(page.end).toBe(start);
      text = page.text + text;
      start = page.start;
    }
    expect(text).toBe(lines.join(''));
    const after = logs.pageAfter('log-1', 't', m, 0, 100);
    // whole lines only, within the limit
    expect(after.text).toBe(lines.slice(0, after.text.split('\n').length - 1).join(''));
    expect(Buffer.byteLength(after.text)).toBeLessThanOrEqual(100);
    expect(after.end).toBe(Buffer.byteLength(after.text));
  });

  it('keeps absolute offsets when the runner dropped the head of a log over its cap', () => {
    const buf = createLogBuffer(200);
    for (let i = 0; i < 50; i++) buf.append(`output line ${i}`);
    save('log-2', buf.content(), buf.truncatedBytes());
    const logs = createTaskLogReader(db);
    const m = logs.meta('log-2', 't', 1)!;
    expect(m.start).toBe(buf.truncatedBytes());
    expect(m.size).toBe(buf.truncatedBytes() + buf.bytes());
    const all = logs.pageBefore('log-2', 't', m, undefined, 10_000);
    expect(all.start).toBe(m.start);
    expect(all.text).not.toContain('truncated');
    expect(all.text.endsWith('output line 49\n')).toBe(true);
    // a follower at an offset already dropped continues from the first stored byte
    expect(logs.pageAfter('log-2', 't', m, 0, 10_000).start).toBe(m.start);
  });
});

describe('sessions and the API auth', () => {
  const request = (headers: Record<string, string>, method = 'GET') => ({ headers, method, ip: '127.0.0.1', url: '/api/v1/x', is404: false, routeOptions: { url: '/api/v1/x' } });
  const reply = () => {
    const r = {
      status: 0,
      body: undefined as unknown,
      code(s: number) {
        r.status = s;
        return r;
      },
      header() {
        return r;
      },
      async send(b: unknown) {
        r.body = b;
        return r;
      },
    };
    return r;
  };

  it('a session cookie authenticates as its token; writes need its CSRF token; expired or signed-out sessions are 401', async () => {
    let now = 1_000;
    const sessions = createSessionStore({ ttlMs: 60_000, now: () => now });
    const auth = createAuthHook({ tokens: { verify: () => null }, failuresPerMinute: 100, sessions });
    const s = sessions.create({ name: 'ops', readOnly: false });
    const run = async (headers: Record<string, string>, method = 'GET') => {
      const req = request(headers, method) as never as Parameters<typeof auth>[0] & { principal?: unknown };
      const rep = reply();
      await auth(req, rep as never);
      return { status: rep.status, principal: req.principal, body: rep.body };
    };
    expect(await run({ cookie: `other=1; sup_session=${s.id}` })).toMatchObject({ status: 0, principal: { name: 'ops', readOnly: false } });
    expect((await run({ cookie: `sup_session=${s.id}` }, 'POST')).status).toBe(403);
    expect((await run({ cookie: `sup_session=${s.id}`, 'x-csrf-token': 'wrong' }, 'POST')).status).toBe(403);
    expect(await run({ cookie: `sup_session=${s.id}`, 'x-csrf-token': s.csrf }, 'POST')).toMatchObject({ status: 0, principal: { name: 'ops' } });
    expect((await run({ cookie: 'sup_session=forged' })).status).toBe(401);
    const ro = sessions.create({ name: 'viewer', readOnly: true });
    expect((await run({ cookie: `sup_session=${ro.id}`, 'x-csrf-token': ro.csrf }, 'POST')).status).toBe(403);
    now += 60_001;
    expect((await run({ cookie: `sup_session=${s.id}` })).status).toBe(401);
    const t = sessions.create({ name: 'ops', readOnly: false });
    sessions.delete(t.id);
    expect((await run({ cookie: `sup_session=${t.id}` })).status).toBe(401);
  });
});

describe('sessions end with their token', () => {
  it('revoking the token a session was made from ends the session at its next request (the real token store)', async () => {
    const db = openDatabase({ file: ':memory:' });
    try {
      const tokens = createTokenStore(db);
      const { token } = tokens.create('ops-ui', false);
      const sessions = createSessionStore({ ttlMs: 60_000 });
      const auth = createAuthHook({ tokens, failuresPerMinute: 100, sessions });
      const signIn = { headers: { authorization: `Bearer ${token}` }, method: 'GET', ip: '127.0.0.1', url: '/api/v1/x', is404: false, routeOptions: { url: '/api/v1/x' } };
      const answer = { code: () => answer, header: () => answer, send: async () => answer };
      await auth(signIn as never, answer as never);
      const session = sessions.create((signIn as unknown as { principal: Principal }).principal);
      const viaCookie = () => {
        const req = { headers: { cookie: `sup_session=${session.id}` }, method: 'GET', ip: '127.0.0.1', url: '/api/v1/x', is404: false, routeOptions: { url: '/api/v1/x' } } as {
          principal?: Principal;
        };
        let status = 0;
        let body: unknown;
        const rep = {
          code: (c: number) => ((status = c), rep),
          header: () => rep,
          send: async (b: unknown) => ((body = b), rep),
        };
        return auth(req as never, rep as never).then(() => ({ status, body, principal: req.principal }));
      };
      expect(await viaCookie()).toMatchObject({ status: 0, principal: { name: 'ops-ui' } });
      expect(tokens.revoke('ops-ui')).toBe(true);
      const after = await viaCookie();
      expect(after.status).toBe(401);
      expect(JSON.stringify(after.body)).toContain('revoked');
    } finally {
      db.close();
    }
  });
});

describe('live hub', () => {
  const signal = (target: string, status: Signal['status'], at: number): Signal => ({
    check: 'c',
    kind: 'delta_freshness',
    target,
    labels: {},
    status,
    observedAt: at,
    durationMs: 1,
    summary: `${target} ${status}`,
  });
  const client = () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    // a stream read as it is written: nothing ever queues (writableLength stays 0)
    const res = Object.assign(out, { writeHead: () => res }) as unknown as ServerResponse;
    return { res, text: () => text };
  };

  it('fans out from one subscription per stream, resumes from Last-Event-ID, and snapshots a gap older than its ring', () => {
    const state$ = new Subject<SignalState>();
    const runs$ = new Subject<RunEvent>();
    const alerts$ = new Subject<readonly AlertView[]>();
    let state = emptySignalState();
    const hub = createLiveHub({
      state$,
      runEvents$: runs$,
      alerts$,
      currentSignals: () => [...state.signals.values()],
      currentAlerts: () => [],
      logger: silentLogger,
      ringSize: 3,
    });
    hub.start();
    expect([state$.observed, runs$.observed, alerts$.observed]).toEqual([true, true, true]);
    const push = (s: Signal) => {
      state = reduceSignal(state, s);
      state$.next(state);
    };
    push(signal('t1', 'crit', 1)); // the baseline (replayed state): no event
    const a = client();
    hub.attach(a.res, null);
    expect(a.text()).toContain('event: snapshot');
    push(signal('t1', 'ok', 2));
    expect(a.text()).toMatch(/id: 1\nevent: signals\ndata: .*"status":"ok"/);
    runs$.next({ type: 'run', runId: 'r', pipeline: 'p', logicalDate: 1, trigger: 'manual', state: 'running', at: 3 });
    // a reconnect after event 1 gets event 2 only
    const b = client();
    hub.attach(b.res, 1);
    expect(b.text()).not.toContain('snapshot');
    expect(b.text()).toMatch(/id: 2\nevent: run/);
    expect(b.text()).not.toMatch(/id: 1\n/);
    for (let i = 0; i < 5; i++) runs$.next({ type: 'run', runId: `r${i}`, pipeline: 'p', logicalDate: 1, trigger: 'manual', state: 'queued', at: 4 + i });
    // event 2 has left the ring of 3: a snapshot instead
    const c = client();
    hub.attach(c.res, 2);
    expect(c.text()).toContain('event: snapshot');
    expect(hub.clients()).toBe(3);
    hub.stop();
    expect([state$.observed, runs$.observed, alerts$.observed]).toEqual([false, false, false]);
  });

  it('disconnects a client whose unsent output passes the bound', () => {
    const runs$ = new Subject<RunEvent>();
    const hub = createLiveHub({
      state$: new Subject(),
      runEvents$: runs$,
      alerts$: new Subject(),
      currentSignals: () => [],
      currentAlerts: () => [],
      logger: silentLogger,
      maxClientBufferBytes: 10_000,
    });
    hub.start();
    let queued = 0;
    let destroyed = false;
    const res = {
      writeHead: () => res,
      write: (t: string) => {
        queued += t.length;
        return false;
      },
      on: () => res,
      end: () => undefined,
      destroy: () => {
        destroyed = true;
      },
      get writableLength() {
        return queued;
      },
      destroyed: false,
      writableEnded: false,
    } as unknown as ServerResponse;
    hub.attach(res, null);
    for (let i = 0; i < 200 && !destroyed; i++) runs$.next({ type: 'run', runId: `r${i}`, pipeline: 'p', logicalDate: 1, trigger: 'manual', state: 'queued', at: i });
    expect(destroyed).toBe(true);
    expect(hub.clients()).toBe(0);
    hub.stop();
  });
});
