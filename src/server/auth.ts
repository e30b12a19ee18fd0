import net from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../protocol';
import type { TokenStore } from '../store/tokens';
import { CSRF_HEADER, readCookie, sameSecret, SESSION_COOKIE, type SessionStore } from './ui/sessions';

export interface AuthParams {
  tokens: Pick<TokenStore, 'verify'> & Partial<Pick<TokenStore, 'isActive'>>;
  /** Failed attempts per client address per minute before answering 429. */
  failuresPerMinute: number;
  /** Where failed attempts are logged (address and reason, never the token). */
  logger?: Logger;
  /** Client addresses whose failures are remembered; the least recently failing is forgotten first. */
  maxTrackedAddresses?: number;
  now?: () => number;
  /**
   * Web UI sessions: without an Authorization header, a valid session cookie authenticates
   * the request as the token it was signed in with; its writes must carry the session's CSRF
   * token in the `x-csrf-token` header (src/server/ui/sessions.ts).
   */
  sessions?: Pick<SessionStore, 'get'>;
}

export interface Principal {
  name: string;
  readOnly: boolean;
  /** The token it authenticated with (a UI session is checked against it on every request, so revoking the token ends its sessions). */
  tokenId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const WINDOW_MS = 60_000;

/**
 * The key failures are counted under: the address itself for IPv4, its /64 network for IPv6
 * (one host commonly owns a whole /64, so counting single addresses would not limit it).
 */
export function clientKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (net.isIPv6(ip)) {
    const [head = '', tail = ''] = ip.split('::');
    const left = head ? head.split(':') : [];
    const right = tail ? tail.split(':') : [];
    const groups = ip.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
    return `${groups
      .slice(0, 4)
      .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
      .join(':')}::/64`;
  }
  return ip;
}

type Verdict = { ok: true; principal: Principal; csrfMissing?: boolean } | { ok: false; status: number; reason: string };

/**
 * Bearer-token check for /api/v1. No default credentials: with no token created, every API
 * call is refused (create one with `supervisor tokens create`).
 *
 * A valid token always passes. Failures (no token, an invalid one) are counted per client
 * address in a fixed one-minute window; past `failuresPerMinute` that address gets 429 for
 * the rest of its window. The table is an LRU bounded to `maxTrackedAddresses`: a spray of new
 * addresses forgets the least recently failing ones, never the whole table at once.
 */
export function createAuthHook({ tokens, failuresPerMinute, logger, maxTrackedAddresses = 10_000, now = Date.now, sessions }: AuthParams) {
  const failures = new LRUCache<string, { windowStart: number; count: number }>({ max: maxTrackedAddresses });

  /** Seconds until the address may try again, or 0 when it is not limited. */
  const limited = (key: string): number => {
    const entry = failures.get(key);
    if (!entry) return 0;
    const elapsed = now() - entry.windowStart;
    if (elapsed >= WINDOW_MS) return 0;
    return entry.count >= failuresPerMinute ? Math.max(1, Math.ceil((WINDOW_MS - elapsed) / 1000)) : 0;
  };
  const fail = (key: string): number => {
    const entry = failures.get(key);
    if (!entry || now() - entry.windowStart >= WINDOW_MS) {
      failures.set(key, { windowStart: now(), count: 1 });
      return 1;
    }
    entry.count += 1;
    return entry.count;
  };

  const check = (request: FastifyRequest): Verdict => {
    const header = request.headers.authorization;
    if (header === undefined && sessions) {
      const id = readCookie(request.headers.cookie, SESSION_COOKIE);
      if (id !== null) {
        const session = sessions.get(id);
        if (!session) return { ok: false, status: 401, reason: 'unknown or expired session' };
        if (session.principal.tokenId !== undefined && tokens.isActive && !tokens.isActive(session.principal.tokenId))
          return { ok: false, status: 401, reason: `the token "${session.principal.name}" behind this session was revoked` };
        const sent = request.headers[CSRF_HEADER];
        const csrfMissing = WRITE_METHODS.has(request.method) && !(typeof sent === 'string' && sameSecret(sent, session.csrf));
        return { ok: true, principal: session.principal, csrfMissing };
      }
    }
    const match = typeof header === 'string' ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
    if (!match) return { ok: false, status: 401, reason: header === undefined ? 'no authorization header' : 'authorization header is not "Bearer <token>"' };
    const info = tokens.verify(match[1]!);
    if (!info) return { ok: false, status: 401, reason: 'unknown or revoked token' };
    return { ok: true, principal: { name: info.name, readOnly: info.readOnly, tokenId: info.id } };
  };

  const authenticate = async (request: FastifyRequest, reply: FastifyReply, signIn = false): Promise<void> => {
    const verdict = check(request);
    if (verdict.ok && signIn) {
      request.principal = verdict.principal;
      return;
    }
    if (verdict.ok) {
      // (no route matched: nothing would be written, the 404/405 that follows says more)
      if (verdict.principal.readOnly && WRITE_METHODS.has(request.method) && !request.is404) {
        await reply.code(403).send({
          code: 'SUP_ERR_FORBIDDEN',
          message: `authorization: token "${verdict.principal.name}" is read-only and cannot ${request.method} ${request.routeOptions?.url ?? request.url.split('?')[0]}`,
        });
        return;
      }
      if (verdict.csrfMissing && !request.is404) {
        await reply.code(403).send({
          code: 'SUP_ERR_FORBIDDEN',
          message: `${CSRF_HEADER}: missing or wrong: a write through the session cookie must send the session's CSRF token (GET /ui/session gives it)`,
        });
        return;
      }
      request.principal = verdict.principal;
      return;
    }

    const key = clientKey(request.ip);
    const retryAfter = limited(key);
    if (retryAfter > 0) {
      logger?.debug({ address: request.ip, reason: verdict.reason }, 'authentication failed (rate-limited)');
      await reply
        .code(429)
        .header('retry-after', String(retryAfter))
        .send({ code: 'SUP_ERR_RATE_LIMITED', message: `authorization: too many failed attempts from ${request.ip}; retry in ${retryAfter}s with a valid token` });
      return;
    }
    const count = fail(key);
    logger?.warn({ address: request.ip, reason: verdict.reason, method: request.method, path: request.url.split('?')[0]!.slice(0, 200), failures: count }, 'authentication failed');
    const revokedSession = verdict.reason.endsWith('behind this session was revoked');
    const session = verdict.reason === 'unknown or expired session' || revokedSession;
    const missing = verdict.reason !== 'unknown or revoked token' && !session;
    await reply
      .code(401)
      .header('www-authenticate', missing ? 'Bearer' : 'Bearer error="invalid_token"')
      .send({
        code: 'SUP_ERR_UNAUTHORIZED',
        message: revokedSession
          ? 'authorization: the token this session was signed in with has been revoked; sign in with another'
          : session
            ? 'authorization: the session has expired or was signed out; sign in again'
            : missing
              ? 'authorization: missing bearer token: send "Authorization: Bearer <token>" (create one with `supervisor tokens create --name NAME`)'
              : 'authorization: invalid bearer token',
      });
  };
  return Object.assign((request: FastifyRequest, reply: FastifyReply) => authenticate(request, reply), {
    /**
     * The web UI's sign-in: the token in the Authorization header is checked (and its failures
     * counted) exactly as for the API, whatever the request's method: a read-only token may
     * sign in (its session's writes are refused like its own).
     */
    signIn: (request: FastifyRequest, reply: FastifyReply) => authenticate(request, reply, true),
  });
}
