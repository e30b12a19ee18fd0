/**
 * The local stack's secured edge, as a client sees it: Kafka's SASL_SSL listener (PLAIN,
 * SCRAM-SHA-256/512, OAUTHBEARER with tokens from the stack's token endpoint) and its mutual-TLS
 * listener, both with the stack's CA; the HTTPS edge with basic auth, a bearer token or an API
 * key in front of the registry, S3 and Spark. What the supervisor's secured connections are
 * tested against.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { secured } from '../../../stack/endpoints';
import { stackTls } from '../../../stack/tls';
import { STACK_TIMEOUT_MS, endpoints, ensureServices } from '../../helpers/stack';

const tls = stackTls();
const ca = () => [fs.readFileSync(tls.caFile)];

async function describeWith(config: Omit<KafkaConfig, 'clientId' | 'logLevel'>): Promise<number[]> {
  const admin = new Kafka({ clientId: 'edge-test', logLevel: logLevel.NOTHING, connectionTimeout: 5000, retry: { retries: 0 }, ...config }).admin();
  try {
    await admin.connect();
    return (await admin.describeCluster()).brokers.map((b) => b.port);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function get(url: string, headers: Record<string, string> = {}, caFile = tls.caFile): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ca: fs.readFileSync(caFile), headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

async function oidcToken(secret = secured.oidcClientSecret): Promise<{ status: number; token?: string }> {
  const res = await fetch(endpoints.oidcTokenUrl, {
    method: 'POST',
    headers: { ...basic(secured.oidcClientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=kafka',
  });
  const body = (await res.json()) as { access_token?: string };
  return { status: res.status, ...(body.access_token ? { token: body.access_token } : {}) };
}

describe('local stack: secured edge', () => {
  beforeAll(async () => {
    await ensureServices(['kafka', 'schema-registry', 's3', 'spark-master', 'oidc', 'edge']);
  }, STACK_TIMEOUT_MS);

  const saslSsl = endpoints.kafkaSaslSslBrokers.slice();
  const port = Number(saslSsl[0]!.split(':')[1]);

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('Kafka SASL_SSL accepts %s with the stack user and CA', async (mechanism) => {
    const ports = await describeWith({ brokers: saslSsl, ssl: { ca: ca() }, sasl: { mechanism, username: secured.kafkaUser, password: secured.kafkaPassword } as never });
    expect(ports).toEqual([port]);
  });

  it('Kafka SASL_SSL refuses a wrong SCRAM password as an authentication failure', async () => {
    await expect(describeWith({ brokers: saslSsl, ssl: { ca: ca() }, sasl: { mechanism: 'scram-sha-512', username: secured.kafkaUser, password: 'wrong' } })).rejects.toMatchObject(
      {
        name: 'KafkaJSSASLAuthenticationError',
      },
    );
  });

  it('Kafka SASL_SSL presents a certificate only the stack CA verifies, for 127.0.0.1 and localhost', async () => {
    const sasl = { mechanism: 'plain' as const, username: secured.kafkaUser, password: secured.kafkaPassword };
    await expect(describeWith({ brokers: saslSsl, ssl: { ca: [fs.readFileSync(tls.otherCaFile)] }, sasl })).rejects.toThrow(/certificate/);
    await expect(describeWith({ brokers: saslSsl, ssl: { ca: ca(), servername: 'wrong.example' }, sasl })).rejects.toThrow(/altnames/);
    await expect(describeWith({ brokers: saslSsl, ssl: { ca: ca(), servername: 'localhost' }, sasl })).resolves.toEqual([port]);
  });

  it('Kafka SASL_SSL accepts OAUTHBEARER with a client-credentials token from the stack token endpoint', async () => {
    expect((await oidcToken('wrong')).status).toBe(401);
    const { token } = await oidcToken();
    expect(token).toBeDefined();
    const ports = await describeWith({ brokers: saslSsl, ssl: { ca: ca() }, sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: token! }) } });
    expect(ports).toEqual([port]);
    // a token the broker can't parse is refused at once, not a hang; the broker closes the
    // connection, which kafkajs reports variously ("No brokers in the broker pool", a connection
    // error): the supervisor's client names it as an authentication failure itself
    await expect(
      describeWith({ brokers: saslSsl, ssl: { ca: ca() }, sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: 'not-a-jwt' }) } }),
    ).rejects.toBeInstanceOf(Error);
  });

  it('Kafka mutual TLS needs the client certificate', async () => {
    const brokers = endpoints.kafkaMtlsBrokers.slice();
    const ports = await describeWith({ brokers, ssl: { ca: ca(), cert: fs.readFileSync(tls.clientCertFile), key: fs.readFileSync(tls.clientKeyFile) } });
    expect(ports).toEqual([Number(brokers[0]!.split(':')[1])]);
    await expect(describeWith({ brokers, ssl: { ca: ca() } })).rejects.toThrow(/certificate|alert|socket/i);
  });

  it('the registry edge wants basic auth on one port and a bearer token on the other', async () => {
    const basicUrl = `${endpoints.edgeRegistryBasicUrl}/subjects`;
    expect((await get(basicUrl)).status).toBe(401);
    expect((await get(basicUrl, basic(secured.registryUser, 'wrong'))).status).toBe(401);
    const ok = await get(basicUrl, basic(secured.registryUser, secured.registryPassword));
    expect(ok.status).toBe(200);
    expect(Array.isArray(JSON.parse(ok.body))).toBe(true);
    const bearerUrl = `${endpoints.edgeRegistryBearerUrl}/subjects`;
    expect((await get(bearerUrl, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await get(bearerUrl, { authorization: `Bearer ${secured.registryToken}` })).status).toBe(200);
    await expect(get(bearerUrl, {}, tls.otherCaFile)).rejects.toThrow(/certificate/);
  });

  it('the Spark master edge wants basic auth', async () => {
    expect((await get(`${endpoints.edgeSparkMasterUi}/json/`)).status).toBe(401);
    const ok = await get(`${endpoints.edgeSparkMasterUi}/json/`, basic(secured.sparkUser, secured.sparkPassword));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ status: 'ALIVE' });
  });

  it('the Spark driver edge wants its API key before anything reaches the driver', async () => {
    const res = await get(`${endpoints.edgeSparkDriverUi}/metrics/prometheus`);
    expect(res.status).toBe(401);
    // with the key the request is passed on (502 when no driver runs, the driver's answer when one does)
    expect((await get(`${endpoints.edgeSparkDriverUi}/metrics/prometheus`, { 'x-api-key': secured.sparkApiKey })).status).not.toBe(401);
  });

  it('S3 through the TLS edge signs and lists with the stack CA', async () => {
    const client = new S3Client({
      endpoint: endpoints.edgeS3Endpoint,
      region: endpoints.s3Region,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      credentials: { accessKeyId: endpoints.s3AccessKeyId, secretAccessKey: endpoints.s3SecretAccessKey },
      requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca: ca() }) }),
    });
    try {
      const res = await client.send(new ListObjectsV2Command({ Bucket: endpoints.s3Bucket, MaxKeys: 1 }));
      expect(res.$metadata.httpStatusCode).toBe(200);
    } finally {
      client.destroy();
    }
  });
});
