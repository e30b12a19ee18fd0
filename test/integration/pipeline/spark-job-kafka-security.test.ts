/**
 * The reference Spark job's Kafka client settings from the KAFKA_* environment the supervisor
 * hands its ingestion service (stack/pipeline/spark/harmful_domains_stream.py
 * kafka_security_properties), run with the stack's own Python (pyspark's venv): SASL SCRAM over
 * TLS with the CA, mutual TLS with PEM files, and the settings the job refuses, each named.
 * The job itself over SASL_SSL is what `npm run demo -- --secure` runs.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dirs, REPO_ROOT } from '../../../stack/paths';
import { stackTls } from '../../../stack/tls';
import { STACK_TIMEOUT_MS, ensureServices } from '../../helpers/stack';

const python = () => path.join(dirs.venv, 'bin', 'python');

function properties(env: Record<string, string>): { props?: Record<string, string>; error?: string } {
  const code = [
    'import json, sys',
    `sys.path.insert(0, ${JSON.stringify(path.join(REPO_ROOT, 'stack', 'pipeline', 'spark'))})`,
    'import harmful_domains_stream as job',
    'try:',
    '    print(json.dumps({"props": job.kafka_security_properties(json.loads(sys.argv[1]))}))',
    'except ValueError as err:',
    '    print(json.dumps({"error": str(err)}))',
  ].join('\n');
  const res = spawnSync(python(), ['-c', code, JSON.stringify(env)], { encoding: 'utf8', timeout: 60_000 });
  if (res.status !== 0) throw new Error(`python failed: ${res.stderr}`);
  return JSON.parse(res.stdout.trim().split('\n').pop()!) as { props?: Record<string, string>; error?: string };
}

describe('reference Spark job: Kafka security from the KAFKA_* environment', () => {
  beforeAll(async () => {
    await ensureServices(['spark-master']); // installs the venv with pyspark
  }, STACK_TIMEOUT_MS);

  it('plain text needs nothing; SASL_SSL with SCRAM and the CA becomes the Java client properties', () => {
    expect(properties({})).toEqual({ props: {} });
    const tls = stackTls();
    const { props } = properties({
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'supervisor',
      KAFKA_SASL_PASSWORD: 'pa"ss',
      KAFKA_SSL_CA_FILE: tls.caFile,
    });
    expect(props).toEqual({
      'security.protocol': 'SASL_SSL',
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': tls.caFile,
      'sasl.mechanism': 'SCRAM-SHA-512',
      'sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required username="supervisor" password="pa\\"ss";',
    });
  });

  it('mutual TLS reads the PEM certificate and key into the keystore', () => {
    const tls = stackTls();
    const { props } = properties({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: tls.caFile, KAFKA_SSL_CERT_FILE: tls.clientCertFile, KAFKA_SSL_KEY_FILE: tls.clientKeyFile });
    expect(props).toMatchObject({ 'security.protocol': 'SSL', 'ssl.keystore.type': 'PEM', 'ssl.keystore.certificate.chain': fs.readFileSync(tls.clientCertFile, 'utf8') });
    expect(props!['ssl.keystore.key']).toContain('PRIVATE KEY');
  });

  it('names what it refuses: an unknown protocol, OAUTHBEARER, missing credentials', () => {
    expect(properties({ KAFKA_SECURITY_PROTOCOL: 'TLS' }).error).toMatch(/KAFKA_SECURITY_PROTOCOL=TLS: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL/);
    expect(properties({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'OAUTHBEARER' }).error).toMatch(
      /KAFKA_SASL_MECHANISM=OAUTHBEARER: the Spark job takes PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512/,
    );
    expect(properties({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'PLAIN' }).error).toMatch(/KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are needed/);
  });
});
