/**
 * Issue 16, the inspect verbs as a user meets them: the real `bin/supervisor.js` (dist/) against
 * a temp store holding real runs — `pipelines trigger --local` runs a pipeline of `command` tasks
 * that are real subprocesses (`true`, and node exiting 3 for one logical date). Then
 * `dags list-runs`, `dags state`, `tasks state`, `dags next-execution` and `dags show`, in text
 * and --json, and their usage errors (exit 2 naming what is wrong, never a stack trace).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli/main';
import { openDatabase } from '../../../src/store/database';
import { createPipelineStateStore } from '../../../src/store/pipeline-state';

jest.setTimeout(180_000); // every step starts real CLI processes: ≈ 1 s each, far more on a 2-core machine under load

const ROOT = path.join(__dirname, '../../..');
const BIN = path.join(ROOT, 'bin/supervisor.js');
const STACK_TRACE = /\n\s+at .+:\d+:\d+\)?/;
const TRUE = ['/usr/bin/true', '/bin/true'].find((p) => fs.existsSync(p))!;
const NODE = JSON.stringify(process.execPath);

const CONFIG = `
store:
  path: ./state.db
pipelines:
  ops:
    aliases: [ops_dag]
    schedule: "30 2 * * *"
    timezone: Europe/Berlin
    tasks:
      - id: extract
        group: checks
        operator: command
        params: { command: ["${TRUE}"] }
      - id: validate
        group: checks
        operator: command
        params: { command: [${NODE}, -e, "process.exit(process.env.SUPERVISOR_LOGICAL_DATE.startsWith('2026-01-02') ? 3 : 0)"] }
      - id: report
        operator: command
        upstream: [checks]
        trigger_rule: all_done
        params: { command: ["${TRUE}"] }
      - id: on_failure
        operator: command
        upstream: [checks]
        trigger_rule: one_failed
        params: { command: ["${TRUE}"] }
  nightly:
    schedule: "0 9 * * *"
    timezone: America/New_York
    paused: true
    tasks:
      - id: only
        operator: command
        params: { command: ["${TRUE}"] }
  on_demand:
    tasks:
      - id: only
        operator: command
        params: { command: ["${TRUE}"] }
`;

let dir: string;
let env: NodeJS.ProcessEnv;

interface Result {
  code: number | null;
  out: string;
  err: string;
}

function cli(...args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      expect(`${out}${err}`).not.toMatch(STACK_TRACE);
      expect(`${out}${err}`).not.toMatch(/SUP_ERR_INTERNAL/);
      resolve({ code, out, err });
    });
  });
}

const OK_RUN = 'ops.manual__2026-01-01T00:00:00.000Z';
const FAILED_RUN = 'ops.manual__2026-01-02T00:00:00.000Z';

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-inspect-'));
  fs.writeFileSync(path.join(dir, 'supervisor.yaml'), CONFIG);
  env = { PATH: process.env.PATH, HOME: dir, SUPERVISOR_CONFIG: path.join(dir, 'supervisor.yaml') };
  // two real runs, one after the other (one store writer at a time)
  const ok = await cli('pipelines', 'trigger', 'ops', '--local', '--logical-date', '2026-01-01T00:00:00Z');
  expect(ok.code).toBe(0);
  const failed = await cli('dags', 'trigger', 'ops_dag', '--local', '--logical-date', '2026-01-02');
  expect(failed.code).toBe(1);
}, 300_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('dags list-runs', () => {
  it('lists the runs newest first, filtered by state, in text and --json, with Airflow spellings', async () => {
    const [text, json, failed, several, limited, airflow, pipelines] = await Promise.all([
      cli('dags', 'list-runs', 'ops'),
      cli('--json', 'dags', 'list-runs', 'ops'),
      cli('--json', 'dags', 'list-runs', 'ops', '--state', 'failed'),
      cli('--json', 'dags', 'list-runs', 'ops', '--state', 'failed,success', '--state', 'running'),
      cli('--json', 'dags', 'list-runs', 'ops', '--limit', '1'),
      cli('--json', 'dags', 'list-runs', '-d', 'ops_dag', '-s', '2026-01-02', '-e', '2026-01-31'),
      cli('pipelines', 'list-runs', 'ops', '-o', 'json'),
    ]);
    for (const r of [text, json, failed, several, limited, airflow, pipelines]) expect(r.code).toBe(0);
    const lines = text.out.trim().split('\n');
    expect(lines[0]).toMatch(/^RUN\s+LOGICAL DATE\s+TRIGGER\s+STATE/);
    expect(lines[1]).toMatch(new RegExp(`^${FAILED_RUN.replace(/\./g, '\\.')}\\s+2026-01-02T00:00:00Z\\s+manual\\s+failed`));
    expect(lines[2]).toMatch(new RegExp(`^${OK_RUN.replace(/\./g, '\\.')}\\s+2026-01-01T00:00:00Z\\s+manual\\s+success`));
    const all = JSON.parse(json.out) as Array<{ runId: string; state: string; logicalDate: number; pipeline: string }>;
    expect(all.map((r) => [r.runId, r.state])).toEqual([
      [FAILED_RUN, 'failed'],
      [OK_RUN, 'success'],
    ]);
    expect(all[0]!.logicalDate).toBe(Date.parse('2026-01-02T00:00:00Z'));
    expect((JSON.parse(failed.out) as Array<{ runId: string }>).map((r) => r.runId)).toEqual([FAILED_RUN]);
    expect(JSON.parse(several.out)).toHaveLength(2);
    expect((JSON.parse(limited.out) as Array<{ runId: string }>).map((r) => r.runId)).toEqual([FAILED_RUN]);
    expect((JSON.parse(airflow.out) as Array<{ runId: string }>).map((r) => r.runId)).toEqual([FAILED_RUN]);
    expect(JSON.parse(pipelines.out)).toEqual(all);
  });

  it('says so when nothing matches', async () => {
    const r = await cli('dags', 'list-runs', 'on_demand');
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe('no runs of on_demand');
  });
});

describe('dags state and tasks state', () => {
  it('prints just the state of a logical date, or the run with its tasks with --json', async () => {
    const [ok, failed, json] = await Promise.all([
      cli('dags', 'state', 'ops', '2026-01-01T00:00:00Z'),
      cli('dags', 'state', 'ops_dag', '2026-01-02'),
      cli('--json', 'dags', 'state', 'ops', '2026-01-02T00:00:00.000Z'),
    ]);
    expect([ok.code, ok.out]).toEqual([0, 'success\n']);
    expect([failed.code, failed.out]).toEqual([0, 'failed\n']);
    const run = JSON.parse(json.out) as { runId: string; state: string; tasks: Array<{ taskId: string; state: string }> };
    expect(run.runId).toBe(FAILED_RUN);
    expect(run).not.toHaveProperty('created');
    expect(Object.fromEntries(run.tasks.map((t) => [t.taskId, t.state]))).toEqual({ extract: 'success', validate: 'failed', report: 'success', on_failure: 'success' });
  });

  it('prints a task instance state by RUN TASK or by PIPELINE TASK DATE; trigger rules show in the states', async () => {
    const [byRun, byDate, skipped, json] = await Promise.all([
      cli('tasks', 'state', FAILED_RUN, 'validate'),
      cli('tasks', 'state', 'ops', 'report', '2026-01-02'),
      cli('tasks', 'state', 'ops_dag', 'on_failure', '2026-01-01T00:00:00Z'),
      cli('--json', 'tasks', 'state', FAILED_RUN, 'validate'),
    ]);
    expect([byRun.code, byRun.out]).toEqual([0, 'failed\n']);
    expect([byDate.code, byDate.out]).toEqual([0, 'success\n']); // all_done ran after the failure
    expect([skipped.code, skipped.out]).toEqual([0, 'skipped\n']); // one_failed with nothing failed
    const ti = JSON.parse(json.out) as { runId: string; taskId: string; state: string; tryNumber: number; attempts: Array<{ exitCode: number | null; state: string }> };
    expect(ti).toMatchObject({ runId: FAILED_RUN, taskId: 'validate', state: 'failed', tryNumber: 1 });
    expect(ti.attempts).toEqual([expect.objectContaining({ exitCode: 3, state: 'failed' })]);
  });
});

describe('dags next-execution', () => {
  it("shows the next ticks in UTC and in the pipeline's zone across the spring DST change", async () => {
    const [text, json] = await Promise.all([
      cli('dags', 'next-execution', 'ops', '-n', '3', '--after', '2026-03-27T12:00:00Z'),
      cli('--json', 'pipelines', 'next-execution', 'ops_dag', '--num-executions', '3', '--after', '2026-03-27T12:00:00Z'),
    ]);
    expect(text.code).toBe(0);
    const lines = text.out.trim().split('\n');
    expect(lines[0]).toBe('ops: schedule 30 2 * * * in Europe/Berlin');
    expect(lines[1]).toMatch(/^#\s+LOGICAL DATE \(UTC\)\s+LOCAL \(Europe\/Berlin\)$/);
    // 02:30 does not exist on 29 March in Berlin: that tick is 03:00 CEST
    expect(lines.slice(2).map((l) => l.split(/\s+/))).toEqual([
      ['1', '2026-03-28T01:30:00Z', '2026-03-28T02:30:00+01:00'],
      ['2', '2026-03-29T01:00:00Z', '2026-03-29T03:00:00+02:00'],
      ['3', '2026-03-30T00:30:00Z', '2026-03-30T02:30:00+02:00'],
    ]);
    const preview = JSON.parse(json.out) as { pipeline: string; paused: boolean; ticks: Array<{ utc: string; local: string; offset: string }> };
    expect(preview).toMatchObject({ pipeline: 'ops', paused: false, timezone: 'Europe/Berlin' });
    expect(preview.ticks.map((t) => t.offset)).toEqual(['+01:00', '+02:00', '+02:00']);
    for (const t of preview.ticks) expect(Date.parse(t.local)).toBe(Date.parse(t.utc));
  });

  it('defaults to the next tick after now', async () => {
    const before = Date.now();
    const r = await cli('--json', 'dags', 'next-execution', 'ops');
    const preview = JSON.parse(r.out) as { ticks: Array<{ logicalDate: number }> };
    expect(preview.ticks).toHaveLength(1);
    expect(preview.ticks[0]!.logicalDate).toBeGreaterThan(before);
    expect(preview.ticks[0]!.logicalDate - before).toBeLessThanOrEqual(25 * 3600_000);
  });

  it('says a pipeline is paused (config or store) and that one without a schedule has none', async () => {
    const [configPaused, none, noneJson] = await Promise.all([
      cli('dags', 'next-execution', 'nightly', '--after', '2026-03-06T12:00:00Z', '-n', '2'),
      cli('dags', 'next-execution', 'on_demand'),
      cli('--json', 'dags', 'next-execution', 'on_demand'),
    ]);
    expect(configPaused.code).toBe(0);
    expect(configPaused.out).toMatch(/^PAUSED \(paused: true in the config\) — these ticks do not fire until `supervisor dags unpause nightly`$/m);
    expect(configPaused.out).toContain('2026-03-07T09:00:00-05:00');
    expect([none.code, none.out]).toEqual([0, 'on_demand has no schedule: it runs only when triggered (manually, or by its lag/offsets triggers)\n']);
    expect(JSON.parse(noneJson.out)).toMatchObject({ pipeline: 'on_demand', schedule: null, ticks: [], paused: false });

    // paused by an operator, as the daemon's pause store records it
    const db = openDatabase({ file: path.join(dir, 'state.db') });
    try {
      createPipelineStateStore(db).setPaused('ops', true, 'cli:tester', 'maintenance window', Date.parse('2026-01-03T10:00:00Z'));
    } finally {
      db.close();
    }
    const [paused, pausedJson] = await Promise.all([cli('dags', 'next-execution', 'ops'), cli('--json', 'dags', 'next-execution', 'ops')]);
    expect(paused.out).toMatch(/^PAUSED since 2026-01-03T10:00:00Z by cli:tester: maintenance window — /m);
    expect(JSON.parse(pausedJson.out)).toMatchObject({ paused: true, pausedBy: 'cli:tester', pausedAt: Date.parse('2026-01-03T10:00:00Z') });
    const db2 = openDatabase({ file: path.join(dir, 'state.db') });
    try {
      createPipelineStateStore(db2).setPaused('ops', false, 'cli:tester', null, Date.now());
    } finally {
      db2.close();
    }
  });
});

describe('dags show', () => {
  it('draws the DAG as text, Mermaid and DOT with groups and trigger rules, and as JSON', async () => {
    const [text, mermaid, dot, json] = await Promise.all([
      cli('dags', 'show', 'ops'),
      cli('dags', 'show', 'ops', '--format', 'mermaid'),
      cli('pipelines', 'show', 'ops_dag', '--format', 'dot'),
      cli('--json', 'dags', 'show', 'ops', '--format', 'mermaid'),
    ]);
    for (const r of [text, mermaid, dot, json]) expect(r.code).toBe(0);
    const lines = text.out.split('\n');
    const group = lines.indexOf('  [checks]');
    expect(lines[group + 1]).toMatch(/^ {4}extract\s+command\s+\(root\)$/);
    expect(lines[group + 2]).toMatch(/^ {4}validate\s+command\s+\(root\)$/);
    expect(lines.find((l) => /^ {2}on_failure\s/.test(l))).toMatch(/after checks · trigger rule one_failed$/);
    expect(mermaid.out).toMatch(/subgraph g_checks\["checks"\]\n\s+t_extract\["extract<br\/>command"\]\n\s+t_validate\["validate<br\/>command"\]\n\s+end/);
    expect(mermaid.out).toContain('t_validate -.-> t_on_failure');
    expect(dot.out).toMatch(/subgraph cluster_0 \{\n\s+label="checks";/);
    expect(dot.out).toContain('"validate" -> "report" [style=dashed];');
    const graph = JSON.parse(json.out) as { edges: Array<{ from: string; to: string }>; groups: unknown; format: string; source: string };
    expect(graph.edges).toHaveLength(4);
    expect(graph.groups).toEqual([{ id: 'checks', tasks: ['extract', 'validate'] }]);
    expect(graph.format).toBe('mermaid');
    expect(graph.source).toBe(mermaid.out.trimEnd());
  });
});

describe('bad input exits 2 naming what is wrong', () => {
  const cases: Array<[string[], RegExp]> = [
    [['dags', 'list-runs', 'nope'], /no pipeline "nope" \(known: ops \(ops_dag\), nightly, on_demand\)/],
    [['dags', 'list-runs'], /PIPELINE is required/],
    [['dags', 'list-runs', 'ops', '--state', 'bogus'], /--state "bogus" is not a run state; use one of queued, running/],
    [['dags', 'list-runs', 'ops', '-o', 'yaml'], /-o\/--output "yaml" is not an output format; use table or json/],
    [['dags', 'list-runs', 'ops', '--limit', '0'], /--limit must be a positive integer, got "0"/],
    [['dags', 'list-runs', 'ops', '--limit', '501'], /--limit is at most 500/],
    [['dags', 'list-runs', 'ops', '-s', '2026-13-01'], /--start-date: "2026-13-01" has month 13/],
    [['dags', 'state', 'ops', '2026-02-30'], /DATE: "2026-02-30" is not a date/],
    [['dags', 'state', 'ops', '2025-05-05'], /DATE: pipeline "ops" has no run for logical date 2025-05-05T00:00:00Z/],
    [['dags', 'state', 'nope', '2026-01-01'], /no pipeline "nope"/],
    [['tasks', 'state', FAILED_RUN, 'nope'], /TASK: pipeline "ops" has no task "nope" \(tasks: extract, validate, report, on_failure\)/],
    [['tasks', 'state', 'ops.manual__1999', 'validate'], /RUN: run "ops.manual__1999" does not exist/],
    [['tasks', 'state', 'ops', 'validate'], /"ops" is a pipeline: give its logical date too/],
    [['tasks', 'state', 'ops', 'validate', 'yesterday'], /DATE: "yesterday"/],
    [['dags', 'next-execution', 'ops', '-n', '0'], /-n \(--num-executions\) must be an integer from 1 to 1000, got "0"/],
    [['dags', 'next-execution', 'ops', '-n', '1001'], /-n \(--num-executions\) must be an integer from 1 to 1000, got "1001"/],
    [['dags', 'next-execution', 'ops', '-n', 'many'], /-n \(--num-executions\) must be an integer/],
    [['dags', 'next-execution', 'nope'], /no pipeline "nope"/],
    [['dags', 'show', 'ops', '--format', 'png'], /--format "png" is not a format; use one of text, mermaid, dot/],
  ];
  /** In-process through main() (the same parsing and exit-code mapping as the binary), for speed. */
  async function inProcess(args: string[]): Promise<Result> {
    let out = '';
    let err = '';
    const code = await main(args, { env, stdout: (t) => (out += t.endsWith('\n') ? t : `${t}\n`), stderr: (t) => (err += t.endsWith('\n') ? t : `${t}\n`) });
    return { code, out, err };
  }
  const expectNamed = (args: string[], r: Result, message: RegExp) =>
    expect({ args, code: r.code, named: message.test(r.err) ? 'yes' : r.err, out: r.out }).toEqual({ args, code: 2, named: 'yes', out: '' });

  it('from the real binary: an unknown pipeline, a bad date, a bad -n, a bad --state', async () => {
    const picked = ['dags list-runs nope', 'dags state ops 2026-02-30', 'dags next-execution ops -n 0', 'dags list-runs ops --state bogus'];
    const spawned = picked.map((line) => cases.find(([args]) => args.join(' ') === line)!);
    expect(spawned.every(Boolean)).toBe(true);
    for (const [args, message] of spawned) expectNamed(args, await cli(...args), message);
  });

  it.each(cases)('%j', async (args, message) => {
    expectNamed(args, await inProcess(args), message);
  });
});

describe('a run holding only some tasks (`tasks test`)', () => {
  it('answers "none" for a task of the pipeline without an instance, and dags state finds the test run of that date', async () => {
    let out = '';
    const run = (args: string[]) => main(args, { env, stdout: (t) => (out += `${t}\n`), stderr: () => undefined });
    expect(await run(['tasks', 'test', 'ops', 'extract', '2026-02-01'])).toBe(0);
    out = '';
    expect(await run(['--json', 'dags', 'list-runs', 'ops', '-s', '2026-02-01', '-e', '2026-02-01'])).toBe(0);
    const [testRun] = JSON.parse(out) as Array<{ runId: string; kind: string }>;
    expect(testRun).toMatchObject({ kind: 'test' });
    out = '';
    expect(await run(['tasks', 'state', testRun!.runId, 'validate'])).toBe(0);
    expect(out).toBe('none\n');
    out = '';
    expect(await run(['tasks', 'state', testRun!.runId, 'extract'])).toBe(0);
    expect(out).toBe('success\n');
    out = '';
    expect(await run(['dags', 'state', 'ops', '2026-02-01'])).toBe(0);
    expect(out).toBe('success\n');
  });
});
