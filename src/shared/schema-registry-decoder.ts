/**
 * The schema registry as a client sees it, shared by the schema_registry check and the offsets
 * trigger's decoder: one connection definition (URL, basic auth or a bearer token, extra
 * headers, TLS files), the request headers it implies, the plain sentences for 401/403 and TLS
 * failures, and Confluent wire-format decoding through @kafkajs/confluent-schema-registry.
 *
 * The registry client is loaded on the first decode: it brings avsc, protobufjs and ajv
 * (~7 MB of memory), which a supervisor that never decodes a record should not pay for.
 */
import * as https from 'node:https';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { SupervisorError, describeError, type SchemaRegistryDecoder } from '../protocol';
import { describeTlsError, hasTlsSettings, hostPortOf, readTlsFiles, type TlsSettings } from './tls';

export type { SchemaRegistryDecoder } from '../protocol';

/** How to reach the registry (check options and `connections.schema_registry` both map to it). */
export interface SchemaRegistryConnection {
  /** Base URL of the Confluent-compatible API, e.g. https://registry:8443/apis/ccompat/v7 */
  url: string;
  /** HTTP basic auth. */
  auth?: { username: string; password: string } | undefined;
  /** Bearer token (not together with `auth`). */
  token?: string | undefined;
  /** Extra request headers (an API key a proxy wants, a tenant header). */
  headers?: Readonly<Record<string, string>> | undefined;
  /** CA / client certificate files, read when the client is built. */
  tls?: TlsSettings | undefined;
  /** Names the settings in errors, e.g. `connections.schema_registry`. */
  where?: string | undefined;
}

/** The headers every registry request carries: the extra headers, then basic or bearer auth. */
export function registryHeaders(conn: SchemaRegistryConnection): Record<string, string> {
  if (conn.auth && conn.token !== undefined) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `${conn.where ? `${conn.where}: ` : ''}basic auth (username/password) and a bearer token are both set: choose one`, {
      ...(conn.where ? { where: conn.where } : {}),
    });
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(conn.headers ?? {})) out[k.toLowerCase()] = v;
  if (conn.auth) out.authorization = `Basic ${Buffer.from(`${conn.auth.username}:${conn.auth.password}`).toString('base64')}`;
  else if (conn.token !== undefined) out.authorization = `Bearer ${conn.token}`;
  return out;
}

/**
 * The sentence for a registry answer that is not a success, or null for other statuses:
 * 401 names refused credentials, 403 missing permission.
 */
export function registryAuthProblem(status: number, url: string, method = 'GET'): string | null {
  if (status === 401) return `schema registry refused the credentials: 401 Unauthorized from ${url} (check username/password or token)`;
  if (status === 403) return `schema registry refused the request: 403 Forbidden: the credentials lack permission for ${method} ${url}`;
  return null;
}

/** A TLS failure reaching the registry at `url`, as describeTlsError words it; null when not TLS. */
export function registryTlsProblem(err: unknown, url: string): string | null {
  return describeTlsError(err, hostPortOf(url));
}

/** Accepts the older `(host, auth)` call too. */
export function lazySchemaRegistryDecoder(conn: string | SchemaRegistryConnection, auth?: { username: string; password: string }): SchemaRegistryDecoder {
  const connection: SchemaRegistryConnection = typeof conn === 'string' ? { url: conn, ...(auth ? { auth } : {}) } : conn;
  const host = connection.url.replace(/\/+$/, '');
  let client: SchemaRegistry | undefined;
  return {
    decode: async (buffer) => {
      if (!client) {
        // built again after a failure (an unreadable CA file is retried, not remembered)
        const headers = registryHeaders(connection);
        const agent =
          host.startsWith('https:') && hasTlsSettings(connection.tls) ? new https.Agent({ keepAlive: true, ...readTlsFiles(connection.tls!, connection.where ?? '') }) : undefined;
        const { SchemaRegistry: Client } = await import('@kafkajs/confluent-schema-registry');
        const headerMiddleware = () => ({
          prepareRequest: (next: () => Promise<{ enhance(r: { headers: Record<string, string> }): unknown }>) => next().then((req) => req.enhance({ headers })),
        });
        client ??= new Client({
          host,
          ...(agent ? { agent } : {}),
          ...(Object.keys(headers).length > 0 ? { middlewares: [headerMiddleware as never] } : {}),
        });
      }
      try {
        const decoded: unknown = await client.decode(buffer);
        return decoded;
      } catch (err) {
        throw decodeError(err, host);
      }
    },
  };
}

/** The registry client's errors (mappersmith ResponseError: `status`, `url`) in plain words. */
function decodeError(err: unknown, host: string): Error {
  if (err instanceof SupervisorError) return err;
  const e = err as { status?: number; url?: string } | null;
  const url = typeof e?.url === 'string' ? e.url.replace(/^[a-z]+ /i, '') : host;
  const auth = typeof e?.status === 'number' ? registryAuthProblem(e.status, url) : null;
  if (auth) return new SupervisorError('SUP_ERR_SCHEMA_REGISTRY', auth, { where: url, cause: err });
  const tls = registryTlsProblem(err, host);
  if (tls) return new SupervisorError('SUP_ERR_SCHEMA_REGISTRY', tls, { where: host, cause: err });
  if (err instanceof Error && err.name !== 'ResponseError') return err; // a schema problem (bad magic byte, Avro): as the client says
  return new SupervisorError('SUP_ERR_SCHEMA_REGISTRY', `schema registry request failed: ${describeError(err).message}`, { where: url, cause: err });
}
