import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load';
import { parseDuration } from '../../../src/config/duration';
import { redactConfig } from '../../../src/config/redact';
import { SupervisorError } from '../../../src/protocol';

const DEFAULT = path.join(__dirname, '../../../config/supervisor.yaml');

function writeTemp(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-config-'));
  const file = path.join(dir, 'supervisor.yaml');
  fs.writeFileSync(file, text);
  return file;
}

function problemsOf(text: string, env: Record<string, string> = {}): string[] {
  try {
    loadConfig({ file: writeTemp(text), env });
  } catch (err) {
    expect(err).toBeInstanceOf(SupervisorError);
    const e = err as SupervisorError;
    expect(e.code).toMatch(/^SUP_ERR_CONFIG_/);
    return e.problems.length ? [...e.problems] : [e.message];
  }
  throw new Error('expected the config to be rejected');
}

describe('default config', () => {
  const { config, variables } = loadConfig({ file: DEFAULT, env: {} });

  it('reproduces the seed DAGs with their schedules, aliases and task ids', () => {
    const ingestion = config.pipelines.domain_ingestion!;
    expect(ingestion.schedule).toBe('0 * * * *');
    expect(ingestion.aliases).toEqual(['domain_ingestion_dag']);
    expect(ingestion.catchup).toBe(false);
    expect(ingestion.tasks.map((t) => [t.id, t.upstream])).toEqual([
      ['check_kafka_health', []],
      ['run_full_ingestion', ['check_kafka_health']],
      ['send_success_notification', ['run_full_ingestion']],
    ]);
    expect(ingestion.tasks[1]!.params).toMatchObject({ source_name: null, kafka_servers: '127.0.0.1:9092', execution_mode: 'subprocess' });

    const monitoring = config.pipelines.monitoring!;
    expect(monitoring.schedule).toBe('*/15 * * * *');
    expect(monitoring.aliases).toEqual(['monitoring_dag']);
    const byId = Object.fromEntries(monitoring.tasks.map((t) => [t.id, t]));
    expect(byId.check_kafka!.group).toBe('infrastructure_health');
    expect(byId.check_spark!.group).toBe('infrastructure_health');
    expect(['check_bronze_freshness', 'check_silver_freshness', 'check_gold_freshness'].map((id) => [byId[id]!.group, byId[id]!.params.max_age_minutes])).toEqual([
      ['data_quality', 30],
      ['data_quality', 60],
      ['data_quality', 120],
    ]);
    expect(byId.alert_on_failure!.trigger_rule).toBe('one_failed');
  });

  it('declares the seed variables with local-stack defaults', () => {
    for (const key of ['kafka_servers', 'spark_master', 'bronze_path', 'silver_path', 'gold_path']) expect(variables[key]).toBeDefined();
    expect(variables.bronze_path).toBe('s3a://delta-lake/bronze');
  });

  it('is frozen', () => {
    expect(Object.isFrozen(config.pipelines.monitoring!.tasks[0])).toBe(true);
  });
});

describe('interpolation', () => {
  it('resolves ${ENV}, ${ENV:-default} and {{ var.x }} with stored variables overriding file defaults', () => {
    const file = writeTemp('variables:\n  brokers: a:1\nserver:\n  port: ${PORT:-9999}\n  host: ${HOST}\nconnections:\n  kafka:\n    brokers: "{{ var.brokers }}"\n');
    const loaded = loadConfig({ file, env: { HOST: '0.0.0.0' }, storedVariables: { brokers: 'b:2,c:3' } });
    expect(loaded.config.server).toMatchObject({ port: 9999, host: '0.0.0.0' });
    expect(loaded.config.connections.kafka.brokers).toEqual(['b:2', 'c:3']);
  });

  it('reports a missing environment variable and an undefined variable with their positions', () => {
    const problems = problemsOf('server:\n  host: ${NOPE}\nconnections:\n  kafka:\n    brokers: "{{ var.missing }}"\n');
    expect(problems).toEqual([
      expect.stringMatching(/:2:9: server\.host: environment variable NOPE is not set/),
      expect.stringMatching(/:5:14: connections\.kafka\.brokers: variable "missing" is not defined/),
    ]);
  });
});

describe('invalid config', () => {
  it('reports every problem at once, in file order, with line:column, YAML path and expectation', () => {
    const problems = problemsOf(
      [
        'server:',
        '  port: 99999',
        '  colour: blue',
        'pipelines:',
        '  p1:',
        '    schedule: "* * * * *"',
        '    tasks:',
        '      - id: a',
        '        operator: teleport',
        'logging:',
        '  level: loud',
      ].join('\n'),
    );
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/:2:9: server\.port: .*99999|:2:9: server\.port: .*65535/);
    expect(problems[1]).toMatch(/:3:3: server\.colour: unknown key "colour"/);
    expect(problems[2]).toMatch(/:9:19: pipelines\.p1\.tasks\[0\]\.operator: .*expected one of .*ingestion/);
    expect(problems[3]).toMatch(/:11:10: logging\.level: .*expected one of/);
  });

  it('rejects an upstream that names no task or group, and cycles', () => {
    const unknown = problemsOf('pipelines:\n  p:\n    tasks:\n      - { id: a, operator: notify, upstream: [ghost] }\n');
    expect(unknown[0]).toMatch(/pipelines\.p\.tasks\[0\]\.upstream\[0\]: "ghost" is neither a task nor a group/);
    const cycle = problemsOf('pipelines:\n  p:\n    tasks:\n      - { id: a, operator: notify, upstream: [b] }\n      - { id: b, operator: notify, upstream: [a] }\n');
    expect(cycle[0]).toMatch(/the tasks form a cycle: (a → b → a|b → a → b)/);
  });

  it('rejects bad durations naming the value', () => {
    const problems = problemsOf('pipelines:\n  p:\n    run_timeout: soon\n    tasks:\n      - { id: a, operator: notify }\n');
    expect(problems[0]).toMatch(/:3:18: pipelines\.p\.run_timeout: expected a duration such as "30s", "15m" or "2h", got "soon"/);
  });

  it('reports YAML syntax errors with a position', () => {
    const problems = problemsOf('server:\n  port: [8090\n');
    expect(problems[0]).toMatch(/supervisor\.yaml:\d+:\d+: /);
  });

  it('names a missing file', () => {
    expect(() => loadConfig({ file: '/nonexistent/supervisor.yaml', env: {} })).toThrow(/does not exist .*--config/);
  });
});

describe('durations', () => {
  it.each([
    ['250ms', 250],
    ['15s', 15_000],
    ['30m', 1_800_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['45', 45_000],
    [90, 90_000],
  ])('%s → %d ms', (input, ms) => expect(parseDuration(input)).toBe(ms));

  it.each(['soon', '5 minutes', '-1s', ''])('rejects %p', (input) => expect(parseDuration(input)).toBeNull());
});

describe('redaction', () => {
  it('hides secrets, webhook URLs and URL credentials but keeps the rest', () => {
    const shown = redactConfig({
      connections: { s3: { secret_access_key: 'abc', region: 'us' }, kafka: { sasl: { password: 'p', username: 'u' } } },
      alerts: { sinks: { slack: { type: 'slack', url: 'https://hooks.slack.com/services/T/B/X' }, am: { type: 'alertmanager', url: 'http://127.0.0.1:9093' } } },
      x: 'http://user:pw@host/path',
    }) as { connections: { s3: unknown; kafka: { sasl: unknown } }; alerts: { sinks: { slack: { url: string }; am: { url: string } } }; x: string };
    expect(shown.connections.s3).toEqual({ secret_access_key: '[redacted]', region: 'us' });
    expect(shown.connections.kafka.sasl).toEqual({ password: '[redacted]', username: 'u' });
    expect(shown.alerts.sinks.slack.url).toBe('[redacted]');
    expect(shown.alerts.sinks.am.url).toBe('http://127.0.0.1:9093');
    expect(shown.x).toBe('http://[redacted]@host/path');
  });
});
