/**
 * JSON the web UI reads besides the public API (under /api/v1/ui, authenticated like the rest
 * of /api/v1; hidden from the OpenAPI document: they follow the UI, not a contract):
 *
 * - `GET /ui/pipelines/:id/grid`: a page of runs × task states by keyset (src/store/run-grid.ts);
 * - `GET /ui/pipelines/:id/schedule`: schedule, next ticks, triggers, gate, groups;
 * - `GET /ui/runs/:id`: one run's record with its params (conf);
 * - `GET /ui/runs/:id/tasks/:task/log`: a byte-addressed page of a task's log (tail first),
 *   or the whole stored log as a download;
 * - `GET /ui/deliveries`: the outbox's pending, retrying and failed deliveries;
 * - `GET /ui/lag-history`: the in-memory lag samples per consumer group.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Engine } from '../../engine/engine';
import type { SqliteDatabase } from '../../store/database';
import { createOutboxView } from '../../store/outbox-view';
import { createRunGridStore, formatGridCursor, parseGridCursor } from '../../store/run-grid';
import type { TaskLogReader } from '../../store/task-log-pages';
import { LIMITS } from '../../shared/limits';
import { compileSchedule, nextTick } from '../../../streams/cron';
import type { LagHistory } from '../ui/lag-history';

export interface UiDataDeps {
  engine: Engine;
  db: SqliteDatabase;
  logs: TaskLogReader;
  lagHistory: LagHistory;
  now: () => number;
}

const name = { type: 'string', minLength: 1, maxLength: LIMITS.nameLength } as const;
const LOG_PAGE_DEFAULT = 262_144;
const LOG_PAGE_MAX = 1_048_576;
const csv = (v: string | undefined): string[] => (v ? v.split(',').filter(Boolean) : []);
const notFound = (message: string) => ({ code: 'SUP_ERR_NOT_FOUND', message });

export function uiDataRoutes(deps: UiDataDeps): FastifyPluginAsync {
  const grid = createRunGridStore(deps.db);
  const outbox = createOutboxView(deps.db);
  const { engine, logs } = deps;
  return async (app) => {
    app.get<{ Params: { id: string }; Querystring: { before?: string; limit?: number; state?: string; kind?: string } }>(
      '/ui/pipelines/:id/grid',
      {
        schema: {
          hide: true,
          params: { type: 'object', required: ['id'], properties: { id: name } },
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              before: { type: 'string', maxLength: 500 },
              limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
              state: { type: 'string', maxLength: 200, pattern: '^[a-z_,]*$' },
              kind: { type: 'string', maxLength: 200, pattern: '^[a-z_,]*$' },
            },
          },
        },
      },
      async (request, reply) => {
        const spec = engine.catalog.find(request.params.id);
        if (!spec) return reply.code(404).send(notFound(`path.id: no pipeline "${request.params.id}"`));
        const q = request.query;
        const before = q.before ? parseGridCursor(q.before) : undefined;
        if (before === null) return reply.code(400).send({ code: 'SUP_ERR_BAD_REQUEST', message: 'query.before: not a cursor from a previous page (<queuedAt>~<run id>)' });
        const page = grid.page({
          pipeline: spec.id,
          limit: q.limit ?? 50,
          ...(before ? { before } : {}),
          states: csv(q.state),
          kinds: csv(q.kind),
        });
        return {
          pipeline: spec.id,
          tasks: spec.tasks.map((t) => ({ id: t.id, group: t.group, upstream: t.upstream })),
          runs: page.runs,
          next: page.next ? formatGridCursor(page.next) : null,
        };
      },
    );

    app.get<{ Params: { id: string }; Querystring: { ticks?: number } }>(
      '/ui/pipelines/:id/schedule',
      {
        schema: {
          hide: true,
          params: { type: 'object', required: ['id'], properties: { id: name } },
          querystring: { type: 'object', additionalProperties: false, properties: { ticks: { type: 'integer', minimum: 0, maximum: 50, default: 5 } } },
        },
      },
      async (request, reply) => {
        const spec = engine.catalog.find(request.params.id);
        if (!spec) return reply.code(404).send(notFound(`path.id: no pipeline "${request.params.id}"`));
        const next: string[] = [];
        if (spec.schedule) {
          const cron = compileSchedule(spec.schedule, spec.timezone);
          let at = deps.now();
          for (let i = 0; i < (request.query.ticks ?? 5); i++) {
            const t = nextTick(cron, at);
            if (t === null) break;
            next.push(new Date(t).toISOString());
            at = t;
          }
        }
        return {
          id: spec.id,
          schedule: spec.schedule,
          timezone: spec.timezone,
          catchup: spec.catchup,
          overlap: spec.overlap,
          paused: spec.paused,
          next_ticks: next,
          triggers: spec.triggers,
          gate: spec.gate,
          groups: spec.groups,
        };
      },
    );

    app.get<{ Params: { id: string; task: string }; Querystring: { try?: number; before?: number; limit?: number; download?: boolean } }>(
      '/ui/runs/:id/tasks/:task/log',
      {
        schema: {
          hide: true,
          params: { type: 'object', required: ['id', 'task'], properties: { id: name, task: name } },
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              try: { type: 'integer', minimum: 1, maximum: 10_000 },
              before: { type: 'integer', minimum: 0 },
              limit: { type: 'integer', minimum: 1, maximum: LOG_PAGE_MAX, default: LOG_PAGE_DEFAULT },
              download: { type: 'boolean' },
            },
          },
        },
      },
      async (request, reply) => {
        const { id, task } = request.params;
        const instance = engine.store.getTask(id, task);
        if (!instance) return reply.code(404).send(notFound(`path.task: no task "${task}" in run "${id}"`));
        const tries = logs.tries(id, task);
        const tryNumber = request.query.try ?? tries[tries.length - 1] ?? instance.tryNumber;
        const running = !logs.attemptEnded(id, task, tryNumber);
        const m = logs.meta(id, task, tryNumber);
        if (request.query.download) {
          const text = logs.full(id, task, tryNumber);
          if (text === null) return reply.code(404).send(notFound(`query.try: no log stored for try ${tryNumber} of "${task}" in run "${id}"`));
          const file = `${id}.${task}.${tryNumber}.log`.replace(/[^A-Za-z0-9._-]+/g, '_');
          return reply.header('content-type', 'text/plain; charset=utf-8').header('content-disposition', `attachment; filename="${file}"`).send(text);
        }
        if (!m) return { try: tryNumber, tries, running, start: 0, end: 0, size: 0, truncated_bytes: 0, text: '' };
        const page = logs.pageBefore(id, task, m, request.query.before, request.query.limit ?? LOG_PAGE_DEFAULT);
        return { try: tryNumber, tries, running, start: page.start, end: page.end, size: m.size, first: m.start, truncated_bytes: m.truncatedBytes, text: page.text };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/ui/runs/:id',
      { schema: { hide: true, params: { type: 'object', required: ['id'], properties: { id: name } } } },
      async (request, reply) => {
        const run = engine.store.getRun(request.params.id);
        if (!run) return reply.code(404).send(notFound(`path.id: no run "${request.params.id}"`));
        // the run record with its params (conf); no owner pid
        const { ownerPid: _pid, ...shown } = run;
        return shown;
      },
    );

    app.get('/ui/deliveries', { schema: { hide: true } }, async () => ({ deliveries: outbox.list() }));

    app.get('/ui/lag-history', { schema: { hide: true } }, async () => ({ history: deps.lagHistory.snapshot() }));
  };
}
