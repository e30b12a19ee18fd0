/**
 * Read-only inspect routes under /api/v1, the API side of `dags next-execution` and `dags show`:
 *
 * - `GET /pipelines/:id/next?n=5&after=…` — the next ticks in UTC and local time (DST applied)
 * - `GET /pipelines/:id/graph?format=json|mermaid|dot` — the DAG with groups and trigger rules
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { PipelineCatalog, PipelineSpec } from '../../engine/dag';
import { graphJson, renderDot, renderMermaid } from '../../engine/dag-render';
import { NEXT_EXECUTIONS_DEFAULT, NEXT_EXECUTIONS_MAX, nextExecutions } from '../../engine/schedule-preview';
import type { Clock } from '../../protocol';
import type { SqliteDatabase } from '../../store/database';
import { createPipelineStateStore } from '../../store/pipeline-state';
import { MAX_EPOCH_MS } from '../../shared/dates';
import { LIMITS } from '../../shared/limits';
import { openObject, responses } from '../responses';
import { toEpoch } from './api';

export interface InspectRouteDeps {
  engine: { readonly catalog: PipelineCatalog };
  db: SqliteDatabase;
  clock: Clock;
}

const pipelineParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: LIMITS.nameLength } } } as const;

export function inspectRoutes(deps: InspectRouteDeps): FastifyPluginAsync {
  const { engine, clock } = deps;
  const pauses = createPipelineStateStore(deps.db);

  /** The pipeline by id or alias, or a 404 naming the known ones. */
  const pipelineOr404 = (id: string, reply: FastifyReply): PipelineSpec | null => {
    const spec = engine.catalog.find(id);
    if (!spec) {
      void reply.code(404).send({
        code: 'SUP_ERR_NOT_FOUND',
        message: `path.id: no pipeline "${id}" (known: ${engine.catalog
          .list()
          .map((p) => p.id)
          .join(', ')})`,
      });
    }
    return spec;
  };

  return async (app) => {
    app.get<{ Params: { id: string }; Querystring: { n?: number; after?: string | number } }>(
      '/pipelines/:id/next',
      {
        schema: {
          summary: "The pipeline's next schedule ticks, in UTC and in its IANA time zone with the offset (Airflow `dags next-execution`)",
          tags: ['pipelines'],
          params: pipelineParam,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              n: { type: 'integer', minimum: 1, maximum: NEXT_EXECUTIONS_MAX, default: NEXT_EXECUTIONS_DEFAULT, description: 'how many ticks' },
              after: {
                description: 'ticks strictly after this instant (default now): an ISO 8601 date or date-time with a zone, or epoch milliseconds',
                anyOf: [
                  { type: 'string', format: 'date-time', maxLength: 40 },
                  { type: 'string', format: 'date', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
                  { type: 'integer', minimum: 0, maximum: MAX_EPOCH_MS },
                ],
              },
            },
          },
          response: responses(
            {
              200: openObject(
                {
                  pipeline: { type: 'string' },
                  schedule: { type: ['string', 'null'] },
                  timezone: { type: 'string' },
                  paused: { type: 'boolean' },
                  ticks: {
                    type: 'array',
                    items: openObject({ logical_date: { type: 'string' }, epoch_ms: { type: 'integer' }, local: { type: 'string' }, offset: { type: 'string' } }, [
                      'logical_date',
                      'local',
                      'offset',
                    ]),
                  },
                },
                ['pipeline', 'schedule', 'timezone', 'paused', 'ticks'],
              ),
            },
            { extra: [404] },
          ),
        },
      },
      async (request, reply) => {
        const spec = pipelineOr404(request.params.id, reply);
        if (!spec) return reply;
        const after = request.query.after === undefined ? clock.now() : toEpoch(request.query.after, 'query.after');
        const preview = nextExecutions(spec, after, request.query.n ?? NEXT_EXECUTIONS_DEFAULT);
        return {
          pipeline: spec.id,
          schedule: spec.schedule,
          timezone: spec.timezone,
          paused: pauses.get(spec.id)?.paused ?? spec.paused,
          after: new Date(after).toISOString(),
          ticks: preview.ticks.map((t) => ({ logical_date: t.utc, epoch_ms: t.logicalDate, local: t.local, offset: t.offset })),
        };
      },
    );

    app.get<{ Params: { id: string }; Querystring: { format?: 'json' | 'mermaid' | 'dot' } }>(
      '/pipelines/:id/graph',
      {
        schema: {
          summary: 'The DAG: tasks, edges, task groups and trigger rules, as JSON or as Mermaid / Graphviz DOT source (Airflow `dags show`)',
          tags: ['pipelines'],
          params: pipelineParam,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { format: { type: 'string', enum: ['json', 'mermaid', 'dot'], default: 'json' } },
          },
          response: responses(
            {
              200: openObject(
                {
                  pipeline: { type: 'string' },
                  format: { type: 'string', enum: ['json', 'mermaid', 'dot'] },
                  nodes: { type: 'array', items: openObject({ id: { type: 'string' } }, ['id']) },
                  edges: { type: 'array', items: openObject({ from: { type: 'string' }, to: { type: 'string' } }, ['from', 'to']) },
                  groups: { type: 'array', items: openObject({ id: { type: 'string' }, tasks: { type: 'array', items: { type: 'string' } } }, ['id', 'tasks']) },
                  source: { type: 'string', description: 'the Mermaid or DOT text (format mermaid or dot)' },
                },
                ['pipeline', 'format', 'nodes', 'edges', 'groups'],
              ),
            },
            { extra: [404] },
          ),
        },
      },
      async (request, reply) => {
        const spec = pipelineOr404(request.params.id, reply);
        if (!spec) return reply;
        const format = request.query.format ?? 'json';
        const graph = graphJson(spec);
        if (format === 'json') return { ...graph, format };
        return { ...graph, format, source: format === 'mermaid' ? renderMermaid(spec) : renderDot(spec) };
      },
    );
  };
}
