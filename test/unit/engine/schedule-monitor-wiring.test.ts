/**
 * The schedule monitor's probes inside the `checks` component: their signals reach the
 * component's state (what /api/v1/health, the gauges and the alert engine read) from its start,
 * and a configured check may not take one of their names.
 */
import { configSchema } from '../../../src/config/schema';
import { createPipelineCatalog } from '../../../src/engine/dag';
import { createScheduleMonitor } from '../../../src/engine/schedule-monitor';
import { SupervisorError } from '../../../src/protocol';
import { systemClock } from '../../../src/shared/clock';
import { resolveKafkaConnection } from '../../../src/shared/kafka-connection';
import { silentLogger } from '../../../src/shared/logger';
import { createPipelineStateStore } from '../../../src/store/pipeline-state';
import { kafkaConnectionSettings } from '../../../src/wiring/check-options';
import { createSignalSource } from '../../../src/wiring/signal-source';
import { memoryStore } from './helpers';

const pipelines = { p: { schedule: '0 * * * *', deadline: { after: '5m' }, tasks: [{ id: 'a', operator: 'command' }] } };

describe('schedule monitor probes in the checks component', () => {
  const mem = memoryStore();
  afterAll(() => mem.close());

  const monitorFor = (config: ReturnType<typeof configSchema.parse>) =>
    createScheduleMonitor({ catalog: createPipelineCatalog(config), runs: mem.store, pipelineState: createPipelineStateStore(mem.db), now: () => Date.now() });

  it('evaluates at the start: pipeline_deadline and pipeline_schedule signals are in the state before the first interval', async () => {
    const config = configSchema.parse({ pipelines });
    const monitor = monitorFor(config);
    const hour = 3_600_000;
    // ran once two hours ago and failed: the 2 h-old date is past its deadline
    const logicalDate = Math.floor(Date.now() / hour) * hour - 2 * hour;
    mem.store.insertRun({ pipeline: 'p', logicalDate, kind: 'cron', firedAt: logicalDate, queuedAt: logicalDate, state: 'failed' });
    createPipelineStateStore(mem.db).ensure([{ id: 'p', paused: false }], logicalDate - 1);
    const checks = createSignalSource({
      config,
      logger: silentLogger,
      clock: systemClock,
      kafkaConnection: resolveKafkaConnection(kafkaConnectionSettings(config.connections)),
      extraProbes: monitor.probes(),
    });
    try {
      await checks.start();
      const end = Date.now() + 3_000;
      while (checks.signals().length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      const byCheck = Object.fromEntries(checks.signals().map((s) => [s.check, s]));
      expect(byCheck.pipeline_deadline).toMatchObject({ kind: 'pipeline_deadline', target: 'p', status: 'crit' });
      expect(byCheck.pipeline_deadline!.summary).toContain(`${new Date(logicalDate).toISOString()} failed`);
      expect(byCheck.pipeline_schedule).toMatchObject({ kind: 'pipeline_schedule', target: 'p', status: 'warn' });
    } finally {
      await checks.stop();
    }
  });

  it('a configured check named like a monitor probe is a config error naming it', () => {
    const config = configSchema.parse({
      pipelines,
      connections: { spark: { master_ui: 'http://127.0.0.1:1' } },
      checks: { pipeline_deadline: { kind: 'spark', interval: '1h', expected_workers: 0 } },
    });
    const build = () =>
      createSignalSource({
        config,
        logger: silentLogger,
        clock: systemClock,
        kafkaConnection: resolveKafkaConnection(kafkaConnectionSettings(config.connections)),
        extraProbes: monitorFor(config).probes(),
      });
    expect(build).toThrow(SupervisorError);
    expect(build).toThrow(/check name "pipeline_deadline" is reserved for the supervisor's own pipeline_deadline probe/);
  });
});
