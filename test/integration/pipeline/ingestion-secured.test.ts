/**
 * An `ingestion` task (subprocess mode, the reference ingestion service) whose supervisor's
 * `connections.kafka` is the stack's SASL_SSL listener: the operator hands the connection over
 * as KAFKA_* variables (kafkaEnvFor) and the service produces its records through TLS + SCRAM
 * (and OAUTHBEARER); a wrong password fails the task naming the authentication failure.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configSchema } from '../../../src/config/schema';
import { createBuiltinOperators } from '../../../src/engine/operators';
import { executeRun } from '../../../src/engine/runner';
import type { RunEvent } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';
import { systemClock } from '../../../src/shared/clock';
import { kafkaEnvFor } from '../../../src/shared/kafka-connection';
import { kafkaConnectionSettings } from '../../../src/wiring/check-options';
import { secured } from '../../../stack/endpoints';
import { stackTls } from '../../../stack/tls';
import { freshTopic } from '../../helpers/names';
import { endpoints, ensureServices, kafkaClient, STACK_TIMEOUT_MS } from '../../helpers/stack';
import { memoryStore, pipelineFrom } from '../../unit/engine/helpers';
import { SHIPPED_SOURCES } from './ingestion-run';

const tls = stackTls();
/** Records the shipped sample feeds produce (as in ingestion.test.ts). */
const PRODUCED = 19 + 19 + 14 + 17;

let tmp: string;
beforeAll(async () => {
  await ensureServices(['kafka', 'schema-registry', 'oidc']);
}, STACK_TIMEOUT_MS);
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-secured-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function runIngestionTask(kafka: Record<string, unknown>, topic: string) {
  const connections = configSchema.parse({ connections: { kafka } }).connections;
  const { store, close } = memoryStore();
  const events: RunEvent[] = [];
  const pipeline = pipelineFrom('p', {
    tasks: [
      {
        id: 'run_full_ingestion',
        operator: 'ingestion',
        retries: 0,
        params: {
          config_path: SHIPPED_SOURCES,
          kafka_servers: connections.kafka.brokers.join(','),
          schema_registry: endpoints.schemaRegistryUrl,
          topic,
          execution_mode: 'subprocess',
        },
      },
    ],
  });
  const { run: rec } = store.insertRun({ pipeline: 'p', logicalDate: Date.UTC(2025, 9, 5), kind: 'manual', firedAt: Date.now(), queuedAt: Date.now() });
  store.claimRun(rec.id, process.pid, Date.now());
  const done = executeRun(
    {
      store,
      // what src/wiring/operators.ts hands the ingestion operator: connections.kafka as KAFKA_* variables
      operators: createBuiltinOperators({ killGraceMs: 2_000, kafkaEnv: kafkaEnvFor(kafkaConnectionSettings(connections)) }),
      clock: systemClock,
      logger: silentLogger,
      emit: (e: RunEvent) => events.push(e),
      configDir: tmp,
      statusDir: path.join(tmp, 'status'),
    },
    pipeline,
    rec.id,
    new AbortController().signal,
  );
  return { store, close, done };
}

async function countRecords(topic: string): Promise<number> {
  const admin = kafkaClient('ingest-secured-check').admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const n = offsets.reduce((sum, o) => sum + Number(o.high), 0);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    return n;
  } finally {
    await admin.disconnect();
  }
}

describe('ingestion task over the SASL_SSL listener', () => {
  it.each([
    ['SCRAM-SHA-512', { mechanism: 'scram-sha-512', username: secured.kafkaUser, password: secured.kafkaPassword }],
    [
      'OAUTHBEARER',
      { mechanism: 'oauthbearer', token_endpoint_url: endpoints.oidcTokenUrl, client_id: secured.oidcClientId, client_secret: secured.oidcClientSecret, scope: 'kafka' },
    ],
  ])(
    '%s: the reference service produces every record',
    async (_label, sasl) => {
      const topic = freshTopic('ingest-secured');
      const t = runIngestionTask({ brokers: endpoints.kafkaSaslSslBrokers, ssl: { ca_file: tls.caFile }, sasl }, topic);
      try {
        const r = await t.done;
        const task = t.store.getTask(r.id, 'run_full_ingestion')!;
        const log = t.store.getLogs(r.id, 'run_full_ingestion')[0]?.content ?? '';
        expect({ state: r.state, reason: task.reason }).toMatchObject({ state: 'success' });
        expect(task.result).toMatchObject({ ok: true, topic });
        expect(log).toContain('SASL_SSL');
        // the secrets travel in the environment only: never in the task's log
        expect(log).not.toContain(secured.kafkaPassword);
        expect(log).not.toContain(secured.oidcClientSecret);
        expect(await countRecords(topic)).toBe(PRODUCED);
      } finally {
        t.close();
      }
    },
    120_000,
  );

  it('a wrong password fails the task naming the authentication failure', async () => {
    const topic = freshTopic('ingest-secured-bad');
    const t = runIngestionTask(
      { brokers: endpoints.kafkaSaslSslBrokers, ssl: { ca_file: tls.caFile }, sasl: { mechanism: 'scram-sha-512', username: secured.kafkaUser, password: 'wrong-password' } },
      topic,
    );
    try {
      const r = await t.done;
      expect(r.state).toBe('failed');
      const task = t.store.getTask(r.id, 'run_full_ingestion')!;
      const log = t.store.getLogs(r.id, 'run_full_ingestion')[0]?.content ?? '';
      expect(`${task.reason ?? ''}\n${log}`).toMatch(/authentication failed \(SASL SCRAM-SHA-512 as supervisor\)/);
      expect(log).not.toContain('wrong-password');
    } finally {
      t.close();
    }
  }, 120_000);
});
