/**
 * The one Kafka connection definition (src/shared/kafka-connection.ts): `connections.kafka`
 * validated and mapped, files and secrets read once, the OAUTHBEARER token cache and its
 * refresh, the error sentences, `kafkaEnvFor` and its reverse, and redaction of the new keys.
 */
import { redactConfig } from '../../../src/config/redact';
import { configSchema } from '../../../src/config/schema';
import { SupervisorError } from '../../../src/protocol';
import {
  createOAuthTokenSource,
  describeKafkaError,
  kafkaEnvFor,
  kafkaSettingsFromEnv,
  refreshMarginMs,
  resolveKafkaConnection,
  type TokenFetcher,
} from '../../../src/shared/kafka-connection';
import { kafkaConnectionSettings, resolveCheck } from '../../../src/wiring/check-options';
import { ensureStackTls } from '../../../stack/tls';
import { describeTlsError } from '../../../src/shared/tls';
import { configIssues, secretFiles } from '../../helpers/config-issues';

const tls = ensureStackTls();
const secretFile = secretFiles('kafka-conn-');
const issues = configIssues;
const kafkaOf = (kafka: unknown) => configSchema.parse({ connections: { kafka } }).connections;

describe('connections.kafka', () => {
  it('takes ssl files and SCRAM credentials from a file, and hands them to the Kafka checks', () => {
    const c = kafkaOf({
      brokers: 'b1:9095,b2:9095',
      ssl: { ca_file: tls.caFile, servername: 'localhost' },
      sasl: { mechanism: 'scram-sha-512', username: 'supervisor', password_file: secretFile('pw', 'from-file') },
    });
    const settings = kafkaConnectionSettings(c);
    expect(settings).toMatchObject({
      brokers: ['b1:9095', 'b2:9095'],
      ssl: { caFile: tls.caFile, servername: 'localhost' },
      sasl: { mechanism: 'scram-sha-512', username: 'supervisor', password: 'from-file' },
    });
    expect(settings.sasl).not.toHaveProperty('passwordFile');
    const check = resolveCheck('kafka', { kind: 'kafka_cluster', enabled: true } as never, c).check!;
    expect(check.options).toMatchObject({ brokers: ['b1:9095', 'b2:9095'], ssl: { caFile: tls.caFile }, sasl: { mechanism: 'scram-sha-512', password: 'from-file' } });
  });

  it("the schema_registry check's record sampling inherits connections.kafka (its own keys win)", () => {
    const c = kafkaOf({ brokers: 'b1:9095', ssl: { ca_file: tls.caFile }, sasl: { mechanism: 'scram-sha-512', username: 'supervisor', password: 'pw' } });
    const reg = { kind: 'schema_registry', enabled: true, url: 'https://registry:8081', freshness: { topic: 't', field: 'ts', max_age: '10m' } };
    const { check, issues: found } = resolveCheck('reg', reg as never, c);
    expect(found).toEqual([]);
    expect((check!.options as { freshness: object }).freshness).toMatchObject({
      brokers: ['b1:9095'],
      ssl: { caFile: tls.caFile },
      sasl: { mechanism: 'scram-sha-512', password: 'pw' },
      topic: 't',
    });
    const own = resolveCheck('reg', { ...reg, freshness: { ...reg.freshness, brokers: 'other:9092' } } as never, c).check!;
    expect((own.options as { freshness: { brokers: string[] } }).freshness.brokers).toEqual(['other:9092']);
    // a registry check without sampling gets no Kafka settings at all
    expect(resolveCheck('reg', { kind: 'schema_registry', enabled: true, url: 'https://registry:8081' } as never, c).check!.options).not.toHaveProperty('freshness');
  });

  it("a check's own sasl replaces the inherited one whole", () => {
    const c = kafkaOf({ sasl: { mechanism: 'plain', username: 'u', password: 'p' } });
    const own = { kind: 'kafka_cluster', enabled: true, sasl: { mechanism: 'oauthbearer', token_endpoint_url: 'https://idp/token', client_id: 'c', client_secret: 's' } };
    const { check, issues: found } = resolveCheck('kafka', own as never, c);
    expect(found).toEqual([]);
    expect(check!.options).toMatchObject({ sasl: { mechanism: 'oauthbearer', tokenEndpointUrl: 'https://idp/token' } });
    expect((check!.options as { sasl: object }).sasl).not.toHaveProperty('username');
  });

  it('names what each mechanism misses or does not take, and missing files', () => {
    expect(issues({ connections: { kafka: { sasl: { mechanism: 'scram-sha-256', username: 'u' } } } })).toEqual([
      'connections.kafka.sasl.password: scram-sha-256 needs password (or password_file)',
    ]);
    expect(issues({ connections: { kafka: { sasl: { mechanism: 'oauthbearer', client_id: 'c', client_secret: 's', username: 'u' } } } })).toEqual([
      'connections.kafka.sasl.token_endpoint_url: oauthbearer needs token_endpoint_url (the OIDC token endpoint)',
      'connections.kafka.sasl.username: username is not used with oauthbearer (it takes client_id and client_secret)',
    ]);
    expect(issues({ connections: { kafka: { sasl: { mechanism: 'plain', username: 'u', password: 'p', scope: 'kafka' } } } })).toEqual([
      'connections.kafka.sasl.scope: scope is only used with mechanism oauthbearer',
    ]);
    expect(issues({ connections: { kafka: { sasl: { mechanism: 'plain', username: 'u', password_file: '/nonexistent/pw' } } } })).toEqual([
      'connections.kafka.sasl.password_file: cannot read /nonexistent/pw (no such file (ENOENT))',
    ]);
    expect(issues({ connections: { kafka: { ssl: { ca_file: '/nonexistent/ca.pem' } } } })).toEqual([
      'connections.kafka.ssl.ca_file: cannot read /nonexistent/ca.pem (no such file (ENOENT))',
    ]);
    expect(issues({ connections: { kafka: { sasl: { mechanism: 'gssapi', username: 'u', password: 'p' } } } })[0]).toMatch(/^connections\.kafka\.sasl\.mechanism/);
  });

  it('resolves the files once: TLS options for kafkajs, an encrypted key opened with key_password', () => {
    const conn = resolveKafkaConnection({
      brokers: ['127.0.0.1:9096'],
      ssl: { caFile: tls.caFile, certFile: tls.clientCertFile, keyFile: tls.clientKeyEncryptedFile, keyPassword: tls.clientKeyPassword },
    });
    expect(conn.ssl).toMatchObject({ passphrase: tls.clientKeyPassword });
    expect(Buffer.isBuffer((conn.ssl as { cert: Buffer }).cert)).toBe(true);
    expect(() =>
      resolveKafkaConnection({ brokers: ['b:1'], ssl: { caFile: tls.caFile, certFile: tls.clientCertFile, keyFile: tls.clientKeyEncryptedFile, keyPassword: 'wrong' } }),
    ).toThrow(/connections\.kafka\.ssl\.key_file: .*cannot be decrypted with key_password/);
  });

  it('redacts passwords, client secrets and key passwords but shows the token endpoint and the file paths', () => {
    const shown = redactConfig({
      connections: {
        kafka: {
          ssl: { ca_file: '/etc/ca.pem', key_password: 'kp', key_password_file: '/run/kp' },
          sasl: { mechanism: 'oauthbearer', token_endpoint_url: 'https://idp.example/token', client_id: 'sup', client_secret: 'cs', client_secret_file: '/run/cs', scope: 'kafka' },
        },
        other: { sasl: { mechanism: 'plain', username: 'u', password: 'pw' } },
      },
    }) as { connections: { kafka: { ssl: Record<string, unknown>; sasl: Record<string, unknown> }; other: { sasl: Record<string, unknown> } } };
    expect(shown.connections.kafka.ssl).toEqual({ ca_file: '/etc/ca.pem', key_password: '[redacted]', key_password_file: '/run/kp' });
    expect(shown.connections.kafka.sasl).toMatchObject({
      token_endpoint_url: 'https://idp.example/token',
      client_id: 'sup',
      client_secret: '[redacted]',
      client_secret_file: '/run/cs',
      scope: 'kafka',
    });
    expect(shown.connections.other.sasl.password).toBe('[redacted]');
  });
});

describe('kafkaEnvFor', () => {
  it('PLAINTEXT with only brokers', () => {
    expect(kafkaEnvFor({ brokers: ['a:9092', 'b:9092'] })).toEqual({ KAFKA_BOOTSTRAP_SERVERS: 'a:9092,b:9092', KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT' });
  });

  it('SSL with mutual TLS files and the key password read from its file', () => {
    const env = kafkaEnvFor({
      brokers: ['a:9096'],
      ssl: { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem', keyPasswordFile: secretFile('kp', 'kp-secret'), servername: 'kafka.internal' },
    });
    expect(env).toEqual({
      KAFKA_BOOTSTRAP_SERVERS: 'a:9096',
      KAFKA_SECURITY_PROTOCOL: 'SSL',
      KAFKA_SSL_CA_FILE: '/ca.pem',
      KAFKA_SSL_CERT_FILE: '/c.pem',
      KAFKA_SSL_KEY_FILE: '/k.pem',
      KAFKA_SSL_KEY_PASSWORD: 'kp-secret',
      KAFKA_SSL_SERVERNAME: 'kafka.internal',
    });
  });

  it('SASL_SSL SCRAM, SASL_PLAINTEXT PLAIN, and OAUTHBEARER with its token endpoint', () => {
    expect(kafkaEnvFor({ brokers: ['a:9095'], ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'u', passwordFile: secretFile('pw2', 'p') } })).toEqual({
      KAFKA_BOOTSTRAP_SERVERS: 'a:9095',
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
    });
    expect(kafkaEnvFor({ brokers: ['a:9093'], sasl: { mechanism: 'plain', username: 'u', password: 'p' } }).KAFKA_SECURITY_PROTOCOL).toBe('SASL_PLAINTEXT');
    expect(
      kafkaEnvFor({
        brokers: ['a:9095'],
        ssl: { caFile: '/ca.pem' },
        sasl: { mechanism: 'oauthbearer', tokenEndpointUrl: 'https://idp/token', clientId: 'c', clientSecret: 's', scope: 'kafka', extensions: { logicalCluster: 'lkc-1' } },
      }),
    ).toEqual({
      KAFKA_BOOTSTRAP_SERVERS: 'a:9095',
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SSL_CA_FILE: '/ca.pem',
      KAFKA_SASL_MECHANISM: 'OAUTHBEARER',
      KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: 'https://idp/token',
      KAFKA_SASL_OAUTHBEARER_CLIENT_ID: 'c',
      KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: 's',
      KAFKA_SASL_OAUTHBEARER_SCOPE: 'kafka',
      KAFKA_SASL_OAUTHBEARER_EXTENSIONS: '{"logicalCluster":"lkc-1"}',
    });
  });

  it('round-trips through kafkaSettingsFromEnv, and names a missing variable', () => {
    const settings = { brokers: ['a:9095'], ssl: { caFile: '/ca.pem', servername: 'x' }, sasl: { mechanism: 'scram-sha-256' as const, username: 'u', password: 'p' } };
    expect(kafkaSettingsFromEnv(kafkaEnvFor(settings))).toEqual(settings);
    expect(kafkaSettingsFromEnv({ KAFKA_SECURITY_PROTOCOL: 'SSL' }, ['cli:9092'])).toEqual({ brokers: ['cli:9092'], ssl: true });
    expect(() => kafkaSettingsFromEnv({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u' })).toThrow(/^KAFKA_SASL_PASSWORD: not set/);
    expect(() => kafkaSettingsFromEnv({ KAFKA_SECURITY_PROTOCOL: 'TLS' })).toThrow(/KAFKA_SECURITY_PROTOCOL: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL/);
  });
});

describe('OAUTHBEARER token source', () => {
  const fakeEndpoint = (lifetimeS: number) => {
    const calls: Array<{ clientId: string; clientSecret: string; scope?: string }> = [];
    const fetchToken: TokenFetcher = async (req) => {
      calls.push({ clientId: req.clientId, clientSecret: req.clientSecret, ...(req.scope !== undefined ? { scope: req.scope } : {}) });
      await new Promise<void>((r) => setImmediate(r)); // an answer that takes a while: concurrent callers wait for it
      return { accessToken: `token-${calls.length}`, expiresIn: lifetimeS };
    };
    return { calls, fetchToken };
  };

  it('caches the token, refreshes it when 20 % of its life (at most 60 s) is left, and shares one request between concurrent callers', async () => {
    let now = 1_000_000;
    const ep = fakeEndpoint(100);
    const source = createOAuthTokenSource({ tokenEndpointUrl: 'https://idp/token', clientId: 'c', clientSecret: 's', scope: 'kafka', fetchToken: ep.fetchToken, now: () => now });
    const [a, b, c] = await Promise.all([source.token(), source.token(), source.token()]);
    expect([a, b, c]).toEqual(['token-1', 'token-1', 'token-1']);
    expect(ep.calls).toEqual([{ clientId: 'c', clientSecret: 's', scope: 'kafka' }]);
    now += 79_000; // 21 s left of 100: still good
    expect(await source.token()).toBe('token-1');
    now += 2_000; // 19 s left: below 20 %
    expect(await source.token()).toBe('token-2');
    expect(source.fetched).toBe(2);
    expect(refreshMarginMs(3_600_000)).toBe(60_000);
    expect(refreshMarginMs(5_000)).toBe(1_000);
  });

  it('a failed fetch rejects with the endpoint and the status, never the secret, and the next call tries again', async () => {
    let fail = true;
    const source = createOAuthTokenSource({
      tokenEndpointUrl: 'https://idp/token',
      clientId: 'c',
      clientSecret: 'very-secret',
      fetchToken: () => {
        if (fail) return Promise.reject(new SupervisorError('SUP_ERR_KAFKA_AUTH', 'authentication failed (SASL OAUTHBEARER): the token endpoint https://idp/token answered 401'));
        return Promise.resolve({ accessToken: 'ok', expiresIn: 60 });
      },
    });
    await expect(source.token()).rejects.toThrow(/answered 401/);
    fail = false;
    await expect(source.token()).resolves.toBe('ok');
  });
});

describe('describeKafkaError', () => {
  const conn = resolveKafkaConnection({ brokers: ['127.0.0.1:9095'], ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'supervisor', password: 'x' } }, 'checks.kafka');
  const kafkajsError = (name: string, message: string, cause?: unknown): Error => Object.assign(new Error(message), { name, ...(cause ? { originalError: cause } : {}) });

  it('leaves errors with numeric codes (kafkajs protocol errors, a broker going away) unnamed instead of throwing', () => {
    // regression: a numeric `code` made the TLS matcher throw, which killed the __consumer_offsets reader
    const protocolError = Object.assign(kafkajsError('KafkaJSProtocolError', 'This server is not the leader for that topic-partition'), {
      code: 6,
      type: 'NOT_LEADER_OR_FOLLOWER',
    });
    const wrapped = kafkajsError('KafkaJSNumberOfRetriesExceeded', 'Connection error: connect ECONNREFUSED 127.0.0.1:9095', protocolError);
    expect(() => describeKafkaError(protocolError, conn)).not.toThrow();
    expect(describeKafkaError(wrapped, conn)).toBeNull();
    expect(describeTlsError(Object.assign(new Error('x'), { code: 42 }), '127.0.0.1:9095')).toBeNull();
  });

  it('names a refused SASL login as an authentication failure with the mechanism and user', () => {
    const err = kafkajsError(
      'KafkaJSSASLAuthenticationError',
      'SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512',
    );
    const named = describeKafkaError(err, conn)!;
    expect(named.code).toBe('SUP_ERR_KAFKA_AUTH');
    expect(named.message).toBe('authentication failed (SASL SCRAM-SHA-512 as supervisor): invalid credentials with SASL mechanism SCRAM-SHA-512');
    expect(named.message).not.toContain('x)');
  });

  it('names certificate problems with the host, and a refused handshake as a missing client certificate', () => {
    const untrusted = kafkajsError(
      'KafkaJSNumberOfRetriesExceeded',
      'Connection error: unable to verify the first certificate',
      Object.assign(new Error('Connection error: unable to verify the first certificate'), {
        name: 'KafkaJSConnectionError',
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        broker: '127.0.0.1:9095',
      }),
    );
    expect(describeKafkaError(untrusted, conn)).toMatchObject({ code: 'SUP_ERR_KAFKA_TLS', message: expect.stringMatching(/certificate of 127\.0\.0\.1:9095 is not trusted/) });
    const mtls = resolveKafkaConnection({ brokers: ['127.0.0.1:9096'], ssl: { caFile: tls.caFile } });
    const refused = kafkajsError(
      'KafkaJSConnectionError',
      'Connection error: 80FC:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../ssl/record/rec_layer_s3.c:1601:SSL alert number 42',
      undefined,
    );
    Object.assign(refused, { code: 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE' });
    expect(describeKafkaError(refused, mtls)!.message).toMatch(/127\.0\.0\.1:9096 refused the handshake .*\(client certificate required\?\)$/);
  });

  it('names a closed connection with OAUTHBEARER as a refused token, and leaves a refused TCP connect alone', () => {
    const oauth = resolveKafkaConnection({
      brokers: ['127.0.0.1:9095'],
      ssl: true,
      sasl: { mechanism: 'oauthbearer', tokenEndpointUrl: 'http://idp/token', clientId: 'c', clientSecret: 's' },
    });
    const err = kafkajsError('KafkaJSNumberOfRetriesExceeded', 'No brokers in the broker pool', kafkajsError('KafkaJSBrokerNotFound', 'No brokers in the broker pool'));
    expect(describeKafkaError(err, oauth)).toMatchObject({
      code: 'SUP_ERR_KAFKA_AUTH',
      message: expect.stringMatching(/^authentication failed \(SASL OAUTHBEARER, token from http:\/\/idp\/token\): .*token refused/),
    });
    const refused = kafkajsError('KafkaJSConnectionError', 'Connection error: connect ECONNREFUSED 127.0.0.1:9095');
    expect(describeKafkaError(refused, oauth)).toBeNull();
  });
});

describe('aws-msk-iam (AWS signer package, optional)', () => {
  it('takes region only, and says which package to install when it is missing', () => {
    let installed = true;
    try {
      require.resolve('aws-msk-iam-sasl-signer-js');
    } catch {
      installed = false;
    }
    const missing = ["connections.kafka.sasl.mechanism: aws-msk-iam needs AWS's signer package, which is not installed (npm install aws-msk-iam-sasl-signer-js)"];
    const others = (raw: unknown) => issues(raw).filter((i) => !missing.includes(i));
    expect(others({ connections: { kafka: { ssl: true, sasl: { mechanism: 'aws-msk-iam' } } } })).toEqual([
      "connections.kafka.sasl.region: aws-msk-iam needs region (the MSK cluster's AWS region)",
    ]);
    expect(others({ connections: { kafka: { ssl: true, sasl: { mechanism: 'aws-msk-iam', region: 'eu-west-1', username: 'u' } } } })).toEqual([
      "connections.kafka.sasl.username: username is not used with aws-msk-iam (credentials come from the AWS SDK's default chain)",
    ]);
    // a config naming aws-msk-iam without the package is refused at load (exit 2), naming what to install
    expect(issues({ connections: { kafka: { ssl: true, sasl: { mechanism: 'aws-msk-iam', region: 'eu-west-1' } } } })).toEqual(installed ? [] : missing);
    const resolve = () => resolveKafkaConnection({ brokers: ['b-1.msk:9098'], ssl: true, sasl: { mechanism: 'aws-msk-iam', region: 'eu-west-1' } });
    if (installed) expect(resolve().saslLabel).toBe('SASL AWS_MSK_IAM (OAUTHBEARER), region eu-west-1');
    else expect(resolve).toThrow(missing[0]);
  });

  it("AWS's signer signs a kafka-cluster:Connect token with credentials from the default chain (offline: SigV4 presigning)", async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    // AWS's documented example key pair: the environment is the first source of the default chain
    process.env.AWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    try {
      const conn = resolveKafkaConnection({ brokers: ['b-1.msk:9098'], ssl: true, sasl: { mechanism: 'aws-msk-iam', region: 'eu-west-1' } });
      const { value } = await (conn.sasl as { oauthBearerProvider: () => Promise<{ value: string }> }).oauthBearerProvider();
      const url = new URL(Buffer.from(value, 'base64url').toString('utf8'));
      expect(url.host).toBe('kafka.eu-west-1.amazonaws.com');
      expect(url.searchParams.get('Action')).toBe('kafka-cluster:Connect');
      expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-1\/kafka-cluster\/aws4_request$/);
      expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
  });

  it('hands the signed token to kafkajs as OAUTHBEARER, cached until near its expiry; a signing failure is an authentication error', async () => {
    let now = 1_000_000;
    const calls: string[] = [];
    let fail = false;
    const conn = resolveKafkaConnection({ brokers: ['b-1.msk:9098'], ssl: true, sasl: { mechanism: 'aws-msk-iam', region: 'eu-west-1' } }, 'connections.kafka', {
      now: () => now,
      mskSigner: {
        generateAuthToken: ({ region }) => {
          calls.push(region);
          return fail
            ? Promise.reject(new Error('Could not load credentials from any providers'))
            : Promise.resolve({ token: `signed-${calls.length}`, expiryTime: now + 900_000 });
        },
      },
    });
    const provider = (conn.sasl as { mechanism: string; oauthBearerProvider: () => Promise<{ value: string }> }).oauthBearerProvider;
    expect(conn.sasl!.mechanism).toBe('oauthbearer');
    expect(await provider()).toEqual({ value: 'signed-1' });
    now += 800_000; // 100 s of 900 left: still cached (margin 60 s)
    expect(await provider()).toEqual({ value: 'signed-1' });
    now += 50_000;
    fail = true;
    await expect(provider()).rejects.toThrow(
      'authentication failed (SASL AWS_MSK_IAM (OAUTHBEARER), region eu-west-1): cannot sign a token with the AWS credentials (Could not load credentials from any providers)',
    );
    expect(calls).toEqual(['eu-west-1', 'eu-west-1']);
    expect(kafkaEnvFor({ brokers: ['b-1.msk:9098'], ssl: true, sasl: { mechanism: 'aws-msk-iam', region: 'eu-west-1' } })).toEqual({
      KAFKA_BOOTSTRAP_SERVERS: 'b-1.msk:9098',
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'AWS_MSK_IAM',
      KAFKA_SASL_AWS_REGION: 'eu-west-1',
    });
    expect(kafkaSettingsFromEnv({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'AWS_MSK_IAM', KAFKA_SASL_AWS_REGION: 'eu-west-1' }, ['b:1'])).toEqual({
      brokers: ['b:1'],
      ssl: true,
      sasl: { mechanism: 'aws-msk-iam', region: 'eu-west-1' },
    });
  });
});
