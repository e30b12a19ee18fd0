/**
 * `npm run demo`: the supervisor's main job on the local stack. Brings up the real services and
 * the reference pipeline (ingestion service + Spark streaming job), starts the supervisor with
 * the default config, triggers one ingestion, and prints where to look. Ctrl-C stops the
 * supervisor and every service this demo started (services that were already running stay).
 */
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { createDaemon } from '../src/daemon';
import { createTokenStore } from '../src/store/tokens';
import { endpoints } from './endpoints';
import { down, up } from './manager';
import { services } from './services';

const OWNER = `demo-${process.pid}`;
const CONFIG = path.join(__dirname, '..', 'config', 'supervisor.yaml');

async function main(): Promise<void> {
  const wanted = services.filter((s) => !s.optional || s.name === 'pipeline').map((s) => s.name);
  console.log(`demo: starting the local stack (${wanted.join(', ')}); the first run installs them, later runs take about a minute…`);
  const stack = await up(wanted, { owner: OWNER });
  console.log(`demo: stack ready (started ${stack.started.length}, reused ${stack.reused.length})`);

  await provisionTopics(['harmful-domains']);
  const daemon = await createDaemon({ configFile: process.env.SUPERVISOR_CONFIG ?? CONFIG });
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (stopping ??= (async () => {
      console.log('\ndemo: stopping the supervisor and the services this demo started…');
      await daemon.stop();
      const stopped = await down(undefined, { owner: OWNER });
      console.log(`demo: stopped ${stopped.length ? stopped.join(', ') : 'nothing else (services were already running before the demo)'}`);
    })());
  process.once('SIGINT', () => void shutdown().then(() => process.exit(0)));
  process.once('SIGTERM', () => void shutdown().then(() => process.exit(0)));

  await daemon.start();
  const tokens = createTokenStore(daemon.db);
  const name = `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const { token } = tokens.create(name, false);
  const run = await daemon.engine.trigger('domain_ingestion', { kind: 'manual', conf: { reason: 'npm run demo' } });

  const base = daemon.url();
  console.log(`
Pipeline Supervisor is running (${base}). It triggered ingestion run ${run.runId}.

  Health (open)       ${base}/readyz
  Metrics (open)      ${base}/metrics
  Every signal        curl -H 'Authorization: Bearer ${token}' ${base}/api/v1/health
  Runs                curl -H 'Authorization: Bearer ${token}' ${base}/api/v1/runs
  Alerts              curl -H 'Authorization: Bearer ${token}' ${base}/api/v1/alerts
  API reference       ${base}/api/v1/openapi.json
  Mail (SMTP sink)    ${endpoints.smtpApiUrl}/api/messages
  Prometheus          ${endpoints.prometheusUrl}/graph  (scrapes the supervisor; rules from grafana/prometheus/rules)
  Alertmanager        ${endpoints.alertmanagerUrl}/#/alerts
  Spark master        ${endpoints.sparkMasterUi}
  CLI                 npx supervisor runs list · npx supervisor checks run · npx supervisor --help

The demo token "${name}" is shown once; revoke it with: npx supervisor tokens revoke ${name}
Press Ctrl-C to stop.
`);
  const done = await daemon.engine.waitForRun(run.runId);
  console.log(`demo: ingestion run ${done.runId} finished: ${done.state}${done.reason ? ` (${done.reason})` : ''}; the supervisor keeps watching.`);
}

/** Creates the pipeline's topics as a deployment would (the seed's check_kafka_health requires them). */
async function provisionTopics(topics: string[]): Promise<void> {
  const admin = new Kafka({ clientId: 'demo', brokers: [...endpoints.kafkaBrokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      await admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })), waitForLeaders: true });
      console.log(`demo: created topic(s) ${missing.join(', ')}`);
    }
  } finally {
    await admin.disconnect();
  }
}

main().catch(async (err: unknown) => {
  console.error(`demo failed: ${(err as Error).message}`);
  await down(undefined, { owner: OWNER }).catch(() => undefined);
  process.exit(1);
});
