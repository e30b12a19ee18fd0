import type { FastifyPluginAsync } from 'fastify';
import { worstStatus, type Signal, type Status } from '../../protocol';
import { LIMITS } from '../../shared/limits';
import { responses } from '../responses';

export interface HealthSnapshot {
  status: Status;
  signals: readonly Signal[];
}

const signalSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    check: { type: 'string' },
    kind: { type: 'string' },
    target: { type: 'string' },
    status: { type: 'string', enum: ['ok', 'warn', 'unknown', 'crit'] },
    summary: { type: 'string' },
    observedAt: { type: 'number' },
  },
} as const;

/**
 * `GET /api/v1/health`: every current signal, worst status first. `?check=` filters by check name.
 * `source` reads the current value of `state$` (the daemon passes its checks component's view).
 */
export function healthRoutes(source: () => readonly Signal[]): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { check?: string; status?: Status } }>(
      '/health',
      {
        schema: {
          summary: 'Current health: every signal of every check',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { check: { type: 'string', maxLength: LIMITS.nameLength }, status: { type: 'string', enum: ['ok', 'warn', 'unknown', 'crit'] } },
          },
          response: responses({
            200: {
              type: 'object',
              required: ['status', 'generatedAt', 'signals'],
              properties: { status: { type: 'string' }, generatedAt: { type: 'string' }, signals: { type: 'array', items: signalSchema } },
            },
          }),
        },
      },
      async (request) => {
        const all = source();
        const signals = all.filter(
          (s) => (request.query.check === undefined || s.check === request.query.check) && (request.query.status === undefined || s.status === request.query.status),
        );
        return { status: worstStatus(all.map((s) => s.status)), generatedAt: new Date().toISOString(), signals };
      },
    );
  };
}
