/**
 * The secured connection settings of schema_registry, s3 and spark: `*_file` secrets resolved
 * at load with errors naming key and path, auth conflicts, TLS files checked at load, what a
 * check inherits, redaction, and the S3 client built without static credentials when no keys
 * are given (so the SDK's default credential chain runs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { s3ClientConfig, s3ConnectionSchema } from '../../../checks/object-store';
import { redactConfig } from '../../../src/config/redact';
import { configSchema } from '../../../src/config/schema';
import { resolveCheck, s3ConnectionOptions, schemaRegistryCheckDefaults, schemaRegistryConnection, sparkConnectionOptions } from '../../../src/wiring/check-options';
import { ensureStackTls } from '../../../stack/tls';
import { configIssues, secretFiles } from '../../helpers/config-issues';

const tls = ensureStackTls();
const secret = secretFiles('conn-sec-');
const issues = configIssues;

describe('connections: secrets and TLS', () => {
  it('resolves password_file / token_file / secret_access_key_file / session_token_file, keeping the path', () => {
    const c = configSchema.parse({
      connections: {
        schema_registry: { url: 'https://reg:8443', username: 'u', password_file: secret('reg', 'p@ss'), ca_file: tls.caFile },
        s3: { access_key_id: 'AK', secret_access_key_file: secret('s3', 'SK'), session_token_file: secret('st', 'TOKEN') },
        spark: { master_ui: 'https://spark:8483', username: 'spark', password_file: secret('spark', 'sp') },
      },
    }).connections;
    expect(c.schema_registry).toMatchObject({ username: 'u', password: 'p@ss', password_file: path.join(secret.dir, 'reg'), ca_file: tls.caFile });
    expect(c.s3).toMatchObject({ secret_access_key: 'SK', session_token: 'TOKEN' });
    expect(c.spark.password).toBe('sp');
  });

  it('names the key and the path of a missing secret or TLS file, and refuses conflicting auth', () => {
    const missing = path.join(secret.dir, 'nope');
    expect(issues({ connections: { schema_registry: { username: 'u', password_file: missing } } })).toEqual([
      `connections.schema_registry.password_file: cannot read ${missing} (no such file (ENOENT))`,
    ]);
    expect(issues({ connections: { s3: { ca_file: missing } } })).toEqual([`connections.s3.ca_file: cannot read ${missing} (no such file (ENOENT))`]);
    expect(issues({ connections: { schema_registry: { username: 'u', password: 'p', token: 't' } } })).toEqual([
      'connections.schema_registry.token: basic auth (username/password) and a bearer token are both set: choose one',
    ]);
    expect(issues({ connections: { schema_registry: { token: 't', token_file: secret('t', 't') } } })).toEqual([
      'connections.schema_registry.token: token and token_file are both set: give the secret one way',
    ]);
    expect(issues({ connections: { s3: { access_key_id: 'AK' } } })[0]).toMatch(/^connections\.s3\.secret_access_key: access_key_id and secret_access_key go together/);
    expect(issues({ connections: { s3: { session_token: 'x' } } })).toEqual(['connections.s3.session_token: session_token needs access_key_id and secret_access_key']);
    expect(issues({ connections: { spark: { password: 'p' } } })).toEqual(['connections.spark.username: password is set without username']);
  });

  it('a check inherits auth, headers and TLS; its own auth kind replaces the inherited one; check-level *_file works', () => {
    const config = configSchema.parse({
      connections: {
        schema_registry: { url: 'https://reg:8443', username: 'u', password: 'p', ca_file: tls.caFile, headers: { 'X-Tenant': 'a' } },
        spark: { master_ui: 'https://spark:8483', username: 's', password: 'sp', ca_file: tls.caFile, headers: { 'X-Api-Key': 'k' } },
        s3: { endpoint: 'https://s3:9443', ca_file: tls.caFile },
      },
    });
    const reg = resolveCheck('r', { kind: 'schema_registry', enabled: true }, config.connections).check!.options;
    expect(reg).toMatchObject({ url: 'https://reg:8443', auth: { username: 'u', password: 'p' }, caFile: tls.caFile, headers: { 'X-Tenant': 'a' } });
    const own = resolveCheck('r', { kind: 'schema_registry', enabled: true, token_file: secret('own', 'tok') } as never, config.connections);
    expect(own.issues).toEqual([]);
    expect(own.check!.options).toMatchObject({ token: 'tok', caFile: tls.caFile });
    expect((own.check!.options as { auth?: unknown }).auth).toBeUndefined();
    const spark = resolveCheck('s', { kind: 'spark', enabled: true, driver: { headers: { 'X-Api-Key': 'drv' } } } as never, config.connections).check!.options;
    expect(spark).toMatchObject({
      masterUrl: 'https://spark:8483',
      auth: { username: 's', password: 'sp' },
      caFile: tls.caFile,
      headers: { 'X-Api-Key': 'k' },
      driver: { headers: { 'X-Api-Key': 'drv' } },
    });
    const delta = resolveCheck('d', { kind: 'delta_freshness', enabled: true, path: 's3a://bucket/t', max_age: '30m' } as never, config.connections).check!.options as {
      s3: Record<string, unknown>;
    };
    expect(delta.s3).toMatchObject({ endpoint: 'https://s3:9443', caFile: tls.caFile });
    expect(delta.s3.accessKeyId).toBeUndefined();
    const missing = resolveCheck('r', { kind: 'schema_registry', enabled: true, token_file: path.join(secret.dir, 'none') } as never, config.connections);
    expect(missing.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([`token_file: cannot read ${path.join(secret.dir, 'none')} (no such file (ENOENT))`]);
    expect(schemaRegistryConnection(config.connections)).toMatchObject({
      url: 'https://reg:8443',
      auth: { username: 'u', password: 'p' },
      tls: { caFile: tls.caFile },
      headers: { 'X-Tenant': 'a' },
    });
  });

  it('config show redacts every secret and header value, shows *_file paths', () => {
    const shown = redactConfig({
      connections: {
        schema_registry: {
          url: 'https://reg',
          username: 'u',
          password: 'p',
          password_file: '/run/secrets/reg',
          token: 't',
          headers: { 'X-Api-Key': 'k', 'X-Tenant': 'secret-tenant' },
        },
        s3: { access_key_id: 'AK', secret_access_key: 'SK', session_token: 'ST', session_token_file: '/run/st', ca_file: '/etc/ca.pem', key_password: 'kp' },
        spark: { password: 'sp', headers: { Authorization: 'Bearer x' } },
      },
    }) as { connections: Record<string, Record<string, unknown>> };
    expect(shown.connections.schema_registry).toEqual({
      url: 'https://reg',
      username: 'u',
      password: '[redacted]',
      password_file: '/run/secrets/reg',
      token: '[redacted]',
      headers: { 'X-Api-Key': '[redacted]', 'X-Tenant': '[redacted]' },
    });
    expect(shown.connections.s3).toEqual({
      access_key_id: '[redacted]',
      secret_access_key: '[redacted]',
      session_token: '[redacted]',
      session_token_file: '/run/st',
      ca_file: '/etc/ca.pem',
      key_password: '[redacted]',
    });
    expect(shown.connections.spark).toEqual({ password: '[redacted]', headers: { Authorization: '[redacted]' } });
  });
});

describe('S3 client configuration', () => {
  it('no keys: no static credentials, so the SDK default credential chain (env, profile, web identity, ECS, IMDS) runs', () => {
    const cfg = s3ClientConfig(s3ConnectionSchema.parse({ region: 'eu-west-1' }));
    expect(cfg).not.toHaveProperty('credentials');
    expect(cfg).not.toHaveProperty('requestHandler');
    expect(cfg.region).toBe('eu-west-1');
  });

  it('keys and a session token become static credentials; ca_file an HTTPS agent trusting it', () => {
    const cfg = s3ClientConfig(s3ConnectionSchema.parse({ accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'ST', caFile: tls.caFile, endpoint: 'https://127.0.0.1:9443' }));
    expect(cfg.credentials).toEqual({ accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'ST' });
    const agent = (cfg.requestHandler as { httpsAgent: { options: { ca: Buffer[] } } }).httpsAgent;
    expect(agent.options.ca).toEqual([fs.readFileSync(tls.caFile)]);
    expect(s3ConnectionSchema.safeParse({ sessionToken: 'ST' }).success).toBe(false);
  });
});

describe('task operators take the same connections', () => {
  it('spark_job and schema_registry operators get auth, headers and TLS; data_freshness the S3 TLS and no forced keys', () => {
    const c = configSchema.parse({
      connections: {
        schema_registry: { url: 'https://reg:8444', token: 'tok', ca_file: tls.caFile },
        spark: { master_ui: 'https://spark:8483', username: 's', password: 'sp', ca_file: tls.caFile },
        s3: { endpoint: 'https://s3:9443', ca_file: tls.caFile },
      },
    }).connections;
    expect(sparkConnectionOptions(c)).toEqual({ auth: { username: 's', password: 'sp' }, caFile: tls.caFile });
    expect(schemaRegistryCheckDefaults(c)).toEqual({ url: 'https://reg:8444', token: 'tok', caFile: tls.caFile });
    expect(s3ConnectionOptions(c)).toEqual({ endpoint: 'https://s3:9443', region: 'us-east-1', forcePathStyle: true, caFile: tls.caFile });
  });
});
