/**
 * The Prometheus alerting rules (grafana/prometheus/rules/): promtool accepts them and their
 * unit tests pass; they mirror DEFAULT_ALERT_RULES (names, severities, `for`, the status each
 * in-process rule waits for); they select only metrics the supervisor exports; every alert has
 * a promtool case where it fires and one where it does not.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_ALERT_RULES } from '../../../alerts/config';
import { allSeriesNames, REPO_ROOT, typesFromSource } from '../../../grafana/exported-metrics';
import { metricNames } from '../../../grafana/queries';
import { statusRank } from '../../../src/protocol';
import { RULES_DIR as STACK_RULES_DIR } from '../../../stack/services/prometheus';

const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';
const RULES_DIR = path.join(REPO_ROOT, 'grafana/prometheus/rules');
const TESTS_DIR = path.join(REPO_ROOT, 'grafana/prometheus/tests');
const ruleFiles = fs
  .readdirSync(RULES_DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .map((f) => path.join(RULES_DIR, f));
const testFiles = fs
  .readdirSync(TESTS_DIR)
  .filter((f) => f.endsWith('.test.yml'))
  .map((f) => path.join(TESTS_DIR, f));

interface PromRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface PromGroup {
  name: string;
  rules: PromRule[];
}
const groups: PromGroup[] = ruleFiles.flatMap((f) => (parse(fs.readFileSync(f, 'utf8')) as { groups: PromGroup[] }).groups);
const alerts = groups.flatMap((g) => g.rules.filter((r) => r.alert).map((r) => ({ ...r, group: g.name, alert: r.alert as string })));

/** Prometheus duration ("1m", "1h30m", "0s") in milliseconds. */
function promDuration(text: string | undefined): number {
  if (text === undefined) return 0;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
  let total = 0;
  const rest = text.replace(/(\d+)(ms|s|m|h|d|w|y)/g, (_all, n: string, u: string) => {
    total += Number(n) * (units[u] as number);
    return '';
  });
  if (rest !== '') throw new Error(`not a Prometheus duration: ${text}`);
  return total;
}

function promtool(...args: string[]) {
  return spawnSync(PROMTOOL, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
}

const havePromtool = fs.existsSync(PROMTOOL);
// A missing promtool is a failure, not a quiet skip: `npm test` installs it with the stack's
// prometheus service before any test runs. Skipping takes an explicit SKIP_PROMTOOL=1.
const skipPromtool = !havePromtool && process.env.SKIP_PROMTOOL === '1';
if (skipPromtool) console.warn(`SKIPPED promtool checks (SKIP_PROMTOOL=1): ${PROMTOOL} is missing`);

if (!havePromtool && !skipPromtool) {
  it('promtool is installed', () => {
    throw new Error(`${PROMTOOL} is missing: \`npm run stack -- up prometheus\` installs it (Debian package prometheus), or set PROMTOOL; SKIP_PROMTOOL=1 skips these checks`);
  });
}

(havePromtool ? describe : describe.skip)('promtool', () => {
  it.each(ruleFiles.map((f) => [path.relative(REPO_ROOT, f), f]))('check rules %s', (_rel, file) => {
    const res = promtool('check', 'rules', file);
    expect(`${res.stdout}${res.stderr}`).toContain('SUCCESS');
    expect(res.status).toBe(0);
  });

  it.each(testFiles.map((f) => [path.relative(REPO_ROOT, f), f]))('test rules %s', (_rel, file) => {
    const res = promtool('test', 'rules', file);
    expect({ status: res.status, out: `${res.stdout}${res.stderr}`.replace(/\n{2,}/g, '\n') }).toEqual({ status: 0, out: expect.stringContaining('SUCCESS') });
  });

  it('test rules fails when an expectation is wrong (the harness can fail)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promtool-'));
    try {
      const original = fs.readFileSync(testFiles[0]!, 'utf8');
      const broken = original
        .replace(/^ {2}- \.\.\/rules\/(.+)$/m, (_l, f: string) => `  - ${path.join(RULES_DIR, f)}`)
        .replace('{ eval_time: 2m, alertname: kafka_cluster_down, exp_alerts: [] }', '{ eval_time: 5m, alertname: kafka_cluster_down, exp_alerts: [] }');
      expect(broken).not.toBe(original);
      const file = path.join(dir, 'broken.test.yml');
      fs.writeFileSync(file, broken);
      const res = promtool('test', 'rules', file);
      expect(res.status).toBe(1);
      expect(`${res.stdout}${res.stderr}`).toMatch(/FAILED[\s\S]*kafka_cluster_down/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rules mirror DEFAULT_ALERT_RULES', () => {
  const mirror = alerts.filter((a) => a.group === 'pipeline-supervisor');

  it('the mirror group has exactly the default rule names', () => {
    expect(mirror.map((a) => a.alert).sort()).toEqual(DEFAULT_ALERT_RULES.map((r) => r.name).sort());
  });

  it.each(DEFAULT_ALERT_RULES.map((r) => [r.name, r] as const))('%s: same severity, same `for`, same condition', (name, rule) => {
    const a = mirror.find((x) => x.alert === name);
    expect(a).toBeDefined();
    expect(a!.labels?.severity).toBe(rule.severity);
    expect(promDuration(a!.for)).toBe(rule.for);
    expect(a!.annotations?.summary).toBeTruthy();
    if (rule.source === 'signal') {
      // "true while the status is at least X" over the checks of the rule's kind(s)
      for (const kind of rule.match.kind ?? []) {
        const m = new RegExp(`supervisor_check_status\\{kind="${kind}"\\}\\s*>=\\s*(\\d)`).exec(a!.expr);
        expect({ kind, rank: m ? Number(m[1]) : null }).toEqual({ kind, rank: statusRank(rule.status) });
      }
    } else {
      const m = /supervisor_pipeline_runs_total\{state=~"([^"]+)"\}/.exec(a!.expr);
      expect(m?.[1]?.split('|').sort()).toEqual([...rule.run_states].sort());
    }
  });

  it('the stack Prometheus loads this folder', () => {
    expect(path.resolve(STACK_RULES_DIR)).toBe(RULES_DIR);
  });
});

describe('rules reference only exported metrics and are all tested', () => {
  const exported = allSeriesNames(typesFromSource());
  const PROMETHEUS_OWN = new Set(['up']); // the scrape health series Prometheus itself writes

  it.each(alerts.map((a) => [a.alert, a] as const))('%s selects exported metrics only', (_name, a) => {
    const names = metricNames(a.expr);
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((n) => !exported.has(n) && !PROMETHEUS_OWN.has(n))).toEqual([]);
  });

  it('every alert has a promtool case where it fires and one where it does not', () => {
    const cases = testFiles.flatMap((f) =>
      (parse(fs.readFileSync(f, 'utf8')) as { tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }> }).tests.flatMap(
        (t) => t.alert_rule_test ?? [],
      ),
    );
    const coverage = alerts.map((a) => ({
      alert: a.alert,
      fires: cases.some((c) => c.alertname === a.alert && (c.exp_alerts?.length ?? 0) > 0),
      quiet: cases.some((c) => c.alertname === a.alert && (c.exp_alerts?.length ?? 0) === 0),
    }));
    expect(coverage).toEqual(alerts.map((a) => ({ alert: a.alert, fires: true, quiet: true })));
  });
});
