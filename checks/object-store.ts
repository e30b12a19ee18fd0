/**
 * A tiny object-store abstraction over S3 (any S3-compatible server) and a local directory,
 * scoped to one root (an S3 bucket + key prefix, or a directory). The Delta log reader only
 * needs three operations — GET an object, ListObjectsV2 with StartAfter, and a request count —
 * so both back ends implement exactly the same semantics (lexicographic key order, at most
 * `maxKeys` keys per page, `truncated` when more exist).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as https from 'node:https';
import { GetObjectCommand, ListObjectsV2Command, S3Client, S3ServiceException, type S3ClientConfig } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { SupervisorError } from '../src/protocol';
import { describeTlsError, hasTlsSettings, hostPortOf, pickTlsSettings, readTlsFiles, tlsSettingsShape } from '../src/shared/tls';

/** Where a table (or any object tree) lives. */
export type StoreLocation = { kind: 's3'; bucket: string; prefix: string; url: string } | { kind: 'local'; dir: string; url: string };

export interface StoredObject {
  body: Buffer;
  /** Epoch ms (S3 LastModified, or the file's mtime). */
  lastModified: number;
}

export interface ListedObject {
  /** Key relative to the store root. */
  key: string;
  lastModified: number;
  size: number;
}

export interface ListPage {
  objects: ListedObject[];
  /** "Sub-folders" collapsed by the `/` delimiter (relative keys ending in `/`). */
  commonPrefixes: string[];
  truncated: boolean;
}

export interface ListParams {
  /** Relative key prefix, e.g. `_delta_log/`. */
  prefix: string;
  /** Relative key; only keys strictly greater are returned. */
  startAfter?: string;
  /** 1..1000, default 1000 (the S3 page size). */
  maxKeys?: number;
}

export interface ObjectStore {
  readonly location: StoreLocation;
  /** Returns null when the object does not exist (404 / ENOENT). */
  get(key: string, signal?: AbortSignal): Promise<StoredObject | null>;
  /** One ListObjectsV2 page with `Delimiter: '/'`. */
  list(params: ListParams, signal?: AbortSignal): Promise<ListPage>;
  /** Requests sent since creation (every HTTP attempt for S3, every fs call for local). */
  requestCount(): number;
  close(): Promise<void>;
}

/** S3 connection options, shared by every check that reads S3. */
export const s3ConnectionSchema = z
  .strictObject({
    /** e.g. http://127.0.0.1:9000; omit for AWS. */
    endpoint: z.url().optional(),
    region: z.string().min(1).default('us-east-1'),
    accessKeyId: z.string().min(1).optional(),
    secretAccessKey: z.string().min(1).optional(),
    sessionToken: z.string().min(1).optional(),
    forcePathStyle: z.boolean().default(true),
    /** HTTP attempts per request (1 = no SDK retries; the scheduler retries checks). */
    maxAttempts: z.number().int().min(1).max(10).default(2),
    /** TLS: `caFile` (a private CA), `certFile`/`keyFile`/`keyPassword`, `servername`, `rejectUnauthorized`. */
    ...tlsSettingsShape,
  })
  .refine((o) => (o.accessKeyId === undefined) === (o.secretAccessKey === undefined), {
    message: 'accessKeyId and secretAccessKey must be given together (or neither, for the default credential chain)',
  })
  .refine((o) => o.sessionToken === undefined || o.accessKeyId !== undefined, {
    message: 'sessionToken needs accessKeyId and secretAccessKey',
    path: ['sessionToken'],
  });

export type S3ConnectionOptions = z.output<typeof s3ConnectionSchema>;
export type S3ConnectionInput = z.input<typeof s3ConnectionSchema>;

/**
 * Parses `s3a://bucket/prefix`, `s3://bucket/prefix`, `file:///dir` or a plain path (relative
 * paths resolve against the working directory). Trailing slashes are dropped.
 */
export function parseStoreLocation(raw: string): StoreLocation {
  const input = raw.trim();
  if (input === '') throw new SupervisorError('SUP_ERR_CONFIG_INVALID', 'table path is empty');
  const s3 = /^s3a?:\/\/([^/]*)\/?(.*)$/i.exec(input);
  if (s3) {
    const bucket = s3[1] ?? '';
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `"${bucket}" is not a valid S3 bucket name`, { where: input });
    }
    const prefix = (s3[2] ?? '').replace(/\/+$/, '');
    return { kind: 's3', bucket, prefix, url: `s3://${bucket}${prefix ? `/${prefix}` : ''}` };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input) && !/^file:\/\//i.test(input)) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', 'unsupported table URL scheme (use s3a://, s3://, file:// or a path)', {
      where: input,
    });
  }
  let dir = input;
  if (/^file:\/\//i.test(input)) {
    try {
      dir = decodeURIComponent(new URL(input).pathname);
    } catch {
      throw new SupervisorError('SUP_ERR_CONFIG_INVALID', 'invalid file:// URL', { where: input });
    }
  }
  dir = path.resolve(dir);
  return { kind: 'local', dir, url: dir };
}

// ---------------------------------------------------------------------------------------
// S3

export interface S3StoreParams {
  location: Extract<StoreLocation, { kind: 's3' }>;
  connection: S3ConnectionOptions;
}

/**
 * The S3 client's configuration. Static `credentials` only when keys are given: otherwise the
 * SDK's default credential chain runs (environment, shared config/credentials files and
 * AWS_PROFILE, web identity token, ECS container credentials, EC2 instance metadata). TLS files
 * go into the HTTPS agent of the SDK's Node handler.
 */
export function s3ClientConfig(connection: S3ConnectionOptions, where = 's3'): S3ClientConfig {
  const tls = pickTlsSettings(connection);
  return {
    region: connection.region,
    ...(connection.endpoint !== undefined ? { endpoint: connection.endpoint } : {}),
    forcePathStyle: connection.forcePathStyle,
    maxAttempts: connection.maxAttempts,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(connection.accessKeyId !== undefined && connection.secretAccessKey !== undefined
      ? {
          credentials: {
            accessKeyId: connection.accessKeyId,
            secretAccessKey: connection.secretAccessKey,
            ...(connection.sessionToken !== undefined ? { sessionToken: connection.sessionToken } : {}),
          },
        }
      : {}),
    ...(hasTlsSettings(tls) ? { requestHandler: { httpsAgent: new https.Agent({ keepAlive: true, ...readTlsFiles(tls, where) }) } } : {}),
  };
}

export function createS3ObjectStore(params: S3StoreParams): ObjectStore {
  const { location, connection } = params;
  const client = new S3Client(s3ClientConfig(connection));
  const host = connection.endpoint !== undefined ? hostPortOf(connection.endpoint) : `s3.${connection.region}.amazonaws.com:443`;
  let requests = 0;
  // The deserialize step runs inside the retry middleware: this counts every HTTP attempt.
  client.middlewareStack.add(
    (next) => async (args) => {
      requests += 1;
      return next(args);
    },
    { step: 'deserialize', name: 'supervisorRequestCounter' },
  );
  const base = location.prefix ? `${location.prefix}/` : '';
  const where = (key: string): string => `s3://${location.bucket}/${base}${key}`;
  let closed = false;

  return {
    location,
    async get(key, signal) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: base + key }), {
          ...(signal ? { abortSignal: signal } : {}),
        });
        const bytes = out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
        return { body: Buffer.from(bytes), lastModified: out.LastModified?.getTime() ?? Number.NaN };
      } catch (err) {
        if (isS3NotFound(err, 'NoSuchKey')) return null;
        throw s3Error(err, 'GetObject', where(key), host);
      }
    },
    async list(p, signal) {
      try {
        const out = await client.send(
          new ListObjectsV2Command({
            Bucket: location.bucket,
            Prefix: base + p.prefix,
            Delimiter: '/',
            MaxKeys: p.maxKeys ?? 1000,
            ...(p.startAfter !== undefined ? { StartAfter: base + p.startAfter } : {}),
          }),
          { ...(signal ? { abortSignal: signal } : {}) },
        );
        const objects: ListedObject[] = (out.Contents ?? []).flatMap((o) =>
          o.Key === undefined ? [] : [{ key: o.Key.slice(base.length), lastModified: o.LastModified?.getTime() ?? Number.NaN, size: o.Size ?? 0 }],
        );
        const commonPrefixes = (out.CommonPrefixes ?? []).flatMap((c) => (c.Prefix ? [c.Prefix.slice(base.length)] : []));
        return { objects, commonPrefixes, truncated: out.IsTruncated === true };
      } catch (err) {
        throw s3Error(err, 'ListObjectsV2', where(p.prefix), host);
      }
    },
    requestCount: () => requests,
    close() {
      if (!closed) {
        closed = true;
        client.destroy(); // with the HTTPS agent of ca_file
      }
      return Promise.resolve();
    },
  };
}

/** True for a 404-style answer (NoSuchKey, NotFound, or NoSuchBucket when asked). */
export function isS3NotFound(err: unknown, ...names: string[]): boolean {
  if (!(err instanceof Error)) return false;
  const status = err instanceof S3ServiceException ? err.$metadata?.httpStatusCode : undefined;
  if (names.includes(err.name)) return true;
  return names.includes('NoSuchKey') && (err.name === 'NotFound' || (status === 404 && err.name !== 'NoSuchBucket'));
}

function s3Error(err: unknown, op: string, where: string, host: string): Error {
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) return err;
  const tls = describeTlsError(err, host);
  if (tls) return new SupervisorError('SUP_ERR_S3', `${op}: ${tls}`, { where, cause: err });
  if (isS3NotFound(err, 'NoSuchBucket')) {
    return new SupervisorError('SUP_ERR_DELTA_TABLE_MISSING', `${op}: the bucket does not exist`, { where, cause: err });
  }
  const name = err instanceof Error ? err.name : 'Error';
  const status = err instanceof S3ServiceException ? err.$metadata?.httpStatusCode : undefined;
  const msg = err instanceof Error ? err.message || name : String(err);
  const code = (err as { code?: string } | null)?.code;
  return new SupervisorError('SUP_ERR_S3', `${op} failed: ${name}${status !== undefined ? ` (HTTP ${status})` : ''}${code && code !== name ? ` ${code}` : ''}: ${msg}`, {
    where,
    cause: err,
  });
}

// ---------------------------------------------------------------------------------------
// Local directory

export function createLocalObjectStore(params: { location: Extract<StoreLocation, { kind: 'local' }> }): ObjectStore {
  const { location } = params;
  let requests = 0;
  const abs = (key: string): string => path.join(location.dir, ...key.split('/'));
  const checkAbort = (signal?: AbortSignal): void => {
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
  };
  return {
    location,
    async get(key, signal) {
      checkAbort(signal);
      requests += 1;
      const file = abs(key);
      try {
        const [body, stat] = await Promise.all([fs.readFile(file, signal ? { signal } : {}), fs.stat(file)]);
        return { body, lastModified: Math.round(stat.mtimeMs) };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return null;
        if (err instanceof Error && err.name === 'AbortError') throw err;
        throw new SupervisorError('SUP_ERR_PROBE_FAILED', `cannot read file: ${(err as Error).message}`, { where: file, cause: err });
      }
    },
    async list(p, signal) {
      checkAbort(signal);
      requests += 1;
      const slash = p.prefix.lastIndexOf('/');
      const dirKey = slash >= 0 ? p.prefix.slice(0, slash + 1) : '';
      const namePrefix = p.prefix.slice(slash + 1);
      const dir = abs(dirKey);
      let entries: import('node:fs').Dirent[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return { objects: [], commonPrefixes: [], truncated: false };
        throw new SupervisorError('SUP_ERR_PROBE_FAILED', `cannot list directory: ${(err as Error).message}`, { where: dir, cause: err });
      }
      const maxKeys = p.maxKeys ?? 1000;
      const keys = entries
        .filter((e) => e.name.startsWith(namePrefix))
        .map((e) => ({ key: dirKey + e.name + (e.isDirectory() ? '/' : ''), dir: e.isDirectory() }))
        .filter((e) => p.startAfter === undefined || e.key > p.startAfter)
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const page = keys.slice(0, maxKeys);
      const objects: ListedObject[] = [];
      const commonPrefixes: string[] = [];
      // S3 reports size and LastModified with the listing; a stat per listed file is what the
      // file system needs to do the same (not counted as requests: one directory read).
      await Promise.all(
        page.map(async (e) => {
          if (e.dir) {
            commonPrefixes.push(e.key);
            return;
          }
          try {
            const st = await fs.stat(abs(e.key));
            objects.push({ key: e.key, lastModified: Math.round(st.mtimeMs), size: st.size });
          } catch {
            // vanished between readdir and stat: skip like a listing taken a moment later
          }
        }),
      );
      objects.sort((a, b) => (a.key < b.key ? -1 : 1));
      commonPrefixes.sort();
      return { objects, commonPrefixes, truncated: keys.length > maxKeys };
    },
    requestCount: () => requests,
    async close() {
      /* nothing held */
    },
  };
}

/** Builds the store for a location: S3 needs connection options (defaults apply). */
export function createObjectStore(location: StoreLocation, connection?: S3ConnectionOptions): ObjectStore {
  if (location.kind === 'local') return createLocalObjectStore({ location });
  return createS3ObjectStore({ location, connection: connection ?? s3ConnectionSchema.parse({}) });
}
