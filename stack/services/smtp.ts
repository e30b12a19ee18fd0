/**
 * SMTP sink (stack/smtp-sink.ts, a small Node service on the `smtp-server` package): accepts any
 * mail and keeps it as JSON where tests read it (HTTP API, see that file).
 */
import * as path from 'node:path';
import { endpoints, ports } from '../endpoints';
import { REPO_ROOT } from '../paths';
import { httpOk } from '../probes';
import type { ServiceDef } from './types';

export const smtp: ServiceDef = {
  name: 'smtp',
  description: 'SMTP sink (stores received mail as JSON)',
  ports: () => [
    { name: 'smtp', port: ports.smtp },
    { name: 'api', port: ports.smtpApi },
  ],
  endpoints: () => ({ smtp: `${endpoints.smtpHost}:${endpoints.smtpPort}`, api: `${endpoints.smtpApiUrl}/api/messages` }),
  readyTimeoutMs: 30_000,
  async install() {
    /* npm dependencies only (installed by stack/bootstrap.cjs) */
  },
  command: () => ({
    command: process.execPath,
    args: ['--import', 'tsx', path.join(REPO_ROOT, 'stack', 'smtp-sink.ts')],
    cwd: REPO_ROOT,
  }),
  ready: () => httpOk(`${endpoints.smtpApiUrl}/api/health`),
};
