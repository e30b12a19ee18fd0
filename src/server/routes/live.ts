/**
 * Server-Sent Events for the web UI (under /api/v1, so behind the same token/session check):
 *
 * - `GET /live`: signal changes, run events and alert state, from the live hub's one
 *   subscription per stream (src/server/ui/live-hub.ts); `Last-Event-ID` resumes;
 * - `GET /ui/runs/:id/tasks/:task/log/follow?try=&from=`: one task attempt's log as it grows
 *   (src/server/ui/log-follow.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Engine } from '../../engine/engine';
import { LIMITS } from '../../shared/limits';
import type { LiveHub } from '../ui/live-hub';
import type { LogFollow } from '../ui/log-follow';
import type { TaskLogReader } from '../../store/task-log-pages';

export interface LiveDeps {
  hub: LiveHub;
  follow: LogFollow;
  logs: TaskLogReader;
  engine: Engine;
}

const name = { type: 'string', minLength: 1, maxLength: LIMITS.nameLength } as const;

export function liveRoutes(deps: LiveDeps): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { last_event_id?: number } }>(
      '/live',
      { schema: { hide: true, querystring: { type: 'object', additionalProperties: false, properties: { last_event_id: { type: 'integer', minimum: 0 } } } } },
      async (request, reply) => {
        const header = request.headers['last-event-id'];
        const fromHeader = typeof header === 'string' && /^\d{1,15}$/.test(header) ? Number(header) : null;
        const last = fromHeader ?? request.query.last_event_id ?? null;
        reply.hijack();
        if (!deps.hub.attach(reply.raw, last)) {
          reply.raw.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' });
          reply.raw.end(JSON.stringify({ code: 'SUP_ERR_UNAVAILABLE', message: 'live: too many live clients, or the supervisor is stopping; retry later' }));
        }
      },
    );

    app.get<{ Params: { id: string; task: string }; Querystring: { try?: number; from?: number } }>(
      '/ui/runs/:id/tasks/:task/log/follow',
      {
        schema: {
          hide: true,
          params: { type: 'object', required: ['id', 'task'], properties: { id: name, task: name } },
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { try: { type: 'integer', minimum: 1, maximum: 10_000 }, from: { type: 'integer', minimum: 0 } },
          },
        },
      },
      async (request, reply) => {
        const { id, task } = request.params;
        const instance = deps.engine.store.getTask(id, task);
        if (!instance) return reply.code(404).send({ code: 'SUP_ERR_NOT_FOUND', message: `path.task: no task "${task}" in run "${id}"` });
        const tries = deps.logs.tries(id, task);
        const tryNumber = request.query.try ?? tries[tries.length - 1] ?? Math.max(1, instance.tryNumber);
        reply.hijack();
        deps.follow.follow(reply.raw, { runId: id, taskId: task, tryNumber, ...(request.query.from !== undefined ? { from: request.query.from } : {}) });
        return reply;
      },
    );
  };
}
