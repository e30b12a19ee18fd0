/**
 * Operations over the API, the same as the CLI's (src/engine/operations.ts does both): pause
 * and unpause a pipeline, cancel a run, clear its tasks, mark a run or a task, read the audit
 * trail. Each is recorded with the token's name (or the UI session's) as the actor.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Engine } from '../../engine/engine';
import type { Actor } from '../../engine/operations';
import { LIMITS } from '../../shared/limits';
import { openObject, responses } from '../responses';
import { sendError } from './api';

export interface OperationRouteDeps {
  engine: Pick<Engine, 'operations' | 'catalog'>;
}

const name = { type: 'string', minLength: 1, maxLength: LIMITS.nameLength } as const;
const reason = { type: 'string', maxLength: LIMITS.commentLength, description: 'why (recorded in the audit trail)' } as const;
const params = (...keys: string[]) => ({ type: 'object', required: keys, properties: Object.fromEntries(keys.map((k) => [k, name])) }) as const;
const reasonBody = { type: 'object', additionalProperties: false, properties: { reason } } as const;
const markBody = {
  type: 'object',
  additionalProperties: false,
  required: ['state'],
  properties: { state: { type: 'string', description: 'success or failed' }, reason },
} as const;
const runAnswer = openObject({ runId: { type: 'string' }, state: { type: 'string' }, tasks: { type: 'array' } }, ['runId', 'state']);
const pausedAnswer = openObject({ pipeline: { type: 'string' }, paused: { type: 'boolean' }, changed: { type: 'boolean' } }, ['pipeline', 'paused']);

function actorOf(request: FastifyRequest, body: { reason?: string } | undefined): Actor {
  return { actor: request.principal?.name ?? 'unknown', ...(body?.reason ? { reason: body.reason } : {}) };
}

export function operationRoutes(deps: OperationRouteDeps): FastifyPluginAsync {
  const ops = deps.engine.operations;
  return async (app) => {
    for (const paused of [true, false]) {
      app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
        `/pipelines/:id/${paused ? 'pause' : 'unpause'}`,
        {
          schema: {
            summary: paused
              ? 'Pause a pipeline: no cron or event trigger fires and its queued runs wait (a manual trigger is queued until unpause); survives restarts'
              : 'Unpause a pipeline: triggers fire again and its waiting runs start',
            tags: ['operations'],
            params: params('id'),
            body: reasonBody,
            response: responses({ 200: pausedAnswer }, { write: true, extra: [404] }),
          },
        },
        async (request, reply) => {
          try {
            const who = actorOf(request, request.body);
            const { state, changed } = paused ? ops.pause(request.params.id, who) : ops.unpause(request.params.id, who);
            return { pipeline: state.pipeline, paused: state.paused, changed, by: state.changedBy, at: state.changedAt, reason: state.reason };
          } catch (err) {
            return sendError(reply, err, 'body', 'path.id');
          }
        },
      );
    }

    app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
      '/runs/:id/cancel',
      {
        schema: {
          summary: 'Cancel a queued or running run: running tasks get SIGTERM, then SIGKILL after the grace; unfinished tasks end cancelled',
          tags: ['operations'],
          params: params('id'),
          body: reasonBody,
          response: responses(
            { 200: { description: 'cancelled (a running run: requested; it ends within a second or so)', ...openObject({ run: runAnswer }, ['run']) } },
            { write: true, extra: [404, 409] },
          ),
        },
      },
      async (request, reply) => {
        try {
          return { run: await ops.cancel(request.params.id, actorOf(request, request.body)) };
        } catch (err) {
          return sendError(reply, err, 'body', 'path.id');
        }
      },
    );

    app.post<{
      Params: { id: string };
      Body: { tasks?: string[]; downstream?: boolean; upstream?: boolean; only_failed?: boolean; confirm_reingest?: boolean; dry_run?: boolean; reason?: string } | undefined;
    }>(
      '/runs/:id/clear',
      {
        schema: {
          summary: "Clear tasks of a finished run (Airflow's clear): they go back to queued and the run resumes; earlier tries stay in history",
          tags: ['operations'],
          params: params('id'),
          body: {
            type: 'object',
            additionalProperties: false,
            properties: {
              tasks: { type: 'array', maxItems: 1000, items: name, description: 'task or group ids; none = every task' },
              downstream: { type: 'boolean' },
              upstream: { type: 'boolean' },
              only_failed: { type: 'boolean' },
              confirm_reingest: { type: 'boolean', description: 'required to clear a succeeded ingestion task (it ingests again)' },
              dry_run: { type: 'boolean' },
              reason,
            },
          },
          response: responses(
            { 200: openObject({ run: runAnswer, cleared: { type: 'array', items: { type: 'string' } }, dryRun: { type: 'boolean' } }, ['run', 'cleared']) },
            { write: true, extra: [404, 409] },
          ),
        },
      },
      async (request, reply) => {
        const b = request.body ?? {};
        try {
          return ops.clear(
            request.params.id,
            {
              ...(b.tasks ? { tasks: b.tasks } : {}),
              ...(b.downstream ? { downstream: true } : {}),
              ...(b.upstream ? { upstream: true } : {}),
              ...(b.only_failed ? { onlyFailed: true } : {}),
              ...(b.confirm_reingest ? { confirmReingest: true } : {}),
              ...(b.dry_run ? { dryRun: true } : {}),
            },
            actorOf(request, b),
          );
        } catch (err) {
          return sendError(reply, err, 'body', 'path.id');
        }
      },
    );

    app.post<{ Params: { id: string }; Body: { state: string; reason?: string } }>(
      '/runs/:id/mark',
      {
        schema: {
          summary: 'Mark a run success or failed (a running run is stopped first)',
          tags: ['operations'],
          params: params('id'),
          body: markBody,
          response: responses({ 200: openObject({ run: runAnswer }, ['run']) }, { write: true, extra: [404, 409] }),
        },
      },
      async (request, reply) => {
        try {
          return { run: await ops.markRun(request.params.id, request.body.state, actorOf(request, request.body)) };
        } catch (err) {
          return sendError(reply, err, 'body.state', 'path.id');
        }
      },
    );

    app.post<{ Params: { id: string; task: string }; Body: { state: string; reason?: string } }>(
      '/runs/:id/tasks/:task/mark',
      {
        schema: {
          summary: 'Mark a task of a finished or queued run success or failed; downstream tasks are decided again by their trigger rules',
          tags: ['operations'],
          params: params('id', 'task'),
          body: markBody,
          response: responses({ 200: openObject({ run: runAnswer }, ['run']) }, { write: true, extra: [404, 409] }),
        },
      },
      async (request, reply) => {
        try {
          return { run: ops.markTask(request.params.id, request.params.task, request.body.state, actorOf(request, request.body)) };
        } catch (err) {
          return sendError(reply, err, 'body.state', 'path.task');
        }
      },
    );

    app.get<{ Querystring: { run?: string; pipeline?: string; limit?: number; before?: number } }>(
      '/audit',
      {
        schema: {
          summary: 'The audit trail, newest first: who paused, cancelled, cleared, marked or triggered what, when and why',
          tags: ['operations'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              run: name,
              pipeline: name,
              limit: { type: 'integer', minimum: 1, maximum: LIMITS.pageSize, default: 100 },
              before: { type: 'integer', minimum: 1, description: 'entries with an id below this one (the next page)' },
            },
          },
          response: responses({ 200: openObject({ entries: { type: 'array' } }, ['entries']) }, { extra: [404] }),
        },
      },
      async (request, reply) => {
        const q = request.query;
        try {
          const pipeline = q.pipeline === undefined ? undefined : deps.engine.catalog.get(q.pipeline).id;
          const entries = ops.audit({
            ...(q.run ? { runId: q.run } : {}),
            ...(pipeline ? { pipeline } : {}),
            ...(q.before ? { before: q.before } : {}),
            limit: q.limit ?? 100,
          });
          return { entries: entries.map((e) => ({ ...e, at: new Date(e.at).toISOString() })) };
        } catch (err) {
          return sendError(reply, err, 'query', 'query.pipeline');
        }
      },
    );
  };
}
