/**
 * Response schemas for the OpenAPI document: every status a route can answer is listed, so
 * the document is what the server does (checked by schemathesis in the integration tests).
 *
 * Success schemas keep `additionalProperties: true`: fastify serializes responses through
 * them, and an object schema without it would drop every field it does not name.
 */

export const errorBody = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string', pattern: '^SUP_ERR_' }, message: { type: 'string' } },
  additionalProperties: false,
} as const;

const DESCRIPTIONS: Record<number, string> = {
  400: 'invalid request; the message names the field',
  401: 'missing or invalid bearer token',
  403: 'the token is read-only',
  404: 'no such resource',
  405: 'method not allowed on this path (see the Allow header)',
  409: 'conflicts with the current state',
  413: 'request body larger than the limit',
  415: 'unsupported content type (send application/json)',
  429: 'too many failed authentication attempts from this address',
};

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429;

/** Error responses every authenticated route can give: bad input, no token, rate-limited. */
const ALWAYS: readonly ErrorStatus[] = [400, 401, 429];
/** Routes that read a request body also answer 413 and 415; writes answer 403 to read-only tokens. */
const WRITE: readonly ErrorStatus[] = [403, 413, 415];

/**
 * The response map of one route: its success statuses (`{ 200: schema }`) plus the error
 * statuses it can answer (`extra`), plus those every authenticated route answers.
 */
export function responses(success: Record<number, object>, options: { write?: boolean; extra?: readonly ErrorStatus[] } = {}): Record<number, object> {
  const codes = new Set<ErrorStatus>([...ALWAYS, ...(options.write ? WRITE : []), ...(options.extra ?? [])]);
  const out: Record<number, object> = { ...success };
  for (const code of [...codes].sort()) out[code] = { description: DESCRIPTIONS[code], ...errorBody };
  return out;
}

/** An object answer with these properties and possibly more. */
export const openObject = (properties: Record<string, object> = {}, required: readonly string[] = []): object => ({
  type: 'object',
  additionalProperties: true,
  ...(required.length ? { required } : {}),
  properties,
});

/** A 204 answer: no body. */
export const noContent = { description: 'done; no body', type: 'null' } as const;
