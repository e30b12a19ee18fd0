import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TokenStore } from '../store/tokens';

export interface AuthParams {
  tokens: Pick<TokenStore, 'verify'>;
  /** Failed attempts per client address per minute before answering 429. */
  failuresPerMinute: number;
  now?: () => number;
}

export interface Principal {
  name: string;
  readOnly: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Bearer-token check for /api/v1. No default credentials: with no token created, every API
 * call is refused (create one with `supervisor tokens create`). Repeated failures from one
 * address are rate-limited; a success does not reset the window (no oracle for guessing).
 */
export function createAuthHook({ tokens, failuresPerMinute, now = Date.now }: AuthParams) {
  const failures = new Map<string, { windowStart: number; count: number }>();
  const limited = (ip: string): number => {
    const entry = failures.get(ip);
    if (!entry) return 0;
    const elapsed = now() - entry.windowStart;
    if (elapsed >= 60_000) {
      failures.delete(ip);
      return 0;
    }
    return entry.count >= failuresPerMinute ? Math.ceil((60_000 - elapsed) / 1000) : 0;
  };
  const fail = (ip: string): void => {
    const entry = failures.get(ip);
    if (!entry || now() - entry.windowStart >= 60_000) failures.set(ip, { windowStart: now(), count: 1 });
    else entry.count += 1;
    if (failures.size > 10_000) failures.clear(); // bounded memory under a spray of addresses
  };

  return async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const retryAfter = limited(request.ip);
    if (retryAfter > 0) {
      await reply
        .code(429)
        .header('retry-after', String(retryAfter))
        .send({ code: 'SUP_ERR_RATE_LIMITED', message: `too many failed authentication attempts; retry in ${retryAfter}s` });
      return;
    }
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      fail(request.ip);
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ code: 'SUP_ERR_UNAUTHORIZED', message: 'missing bearer token: send "Authorization: Bearer <token>" (create one with `supervisor tokens create --name NAME`)' });
      return;
    }
    const info = tokens.verify(match[1]!);
    if (!info) {
      fail(request.ip);
      await reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ code: 'SUP_ERR_UNAUTHORIZED', message: 'invalid bearer token' });
      return;
    }
    if (info.readOnly && WRITE_METHODS.has(request.method)) {
      await reply.code(403).send({ code: 'SUP_ERR_FORBIDDEN', message: `token "${info.name}" is read-only and cannot ${request.method} ${request.routeOptions.url ?? request.url}` });
      return;
    }
    request.principal = { name: info.name, readOnly: info.readOnly };
  };
}
