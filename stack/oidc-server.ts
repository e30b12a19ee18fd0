/**
 * OAuth 2.0 token endpoint of the local stack, for Kafka's SASL/OAUTHBEARER: the client
 * credentials grant (RFC 6749 §4.4) with the client authenticated by HTTP Basic
 * (client_secret_basic) or form fields (client_secret_post). Tokens are unsecured JWTs
 * (`alg: none`), which the broker's unsecured validator accepts after checking expiry, subject
 * and the `kafka` scope — production brokers check a signature too; the client side is the same.
 *   POST /token[?lifetime=SECONDS]   form: grant_type=client_credentials[&scope=…]
 *   GET  /.well-known/openid-configuration
 *   GET  /api/stats                  {"issued":N,"refused":N}: what tests check refreshes with
 *   GET  /api/health
 * Run by the stack manager (`npm run stack -- up oidc`).
 */
import { timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import { HOST, ports, secured } from './endpoints';

const DEFAULT_LIFETIME_S = Number(process.env.STACK_OIDC_TOKEN_SECONDS ?? 300);
const stats = { issued: 0, refused: 0 };

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const same = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

function clientOf(req: http.IncomingMessage, form: URLSearchParams): { id: string; secret: string } | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  }
  const id = form.get('client_id');
  const secret = form.get('client_secret');
  return id !== null && secret !== null ? { id, secret } : undefined;
}

function token(req: http.IncomingMessage, res: http.ServerResponse, body: string, url: URL): void {
  const form = new URLSearchParams(body);
  if (form.get('grant_type') !== 'client_credentials') {
    stats.refused += 1;
    return send(res, 400, { error: 'unsupported_grant_type', error_description: 'only client_credentials is supported' });
  }
  const client = clientOf(req, form);
  if (!client || !same(client.id, secured.oidcClientId) || !same(client.secret, secured.oidcClientSecret)) {
    stats.refused += 1;
    return send(res, 401, { error: 'invalid_client', error_description: 'unknown client or wrong secret' }, { 'www-authenticate': 'Basic realm="stack-oidc"' });
  }
  const lifetime = Math.max(1, Math.min(86_400, Number(url.searchParams.get('lifetime') ?? DEFAULT_LIFETIME_S) || DEFAULT_LIFETIME_S));
  const now = Math.floor(Date.now() / 1000);
  const scope = form.get('scope') ?? 'kafka';
  const accessToken = `${b64url({ alg: 'none' })}.${b64url({ sub: client.id, iat: now, exp: now + lifetime, scope })}.`;
  stats.issued += 1;
  send(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: lifetime, scope });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', `http://${HOST}`);
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
    if (body.length > 16_384) req.destroy();
  });
  req.on('end', () => {
    if (req.method === 'POST' && url.pathname === '/token') return token(req, res, body, url);
    if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      const base = `http://${HOST}:${ports.oidc}`;
      return send(res, 200, {
        issuer: base,
        token_endpoint: `${base}/token`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      });
    }
    if (req.method === 'GET' && url.pathname === '/api/stats') return send(res, 200, stats);
    if (req.method === 'GET' && url.pathname === '/api/health') return send(res, 200, { ok: true });
    send(res, 404, { error: 'not_found' });
  });
});

server.listen(ports.oidc, HOST, () => process.stdout.write(`oidc token endpoint on http://${HOST}:${ports.oidc}/token\n`));
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => server.close(() => process.exit(0)));
