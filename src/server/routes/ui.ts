/**
 * The web UI's page, assets and sign-in, outside /api/v1:
 *
 * - `GET /` (and `/index.html`): the one HTML page; it holds no data (everything it shows is
 *   read from /api/v1 after sign-in), so it is served without a token;
 * - `GET /ui/assets/*`: the page's ES modules and CSS from src/ui/ (read and gzipped once, at
 *   the first request for the page or an asset: a daemon nobody opens the UI of does not hold
 *   them, nor the ≈ 0.8 MB that gzip level 9 leaves with malloc; no build step, nothing fetched
 *   from anywhere else);
 * - `POST /ui/session {token}`: a token created with `supervisor tokens create` becomes a
 *   session cookie (HttpOnly, SameSite=Strict, expiring; Secure behind https); the answer
 *   carries the session's CSRF token, which every write must echo in `x-csrf-token`. Failed
 *   sign-ins count against the same per-address limit as bad bearer tokens;
 * - `GET /ui/session`: who is signed in (and the CSRF token again, after a reload);
 * - `DELETE /ui/session`: sign out (the session is forgotten server-side, the cookie cleared).
 */
import crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { CSRF_HEADER, readCookie, sameSecret, SESSION_COOKIE, type Session, type SessionStore } from '../ui/sessions';

export interface UiRoutesDeps {
  sessions: SessionStore;
  /** Folder of the UI's files (default: src/ui of this package). */
  dir?: string;
}

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The package's root: the nearest folder up from here with this project's package.json. */
export function packageRoot(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string }).name === 'pipeline-supervisor') return dir;
    if (path.dirname(dir) === dir) throw new Error(`the web UI's files: no pipeline-supervisor package.json above ${from}`);
  }
}

/** Every servable file under `dir`, by its path relative to it (forward slashes). */
export function loadAssets(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  const walk = (sub: string): void => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(rel);
      else {
        const type = TYPES[path.extname(entry.name)];
        if (!type) continue;
        const body = fs.readFileSync(path.join(dir, rel));
        out.set(rel, { type, body, gzip: gzipSync(body, { level: 9 }), etag: `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
      }
    }
  };
  walk('');
  return out;
}

const sessionView = (s: Session) => ({ name: s.principal.name, read_only: s.principal.readOnly, csrf: s.csrf, expires_at: new Date(s.expiresAt).toISOString() });

export function uiRoutes(deps: UiRoutesDeps) {
  return ({ signIn }: { signIn: (request: FastifyRequest, reply: FastifyReply) => Promise<void> }): FastifyPluginAsync =>
    async (app) => {
      // a package installed without src/ui (an image that copied dist/ only) serves the API
      // and answers the page with 404 saying why, rather than refusing to start
      const dir = deps.dir ?? path.join(packageRoot(), 'src', 'ui');
      const installed = fs.existsSync(path.join(dir, 'index.html'));
      if (!installed) app.log.warn({ dir }, 'web UI files not found: the UI is not served (the API is)');
      let loaded: Map<string, Asset> | undefined;
      const { sessions } = deps;

      const sendAsset = (request: FastifyRequest, reply: FastifyReply, name: string) => {
        const assets = (loaded ??= installed ? loadAssets(dir) : new Map<string, Asset>());
        const asset = assets.get(name);
        if (!asset)
          return reply.code(404).send({
            code: 'SUP_ERR_NOT_FOUND',
            message: assets.size === 0 ? `path: the web UI's files are not installed with this supervisor (src/ui)` : `path: no UI asset "${name.slice(0, 200)}"`,
          });
        reply
          .header('content-type', asset.type)
          .header('etag', asset.etag)
          .header('cache-control', 'no-cache')
          .header('x-content-type-options', 'nosniff')
          .header('vary', 'accept-encoding');
        if (asset.type.startsWith('text/html')) reply.header('content-security-policy', CSP).header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer');
        if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
        if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) return reply.header('content-encoding', 'gzip').send(asset.gzip);
        return reply.send(asset.body);
      };

      app.get('/', { schema: { hide: true } }, (request, reply) => sendAsset(request, reply, 'index.html'));
      // no icon: answered so that browsers do not log a 404 on every page
      app.get('/favicon.ico', { schema: { hide: true } }, (_request, reply) => reply.code(204).header('cache-control', 'max-age=86400').send());
      app.get('/index.html', { schema: { hide: true } }, (request, reply) => sendAsset(request, reply, 'index.html'));
      app.get<{ Params: { '*': string } }>('/ui/assets/*', { schema: { hide: true } }, (request, reply) => sendAsset(request, reply, request.params['*']));

      const cookie = (request: FastifyRequest, value: string, maxAgeSeconds: number) =>
        `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${request.protocol === 'https' ? '; Secure' : ''}`;
      const current = (request: FastifyRequest): Session | null => {
        const id = readCookie(request.headers.cookie, SESSION_COOKIE);
        return id === null ? null : sessions.get(id);
      };
      const unauthorized = (reply: FastifyReply) => reply.code(401).send({ code: 'SUP_ERR_UNAUTHORIZED', message: 'session: not signed in (or the session expired)' });

      app.post<{ Body: { token: string } }>(
        '/ui/session',
        {
          schema: {
            hide: true,
            body: { type: 'object', additionalProperties: false, required: ['token'], properties: { token: { type: 'string', minLength: 1, maxLength: 200 } } },
          },
        },
        async (request, reply) => {
          // the same check (and failure limit) as a bearer token on /api/v1
          request.headers.authorization = `Bearer ${request.body.token}`;
          await signIn(request, reply);
          if (reply.sent) return reply;
          const principal = request.principal!;
          const session = sessions.create(principal);
          request.log.info({ principal: principal.name, readOnly: principal.readOnly }, 'signed in to the web UI');
          return reply
            .code(201)
            .header('set-cookie', cookie(request, session.id, Math.floor(sessions.ttlMs / 1000)))
            .header('cache-control', 'no-store')
            .send(sessionView(session));
        },
      );

      app.get('/ui/session', { schema: { hide: true } }, async (request, reply) => {
        const session = current(request);
        if (!session) return unauthorized(reply);
        return reply.header('cache-control', 'no-store').send(sessionView(session));
      });

      app.delete('/ui/session', { schema: { hide: true } }, async (request, reply) => {
        const session = current(request);
        if (!session)
          return reply
            .code(204)
            .header('set-cookie', cookie(request, '', 0))
            .send();
        const sent = request.headers[CSRF_HEADER];
        if (!(typeof sent === 'string' && sameSecret(sent, session.csrf))) {
          return reply.code(403).send({ code: 'SUP_ERR_FORBIDDEN', message: `${CSRF_HEADER}: missing or wrong: signing out needs the session's CSRF token` });
        }
        sessions.delete(readCookie(request.headers.cookie, SESSION_COOKIE)!);
        return reply
          .code(204)
          .header('set-cookie', cookie(request, '', 0))
          .send();
      });
    };
}
