/**
 * OAuth 2.0 token endpoint for Kafka's SASL/OAUTHBEARER (stack/oidc-server.ts, a small Node
 * service): client credentials in, unsecured JWTs out.
 */
import * as path from 'node:path';
import { endpoints, ports, secured } from '../endpoints';
import { REPO_ROOT } from '../paths';
import { httpOk } from '../probes';
import type { ServiceDef } from './types';

export const oidc: ServiceDef = {
  name: 'oidc',
  description: 'OAuth 2.0 token endpoint (client credentials, for SASL/OAUTHBEARER)',
  ports: () => [{ name: 'http', port: ports.oidc }],
  endpoints: () => ({ token: endpoints.oidcTokenUrl, client: `${secured.oidcClientId} / ${secured.oidcClientSecret}` }),
  readyTimeoutMs: 30_000,
  async install() {
    /* npm dependencies only */
  },
  command: () => ({
    command: process.execPath,
    args: ['--import', 'tsx', path.join(REPO_ROOT, 'stack', 'oidc-server.ts')],
    cwd: REPO_ROOT,
  }),
  ready: () => httpOk(`${endpoints.oidcTokenUrl.replace(/\/token$/, '')}/api/health`),
};
