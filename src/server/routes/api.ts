import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { AlertEngine } from '../../../alerts';
import type { LoadedConfig } from '../../config/load';
import type { Engine } from '../../engine/engine';
import { isSupervisorError, type Clock, type SilenceStore } from '../../protocol';
import type { SqliteDatabase } from '../../store/database';
import { createVariableStore, VARIABLE_KEY } from '../../store/variables';
import { API_SILENCE_FIELDS, buildSilence, SILENCE_LIMITS } from '../../store/silences';
import { redactConfig } from '../../config/redact';

export interface ApiDeps {
  engine: Engine;
  db: SqliteDatabase;
  alerts: AlertEngine;
  silenceStore: SilenceStore;
  clock: Clock;
  loaded: LoadedConfig;
}

const RUN_STATES = ['queued', 'running', 'success', 'failed', 'skipped', 'timed_out'];
const error = { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } as const;
const idParam = (name: string) => ({ type: 'object', required: [name], properties: { [name]: { type: 'string', minLength: 1, maxLength: 300 } } }) as const;
const isoOrEpoch = { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, { type: 'integer', minimum: 0 }] } as const;

/** "2025-10-05", an ISO timestamp or epoch ms → epoch ms (UTC for bare dates, as Airflow). */
export function toEpoch(value: string | number): number {
  if (typeof value === 'number') return value;
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(ms)) throw Object.assign(new Error(`"${value}" is not a date (use 2025-10-05 or an ISO timestamp)`), { statusCode: 400, code: 'SUP_ERR_BAD_REQUEST' });
  return ms;
}

function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  if (isSupervisorError(err)) {
    const status = err.code === 'SUP_ERR_NOT_FOUND' ? 404 : err.code === 'SUP_ERR_CONFLICT' ? 409 : err.code === 'SUP_ERR_USAGE' || err.code.startsWith('SUP_ERR_CONFIG') ? 400 : 500;
    return reply.code(status).send({ code: err.code, message: err.where ? `${err.message} (at ${err.where})` : err.message });
  }
  throw err;
}

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** The authenticated JSON API under /api/v1 (health is its own module). */
export function apiRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { engine, alerts, silenceStore, clock } = deps;
  const variables = createVariableStore(deps.db);

  return async (app) => {
    // ---------------------------------------------------------------- pipelines
    app.get('/pipelines', { schema: { summary: 'Pipelines (the DAGs) with their schedules, tasks and last run', tags: ['pipelines'] } }, async () => ({
      pipelines: engine.catalog.list().map((p) => {
        const last = engine.store.listRuns({ pipeline: p.id, limit: 1 })[0];
        const success = engine.store.lastSuccess(p.id);
        return {
          id: p.id,
          aliases: p.aliases,
          description: p.description,
          schedule: p.schedule,
          timezone: p.timezone,
          paused: p.paused,
          overlap: p.overlap,
          tasks: p.tasks.map((t) => ({ id: t.id, operator: t.operator, group: t.group, upstream: t.upstream, trigger_rule: t.triggerRule })),
          last_run: last ? { id: last.id, state: last.state, logical_date: iso(last.logicalDate) } : null,
          last_success_at: iso(success?.endedAt),
        };
      }),
    }));

    app.get<{ Params: { id: string } }>('/pipelines/:id', { schema: { params: idParam('id'), tags: ['pipelines'], response: { 404: error } } }, async (request, reply) => {
      const p = engine.catalog.find(request.params.id);
      if (!p) return reply.code(404).send({ code: 'SUP_ERR_NOT_FOUND', message: `no pipeline "${request.params.id}" (known: ${engine.catalog.list().map((x) => x.id).join(', ')})` });
      // task params may carry credentials (env, URLs with user:password): shown redacted
      return redactConfig({ ...p, tasks: p.tasks });
    });

    app.post<{ Params: { id: string }; Body: { logical_date?: string | number; conf?: Record<string, unknown>; rerun?: boolean } }>(
      '/pipelines/:id/trigger',
      {
        schema: {
          summary: 'Trigger a run (Airflow `dags trigger`)',
          tags: ['pipelines'],
          params: idParam('id'),
          body: {
            type: 'object',
            additionalProperties: false,
            properties: { logical_date: isoOrEpoch, conf: { type: 'object', additionalProperties: true }, rerun: { type: 'boolean' } },
          },
        },
      },
      async (request, reply) => {
        const body = request.body ?? {};
        try {
          const run = await engine.trigger(request.params.id, {
            ...(body.logical_date !== undefined ? { logicalDate: toEpoch(body.logical_date) } : {}),
            ...(body.conf ? { conf: body.conf } : {}),
            ...(body.rerun ? { rerun: true } : {}),
          });
          return reply.code(run.created ? 201 : 200).send(run);
        } catch (err) {
          return sendError(reply, err);
        }
      },
    );

    app.post<{ Params: { id: string }; Body: { start_date: string | number; end_date: string | number; dry_run?: boolean; reprocess?: 'none' | 'failed' | 'all'; max_active?: number } }>(
      '/pipelines/:id/backfill',
      {
        schema: {
          summary: 'Backfill a date range (Airflow `dags backfill`); dry_run returns the plan only',
          tags: ['pipelines'],
          params: idParam('id'),
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['start_date', 'end_date'],
            properties: {
              start_date: isoOrEpoch,
              end_date: isoOrEpoch,
              dry_run: { type: 'boolean' },
              reprocess: { type: 'string', enum: ['none', 'failed', 'all'] },
              max_active: { type: 'integer', minimum: 1, maximum: 64 },
            },
          },
        },
      },
      async (request, reply) => {
        const b = request.body;
        try {
          const options = {
            startDate: toEpoch(b.start_date),
            endDate: toEpoch(b.end_date),
            ...(b.reprocess ? { reprocess: b.reprocess } : {}),
            ...(b.max_active ? { maxActive: b.max_active } : {}),
          };
          const plan = await engine.backfill(request.params.id, { ...options, dryRun: true });
          if (b.dry_run) return plan;
          // run in the background; progress is visible through /runs
          void engine.backfill(request.params.id, options).catch((err: unknown) => request.log.error({ err }, 'backfill failed'));
          return reply.code(202).send({ ...plan, dryRun: false, accepted: true });
        } catch (err) {
          return sendError(reply, err);
        }
      },
    );

    // ---------------------------------------------------------------- runs
    app.get<{ Querystring: { pipeline?: string; state?: string; from?: string; to?: string; limit?: number; offset?: number } }>(
      '/runs',
      {
        schema: {
          summary: 'Runs, newest first; filter by pipeline, state and logical-date range',
          tags: ['runs'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              pipeline: { type: 'string', maxLength: 200 },
              state: { type: 'string', enum: RUN_STATES },
              from: isoOrEpoch,
              to: isoOrEpoch,
              limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
              offset: { type: 'integer', minimum: 0, maximum: 100000, default: 0 },
            },
          },
        },
      },
      async (request, reply) => {
        const q = request.query;
        const limit = q.limit ?? 50;
        const offset = q.offset ?? 0;
        try {
          const pipeline = q.pipeline === undefined ? undefined : engine.catalog.get(q.pipeline).id;
          const rows = engine.store.listRuns({
            ...(pipeline ? { pipeline } : {}),
            ...(q.state ? { state: q.state as never } : {}),
            ...(q.from !== undefined ? { from: toEpoch(q.from) } : {}),
            ...(q.to !== undefined ? { to: toEpoch(q.to) } : {}),
            limit: offset + limit + 1,
          });
          const page = rows.slice(offset, offset + limit);
          return { runs: page, offset, limit, has_more: rows.length > offset + limit };
        } catch (err) {
          return sendError(reply, err);
        }
      },
    );

    app.get<{ Params: { id: string } }>('/runs/:id', { schema: { params: idParam('id'), tags: ['runs'] } }, async (request, reply) => {
      const run = engine.getRun(request.params.id);
      return run ?? reply.code(404).send({ code: 'SUP_ERR_NOT_FOUND', message: `no run "${request.params.id}"` });
    });

    app.get<{ Params: { id: string } }>('/runs/:id/tasks', { schema: { params: idParam('id'), tags: ['runs'] } }, async (request, reply) => {
      if (!engine.store.getRun(request.params.id)) return reply.code(404).send({ code: 'SUP_ERR_NOT_FOUND', message: `no run "${request.params.id}"` });
      return { tasks: engine.store.listTasks(request.params.id), attempts: engine.store.listAttempts(request.params.id) };
    });

    app.get<{ Params: { id: string; task: string } }>(
      '/runs/:id/tasks/:task/logs',
      { schema: { params: { type: 'object', required: ['id', 'task'], properties: { id: { type: 'string', maxLength: 300 }, task: { type: 'string', maxLength: 200 } } }, tags: ['runs'] } },
      async (request, reply) => {
        if (!engine.store.getTask(request.params.id, request.params.task)) {
          return reply.code(404).send({ code: 'SUP_ERR_NOT_FOUND', message: `no task "${request.params.task}" in run "${request.params.id}"` });
        }
        return { logs: engine.store.getLogs(request.params.id, request.params.task) };
      },
    );

    // ---------------------------------------------------------------- variables
    app.get('/variables', { schema: { tags: ['variables'] } }, async () => {
      const stored = Object.fromEntries(variables.list().map((v) => [v.key, { value: v.value, source: 'store' }]));
      const defaults = Object.fromEntries(Object.entries(deps.loaded.variables).filter(([k]) => !(k in stored)).map(([k, v]) => [k, { value: v, source: 'config' }]));
      return { variables: { ...defaults, ...stored } };
    });

    app.put<{ Params: { key: string }; Body: { value: string } }>(
      '/variables/:key',
      {
        schema: {
          tags: ['variables'],
          params: { type: 'object', required: ['key'], properties: { key: { type: 'string', pattern: VARIABLE_KEY.source, maxLength: 200 } } },
          body: { type: 'object', additionalProperties: false, required: ['value'], properties: { value: { type: 'string', maxLength: 10000 } } },
        },
      },
      async (request) => {
        variables.set(request.params.key, request.body.value, clock.now());
        return { key: request.params.key, value: request.body.value, note: 'used by runs started from now on; checks and connections pick it up at the next restart' };
      },
    );

    app.delete<{ Params: { key: string } }>('/variables/:key', { schema: { tags: ['variables'], params: idParam('key') } }, async (request, reply) =>
      variables.delete(request.params.key) ? reply.code(204).send() : reply.code(404).send({ code: 'SUP_ERR_NOT_FOUND', message: `variable "${request.params.key}" is not stored` }),
    );

    // ---------------------------------------------------------------- alerts and silences
    app.get<{ Querystring: { state?: 'pending' | 'firing' | 'resolved' } }>(
      '/alerts',
      { schema: { tags: ['alerts'], querystring: { type: 'object', additionalProperties: false, properties: { state: { type: 'string', enum: ['pending', 'firing', 'resolved'] } } } } },
      async (request) => ({ alerts: alerts.snapshot().filter((a) => !request.query.state || a.state === request.query.state) }),
    );

    // silences: validated by buildSilence (also the CLI's); regexes run on the linear-time engine
    app.get<{ Querystring: { all?: boolean } }>(
      '/silences',
      {
        schema: {
          summary: 'Active silences (with all=true, expired ones too)',
          tags: ['alerts'],
          querystring: { type: 'object', additionalProperties: false, properties: { all: { type: 'boolean' } } },
        },
      },
      async (request) => ({ silences: silenceStore.listSilences(clock.now(), { all: request.query.all === true }) }),
    );

    app.post<{ Body: { matchers: Record<string, string>; duration?: string; ends_at?: string; comment: string } }>(
      '/silences',
      {
        schema: {
          summary: 'Silence alerts whose labels match (exact values, or ~regex in RE2 syntax, anchored) for duration or until ends_at (exactly one of the two)',
          tags: ['alerts'],
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['matchers', 'comment'],
            oneOf: [{ required: ['duration'] }, { required: ['ends_at'] }],
            properties: {
              matchers: {
                type: 'object',
                minProperties: 1,
                maxProperties: SILENCE_LIMITS.matchers,
                description: `label: exact value, or label: ~regex (RE2 syntax, at most ${SILENCE_LIMITS.regexLength} characters)`,
                additionalProperties: { type: 'string', maxLength: SILENCE_LIMITS.regexLength + 1 },
              },
              duration: { type: 'string', minLength: 1, maxLength: 40, description: 'e.g. "2h", "30m", "1d"' },
              ends_at: { type: 'string', minLength: 1, maxLength: 40, description: 'ISO 8601 date or date-time with a zone, in the future' },
              comment: { type: 'string', minLength: 1, maxLength: SILENCE_LIMITS.commentLength },
            },
          },
        },
      },
      async (request, reply) => {
        const b = request.body;
        try {
          const silence = buildSilence(
            { matchers: b.matchers, duration: b.duration, endsAt: b.ends_at, comment: b.comment, createdBy: request.principal?.name ?? 'api' },
            { now: clock.now(), fields: API_SILENCE_FIELDS },
          );
          silenceStore.addSilence(silence);
          return reply.code(201).send(silence);
        } catch (err) {
          if (isSupervisorError(err) && err.code === 'SUP_ERR_BAD_REQUEST') return reply.code(400).send({ code: err.code, message: err.message });
          throw err;
        }
      },
    );

    app.delete<{ Params: { id: string } }>('/silences/:id', { schema: { summary: 'Expire a silence now (it stays listed with all=true)', tags: ['alerts'], params: idParam('id') } }, async (request, reply) =>
      silenceStore.expireSilence(request.params.id, clock.now()) ? reply.code(204).send() : reply.code(404).send({ code: 'SUP_ERR_NOT_FOUND', message: `no active silence "${request.params.id}"` }),
    );
  };
}
