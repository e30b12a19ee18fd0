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
import { down, status, up } from './manager';
import { writeSecureDemoConfig } from './secure-demo-config';
import { services } from './services';

const OWNER = `demo-${process.pid}`;
const CONFIG = path.join(__dirname, '..', 'config', 'supervisor.yaml');
/** `npm run demo -- --secure`: the pipeline and the supervisor over the stack's secured edge. */
const SECURE = process.argv.slice(2).includes('--secure');

async function main(): Promise<void> {
  const unknown = process.argv.slice(2).filter((a) => a !== '--secure');
  if (unknown.length > 0) {
    console.error(`demo: unknown argument ${unknown.join(' ')} (the one option is --secure)`);
    process.exit(2);
  }
  const wanted = services.filter((s) => !s.optional || s.name === 'pipeline').map((s) => s.name);
  if (SECURE) {
    // the Spark job reads Kafka through SASL_SSL; a running job of the plain demo is restarted so
    process.env.STACK_PIPELINE_SECURE = '1';
    if ((await status()).some((s) => s.name === 'pipeline' && s.state === 'up')) {
      console.log('demo: restarting the reference pipeline to read Kafka over SASL_SSL…');
      await down(['pipeline']);
    }
  }
  console.log(`demo: starting the local stack (${wanted.join(', ')}); the first run installs them, later runs take about a minute…`);
  const stack = await up(wanted, { owner: OWNER });
  console.log(`demo: stack ready (started ${stack.started.length}, reused ${stack.reused.length})`);

  await provisionTopics(['harmful-domains']);
  const configFile = process.env.SUPERVISOR_CONFIG ?? (SECURE ? writeSecureDemoConfig(CONFIG) : CONFIG);
  if (SECURE)
    console.log(
      `demo: the supervisor reads ${path.relative(process.cwd(), configFile)}: every connection through the secured edge (TLS with the stack CA, SCRAM, bearer token, basic auth)`,
    );
  const daemon = await createDaemon({ configFile });
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

  Web UI              ${base}/  (sign in with the demo token below)
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
  CLI                 npx supervisor runs list · npx supervisor dags pause monitoring · npx supervisor --help

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
