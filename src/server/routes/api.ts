import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { AlertEngine } from '../../../alerts';
import type { LoadedConfig } from '../../config/load';
import type { Engine } from '../../engine/engine';
import { isSupervisorError, type Clock, type Signal, type SilenceStore } from '../../protocol';
import { formatDuration } from '../../shared/duration';
import type { SqliteDatabase } from '../../store/database';
import { createVariableStore, VARIABLE_KEY } from '../../store/variables';
import { API_SILENCE_FIELDS, buildSilence, SILENCE_LIMITS } from '../../store/silences';
import { redactConfig } from '../../config/redact';
import { checkVariableChange, variableProblem, type CheckVariableChangeParams } from '../../config/variable-change';
import { checkEpochMs, DateParseError, MAX_EPOCH_MS, parseStrictDate } from '../../shared/dates';
import { LIMITS } from '../../shared/limits';
import { noContent, openObject, responses } from '../responses';

export interface ApiDeps {
  engine: Engine;
  db: SqliteDatabase;
  alerts: AlertEngine;
  silenceStore: SilenceStore;
  clock: Clock;
  loaded: LoadedConfig;
  /** The environment the config was loaded with (a variable change is checked against it). */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Loads the config with one variable changed and throws the config's error when it no longer
   * loads; the change is stored only when this passes (default: src/config/variable-change.ts).
   */
  checkVariableChange?: (params: CheckVariableChangeParams) => unknown;
  /** The latest signals (the schedule monitor's deadline signal per pipeline, for /pipelines). */
  signals?: () => readonly Signal[];
}

const RUN_STATES = ['queued', 'running', 'success', 'failed', 'skipped', 'timed_out', 'cancelled'];
const idParam = (name: string) => ({ type: 'object', required: [name], properties: { [name]: { type: 'string', minLength: 1, maxLength: LIMITS.nameLength } } }) as const;
const isoOrEpoch = {
  description: 'an ISO 8601 date (2025-10-05, UTC midnight) or date-time with a zone (2025-10-05T06:00:00Z), years 0001 to 9999, or epoch milliseconds',
  anyOf: [
    { type: 'string', format: 'date-time', maxLength: 40 },
    { type: 'string', format: 'date', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
    { type: 'integer', minimum: 0, maximum: MAX_EPOCH_MS },
  ],
} as const;
const runSummary = openObject({
  runId: { type: 'string' },
  pipeline: { type: 'string' },
  logicalDate: { type: 'integer' },
  state: { type: 'string' },
  created: { type: 'boolean' },
});

const badRequest = (message: string) => Object.assign(new Error(message), { statusCode: 400, code: 'SUP_ERR_BAD_REQUEST' });

/** A date from a body or query (`field` names it in the error): strict ISO 8601 or epoch ms, never rolled over. */
export function toEpoch(value: string | number, field: string): number {
  try {
    return typeof value === 'number' ? checkEpochMs(value, field) : parseStrictDate(value, field);
  } catch (err) {
    if (err instanceof DateParseError) throw badRequest(err.message);
    throw err;
  }
}

/** A run's conf: at most LIMITS.confDepth levels deep and LIMITS.confBytes serialized. */
export function checkConf(conf: unknown, field: string): void {
  const depth = (value: unknown, level: number): number => {
    if (value === null || typeof value !== 'object') return level - 1;
    if (level > LIMITS.confDepth) return level;
    let max = level;
    for (const v of Object.values(value)) max = Math.max(max, depth(v, level + 1));
    return max;
  };
  if (depth(conf, 1) > LIMITS.confDepth) throw badRequest(`${field}: nested more than ${LIMITS.confDepth} levels deep`);
  const bytes = Buffer.byteLength(JSON.stringify(conf), 'utf8');
  if (bytes > LIMITS.confBytes) throw badRequest(`${field}: ${bytes} bytes serialized; at most ${LIMITS.confBytes}`);
}

/**
 * A SupervisorError as its HTTP answer, its message prefixed with the field it is about when it
 * names none (`notFound` for a missing pipeline, `field` for the rest); anything else is a 500.
 */
export function sendError(reply: FastifyReply, err: unknown, field?: string, notFound = field): FastifyReply {
  if (isSupervisorError(err)) {
    const about = err.code === 'SUP_ERR_NOT_FOUND' ? notFound : field;
    if (about && !/^[a-z][\w.]*: /i.test(err.message)) err.message = `${about}: ${err.message}`;
    const status =
      err.code === 'SUP_ERR_NOT_FOUND'
        ? 404
        : err.code === 'SUP_ERR_CONFLICT'
          ? 409
          : err.code === 'SUP_ERR_USAGE' || err.code === 'SUP_ERR_BAD_REQUEST' || err.code.startsWith('SUP_ERR_CONFIG')
            ? 400
            : 0;
    if (status) return reply.code(status).send({ code: err.code, message: err.where ? `${err.message} (at ${err.where})` : err.message });
  }
  throw err;
}

/** A pipeline's deadline and where it stands (from the schedule monitor's latest signal). */
function deadlineView(d: { afterMs: number; from: string }, signal: Signal | undefined) {
  const state = !signal ? 'unknown' : signal.status === 'crit' ? 'missed' : /paused/.test(signal.summary) ? 'paused' : signal.status === 'ok' ? 'met' : 'unknown';
  return { after: formatDuration(d.afterMs), from: d.from, within: `within ${formatDuration(d.afterMs)} of ${d.from}`, state, summary: signal?.summary ?? null };
}

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** The authenticated JSON API under /api/v1 (health is its own module). */
export function apiRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { engine, alerts, silenceStore, clock } = deps;
  const variables = createVariableStore(deps.db);
  const checkChange = deps.checkVariableChange ?? checkVariableChange;
  /** A variable change refused with the config's error (all its problems), or null when it may be stored. */
  const refuseChange = (reply: FastifyReply, key: string, value: string | undefined): FastifyReply | null => {
    const problem = variableProblem(key, value);
    if (problem)
      return reply.code(400).send({ code: 'SUP_ERR_BAD_REQUEST', message: `${value !== undefined && problem.startsWith('the value') ? 'body.value' : 'path.key'}: ${problem}` });
    try {
      checkChange({ file: deps.loaded.file, env: deps.env ?? process.env, storedVariables: variables.asRecord(), key, value });
      return null;
    } catch (err) {
      if (!isSupervisorError(err)) throw err;
      const detail = err.problems.length > 0 ? `: ${err.problems.join('; ')}` : '';
      return reply.code(400).send({ code: err.code, message: `${value === undefined ? 'path.key' : 'body.value'}: ${err.message}${detail}` });
    }
  };

  return async (app) => {
    // ---------------------------------------------------------------- pipelines
    app.get(
      '/pipelines',
      {
        schema: {
          summary: 'Pipelines (the DAGs) with their schedules, tasks and last run',
          tags: ['pipelines'],
          response: responses({ 200: openObject({ pipelines: { type: 'array', items: openObject({ id: { type: 'string' } }, ['id']) } }, ['pipelines']) }),
        },
      },
      async () => {
        const deadlines = new Map((deps.signals?.() ?? []).filter((x) => x.kind === 'pipeline_deadline').map((x) => [x.target, x]));
        return {
          pipelines: engine.catalog.list().map((p) => {
            const last = engine.store.listRuns({ pipeline: p.id, limit: 1 })[0];
            const success = engine.store.lastSuccess(p.id);
            return {
              id: p.id,
              aliases: p.aliases,
              description: p.description,
              schedule: p.schedule,
              timezone: p.timezone,
              paused: engine.operations.isPaused(p.id),
              overlap: p.overlap,
              tasks: p.tasks.map((t) => ({ id: t.id, operator: t.operator, group: t.group, upstream: t.upstream, trigger_rule: t.triggerRule })),
              last_run: last ? { id: last.id, state: last.state, logical_date: iso(last.logicalDate) } : null,
              last_success_at: iso(success?.endedAt),
              deadline: p.deadline ? deadlineView(p.deadline, deadlines.get(p.id)) : null,
            };
          }),
        };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/pipelines/:id',
      {
        schema: {
          summary: 'One pipeline by id or alias (task params redacted)',
          params: idParam('id'),
          tags: ['pipelines'],
          response: responses({ 200: openObject({ id: { type: 'string' } }, ['id']) }, { extra: [404] }),
        },
      },
      async (request, reply) => {
        const p = engine.catalog.find(request.params.id);
        if (!p)
          return reply.code(404).send({
            code: 'SUP_ERR_NOT_FOUND',
            message: `path.id: no pipeline "${request.params.id}" (known: ${engine.catalog
              .list()
              .map((x) => x.id)
              .join(', ')})`,
          });
        // task params may carry credentials (env, URLs with user:password): shown redacted
        return redactConfig({ ...p, tasks: p.tasks });
      },
    );

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
            properties: {
              logical_date: isoOrEpoch,
              conf: {
                type: 'object',
                additionalProperties: true,
                propertyNames: { not: { const: '__proto__' } },
                description: `run parameters, at most ${LIMITS.confDepth} levels deep and ${LIMITS.confBytes} bytes as JSON; no key named __proto__ at any depth`,
              },
              rerun: { type: 'boolean' },
            },
          },
          response: responses(
            { 200: { description: 'a run for this logical date exists (not started again without rerun)', ...runSummary }, 201: { description: 'run created', ...runSummary } },
            { write: true, extra: [404, 409] },
          ),
        },
      },
      async (request, reply) => {
        const body = request.body ?? {};
        try {
          if (body.conf !== undefined) checkConf(body.conf, 'body.conf');
          const run = await engine.trigger(request.params.id, {
            ...(body.logical_date !== undefined ? { logicalDate: toEpoch(body.logical_date, 'body.logical_date') } : {}),
            ...(body.conf ? { conf: body.conf } : {}),
            ...(body.rerun ? { rerun: true } : {}),
            actor: { actor: request.principal?.name ?? 'unknown' },
          });
          const paused = engine.operations.isPaused(run.pipeline);
          return reply
            .code(run.created ? 201 : 200)
            .send(paused && run.state === 'queued' ? { ...run, paused, note: `${run.pipeline} is paused: the run waits until it is unpaused` } : run);
        } catch (err) {
          return sendError(reply, err, 'body', 'path.id');
        }
      },
    );

    app.post<{
      Params: { id: string };
      Body: { start_date: string | number; end_date: string | number; dry_run?: boolean; reprocess?: 'none' | 'failed' | 'all'; max_active?: number };
    }>(
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
              max_active: { type: 'integer', minimum: 1, maximum: LIMITS.backfillMaxActive },
            },
          },
          response: responses(
            {
              200: { description: 'dry run: the plan', ...openObject({ plan: { type: 'array' }, counts: openObject() }) },
              202: {
                description: 'accepted: the plan, running in the background (progress through /runs)',
                ...openObject({ plan: { type: 'array' }, accepted: { type: 'boolean' } }),
              },
            },
            { write: true, extra: [404, 409] },
          ),
        },
      },
      async (request, reply) => {
        const b = request.body;
        try {
          const options = {
            startDate: toEpoch(b.start_date, 'body.start_date'),
            endDate: toEpoch(b.end_date, 'body.end_date'),
            ...(b.reprocess ? { reprocess: b.reprocess } : {}),
            ...(b.max_active ? { maxActive: b.max_active } : {}),
          };
          if (options.endDate < options.startDate) throw badRequest(`body.end_date: ${JSON.stringify(b.end_date)} is before body.start_date ${JSON.stringify(b.start_date)}`);
          const plan = await engine.backfill(request.params.id, { ...options, dryRun: true });
          if (b.dry_run) return plan;
          engine.operations.note(
            'backfill',
            { actor: request.principal?.name ?? 'unknown' },
            { pipeline: plan.pipeline },
            { startDate: iso(options.startDate), endDate: iso(options.endDate), runs: plan.plan.length },
          );
          // run in the background; progress is visible through /runs
          void engine.backfill(request.params.id, options).catch((err: unknown) => request.log.error({ err }, 'backfill failed'));
          return reply.code(202).send({ ...plan, dryRun: false, accepted: true });
        } catch (err) {
          return sendError(reply, err, 'body', 'path.id');
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
              pipeline: { type: 'string', minLength: 1, maxLength: LIMITS.nameLength },
              state: { type: 'string', enum: RUN_STATES },
              from: isoOrEpoch,
              to: isoOrEpoch,
              limit: { type: 'integer', minimum: 1, maximum: LIMITS.pageSize, default: 50 },
              offset: { type: 'integer', minimum: 0, maximum: 100000, default: 0 },
            },
          },
          response: responses(
            {
              200: openObject(
                { runs: { type: 'array', items: openObject({ id: { type: 'string' } }) }, offset: { type: 'integer' }, limit: { type: 'integer' }, has_more: { type: 'boolean' } },
                ['runs'],
              ),
            },
            { extra: [404] },
          ),
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
            ...(q.from !== undefined ? { from: toEpoch(q.from, 'query.from') } : {}),
            ...(q.to !== undefined ? { to: toEpoch(q.to, 'query.to') } : {}),
            limit: offset + limit + 1,
          });
          const page = rows.slice(offset, offset + limit);
          return { runs: page, offset, limit, has_more: rows.length > offset + limit };
        } catch (err) {
          return sendError(reply, err, 'query.pipeline');
        }
      },
    );

    app.get<{ Params: { id: string } }>(
      '/runs/:id',
      {
        schema: {
          summary: 'One run with its tasks',
          params: idParam('id'),
          tags: ['runs'],
          response: responses({ 200: openObject({ id: { type: 'string' }, tasks: { type: 'array' } }) }, { extra: [404] }),
        },
      },
      async (request, reply) => {
        const run = engine.getRun(request.params.id);
        if (!run) return reply.code(404).send({ code: 'SUP_ERR_NOT_FOUND', message: `path.id: no run "${request.params.id}"` });
        const audit = engine.operations.audit({ runId: run.runId }).map((e) => ({ ...e, at: new Date(e.at).toISOString() }));
        return { ...run, audit };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/runs/:id/tasks',
      {
        schema: {
          summary: "A run's task instances and attempts",
          params: idParam('id'),
          tags: ['runs'],
          response: responses({ 200: openObject({ tasks: { type: 'array' }, attempts: { type: 'array' } }, ['tasks', 'attempts']) }, { extra: [404] }),
        },
      },
      async (request, reply) => {
        if (!engine.store.getRun(request.params.id)) return reply.code(404).send({ code: 'SUP_ERR_NOT_FOUND', message: `path.id: no run "${request.params.id}"` });
        return { tasks: engine.store.listTasks(request.params.id), attempts: engine.store.listAttempts(request.params.id) };
      },
    );

    app.get<{ Params: { id: string; task: string } }>(
      '/runs/:id/tasks/:task/logs',
      {
        schema: {
          summary: "A task's log lines",
          params: {
            type: 'object',
            required: ['id', 'task'],
            properties: { id: { type: 'string', minLength: 1, maxLength: LIMITS.nameLength }, task: { type: 'string', minLength: 1, maxLength: LIMITS.nameLength } },
          },
          tags: ['runs'],
          response: responses({ 200: openObject({ logs: {} }, ['logs']) }, { extra: [404] }),
        },
      },
      async (request, reply) => {
        if (!engine.store.getTask(request.params.id, request.params.task)) {
          return reply.code(404).send({ code: 'SUP_ERR_NOT_FOUND', message: `path.task: no task "${request.params.task}" in run "${request.params.id}"` });
        }
        return { logs: engine.store.getLogs(request.params.id, request.params.task) };
      },
    );

    // ---------------------------------------------------------------- variables
    app.get(
      '/variables',
      {
        schema: {
          summary: 'Variables: stored ones and config defaults',
          tags: ['variables'],
          response: responses({
            200: openObject(
              { variables: { type: 'object', additionalProperties: openObject({ value: { type: 'string' }, source: { type: 'string', enum: ['store', 'config'] } }) } },
              ['variables'],
            ),
          }),
        },
      },
      async () => {
        const stored = Object.fromEntries(variables.list().map((v) => [v.key, { value: v.value, source: 'store' }]));
        const defaults = Object.fromEntries(
          Object.entries(deps.loaded.variables)
            .filter(([k]) => !(k in stored))
            .map(([k, v]) => [k, { value: v, source: 'config' }]),
        );
        return { variables: { ...defaults, ...stored } };
      },
    );

    app.put<{ Params: { key: string }; Body: { value: string } }>(
      '/variables/:key',
      {
        schema: {
          summary: 'Store a variable; refused when the config would not load with it',
          tags: ['variables'],
          params: {
            type: 'object',
            required: ['key'],
            properties: {
              key: { type: 'string', pattern: VARIABLE_KEY.source, minLength: 1, maxLength: LIMITS.variableKeyLength, not: { enum: ['__proto__', 'constructor', 'prototype'] } },
            },
          },
          body: { type: 'object', additionalProperties: false, required: ['value'], properties: { value: { type: 'string', maxLength: LIMITS.variableValueLength } } },
          response: responses({ 200: openObject({ key: { type: 'string' }, value: { type: 'string' }, note: { type: 'string' } }, ['key', 'value']) }, { write: true }),
        },
      },
      async (request, reply) => {
        const { key } = request.params;
        const { value } = request.body;
        const refused = refuseChange(reply, key, value);
        if (refused) return refused;
        variables.set(key, value, clock.now());
        return { key, value, note: 'used by runs started from now on; checks and connections pick it up at the next restart' };
      },
    );

    app.delete<{ Params: { key: string } }>(
      '/variables/:key',
      {
        schema: {
          summary: 'Delete a stored variable (its config default, if any, applies again)',
          tags: ['variables'],
          params: idParam('key'),
          response: responses({ 204: noContent }, { write: true, extra: [404] }),
        },
      },
      async (request, reply) => {
        const { key } = request.params;
        if (!Object.hasOwn(variables.asRecord(), key)) return reply.code(404).send({ code: 'SUP_ERR_NOT_FOUND', message: `path.key: variable "${key}" is not stored` });
        const refused = refuseChange(reply, key, undefined);
        if (refused) return refused;
        variables.delete(key);
        return reply.code(204).send();
      },
    );

    // ---------------------------------------------------------------- alerts and silences
    app.get<{ Querystring: { state?: 'pending' | 'firing' | 'resolved' } }>(
      '/alerts',
      {
        schema: {
          summary: 'Alert instances, optionally by state',
          tags: ['alerts'],
          querystring: { type: 'object', additionalProperties: false, properties: { state: { type: 'string', enum: ['pending', 'firing', 'resolved'] } } },
          response: responses({ 200: openObject({ alerts: { type: 'array' } }, ['alerts']) }),
        },
      },
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
          response: responses({ 200: openObject({ silences: { type: 'array' } }, ['silences']) }),
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
                propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_.-]*$', maxLength: LIMITS.nameLength },
                description: `label: exact value, or label: ~regex (RE2 syntax, at most ${SILENCE_LIMITS.regexLength} characters)`,
                additionalProperties: { type: 'string', maxLength: SILENCE_LIMITS.regexLength + 1 },
              },
              duration: { type: 'string', minLength: 1, maxLength: 40, description: 'e.g. "2h", "30m", "1d"' },
              ends_at: { type: 'string', minLength: 1, maxLength: 40, description: 'ISO 8601 date or date-time with a zone, in the future' },
              comment: { type: 'string', minLength: 1, maxLength: SILENCE_LIMITS.commentLength },
            },
          },
          response: responses({ 201: { description: 'silence created', ...openObject({ id: { type: 'string' } }, ['id']) } }, { write: true }),
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

    app.delete<{ Params: { id: string } }>(
      '/silences/:id',
      {
        schema: {
          summary: 'Expire a silence now (it stays listed with all=true)',
          tags: ['alerts'],
          params: idParam('id'),
          response: responses({ 204: noContent }, { write: true, extra: [404] }),
        },
      },
      async (request, reply) =>
        silenceStore.expireSilence(request.params.id, clock.now())
          ? reply.code(204).send()
          : reply.code(404).send({ code: 'SUP_ERR_NOT_FOUND', message: `no active silence "${request.params.id}"` }),
    );
  };
}
