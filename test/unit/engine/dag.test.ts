import path from 'node:path';
import { loadConfig } from '../../../src/config/load';
import { pipelineSchema } from '../../../src/config/pipelines';
import { buildPipeline, createPipelineCatalog, evaluateTriggerRule, retryDelay, DEFAULT_RETRY } from '../../../src/engine/dag';

describe('trigger rules', () => {
  it('all_success waits, runs, skips on skipped, fails on failed', () => {
    expect(evaluateTriggerRule('all_success', ['success', 'running'])).toBe('wait');
    expect(evaluateTriggerRule('all_success', ['success', 'success'])).toBe('run');
    expect(evaluateTriggerRule('all_success', ['success', 'skipped'])).toBe('skip');
    expect(evaluateTriggerRule('all_success', ['failed', 'running'])).toBe('upstream_failed');
    expect(evaluateTriggerRule('all_success', ['timed_out', 'success'])).toBe('upstream_failed');
  });
  it('all_done runs once everything finished, whatever the outcome', () => {
    expect(evaluateTriggerRule('all_done', ['failed', 'retrying'])).toBe('wait');
    expect(evaluateTriggerRule('all_done', ['failed', 'upstream_failed', 'skipped'])).toBe('run');
  });
  it('one_failed fires on the first failure and is skipped when all succeeded', () => {
    expect(evaluateTriggerRule('one_failed', ['failed', 'running'])).toBe('run');
    expect(evaluateTriggerRule('one_failed', ['success', 'running'])).toBe('wait');
    expect(evaluateTriggerRule('one_failed', ['success', 'success'])).toBe('skip');
  });
  it('one_success fires on the first success', () => {
    expect(evaluateTriggerRule('one_success', ['success', 'running'])).toBe('run');
    expect(evaluateTriggerRule('one_success', ['failed', 'failed'])).toBe('upstream_failed');
    expect(evaluateTriggerRule('one_success', ['skipped', 'skipped'])).toBe('skip');
  });
  it('none_failed accepts skipped upstream', () => {
    expect(evaluateTriggerRule('none_failed', ['success', 'skipped'])).toBe('run');
    expect(evaluateTriggerRule('none_failed', ['success', 'failed'])).toBe('upstream_failed');
  });
  it('always runs immediately; no upstream runs', () => {
    expect(evaluateTriggerRule('always', ['running'])).toBe('run');
    expect(evaluateTriggerRule('all_success', [])).toBe('run');
  });
});

describe('retry delay', () => {
  const policy = { ...DEFAULT_RETRY, retryDelayMs: 1000, backoff: 2, maxRetryDelayMs: 5000, jitter: false };
  it('grows exponentially up to the max delay', () => {
    expect([2, 3, 4, 5, 6].map((n) => retryDelay(policy, n))).toEqual([1000, 2000, 4000, 5000, 5000]);
  });
  it('jitters within ±20 % and never above the cap', () => {
    expect(retryDelay({ ...policy, jitter: true }, 2, () => 0)).toBe(800);
    expect(retryDelay({ ...policy, jitter: true }, 2, () => 1)).toBe(1200);
    expect(retryDelay({ ...policy, jitter: true }, 6, () => 1)).toBe(5000);
  });
});

describe('pipeline model', () => {
  const loaded = loadConfig({ file: path.resolve(__dirname, '../../../config/supervisor.yaml'), env: {} });
  const catalog = createPipelineCatalog(loaded.config);

  it('reproduces the seed DAGs, addressable by id or alias', () => {
    expect(catalog.get('domain_ingestion_dag').id).toBe('domain_ingestion');
    const ingestion = catalog.get('domain_ingestion');
    expect(ingestion.tasks.map((t) => t.id)).toEqual(['check_kafka_health', 'run_full_ingestion', 'send_success_notification']);
    expect(ingestion.tasks[1]!.upstream).toEqual(['check_kafka_health']);
    expect(ingestion.tasks[1]!.retry).toMatchObject({ retries: 2, retryDelayMs: 60_000, backoff: 2, maxRetryDelayMs: 600_000 });
    expect(ingestion.tasks[1]!.executionTimeoutMs).toBe(30 * 60_000);
  });

  it('expands task groups into their members', () => {
    const monitoring = catalog.get('monitoring_dag');
    expect(monitoring.groups).toEqual({
      infrastructure_health: ['check_kafka', 'check_spark'],
      data_quality: ['check_bronze_freshness', 'check_silver_freshness', 'check_gold_freshness'],
    });
    const alert = monitoring.tasks.find((t) => t.id === 'alert_on_failure')!;
    expect(alert.upstream).toEqual(['check_kafka', 'check_spark', 'check_bronze_freshness', 'check_silver_freshness', 'check_gold_freshness']);
    expect(alert.triggerRule).toBe('one_failed');
    expect(alert.retry.retries).toBe(0);
  });

  it('names the known pipelines when one is missing', () => {
    expect(() => catalog.get('nope')).toThrow(/no pipeline "nope" \(known: domain_ingestion \(domain_ingestion_dag\), monitoring \(monitoring_dag\)\)/);
  });

  it('orders tasks topologically even when the config lists them out of order', () => {
    const spec = buildPipeline(
      'p',
      pipelineSchema.parse({
        tasks: [
          { id: 'c', operator: 'command', upstream: ['b'] },
          { id: 'b', operator: 'command', upstream: ['a'] },
          { id: 'a', operator: 'command' },
        ],
      }),
    );
    expect(spec.tasks.map((t) => t.id)).toEqual(['a', 'b', 'c']);
    expect(spec.tasks[0]!.downstream).toEqual(['b']);
  });
});
