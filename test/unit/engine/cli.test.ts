import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { createCliContext } from '../../../src/cli/context';
import { registerDagCommands } from '../../../src/cli/commands/dags';
import { registerLogCommands } from '../../../src/cli/commands/logs';
import { registerPipelineCommands } from '../../../src/cli/commands/pipelines';
import { registerRunCommands } from '../../../src/cli/commands/runs';
import { registerTaskCommands } from '../../../src/cli/commands/tasks';
import { isSupervisorError } from '../../../src/protocol';

const NODE = JSON.stringify(process.execPath);

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-cli-'));
  const file = path.join(dir, 'supervisor.yaml');
  fs.writeFileSync(
    file,
    `store:
  path: ./state.db
pipelines:
  hello:
    aliases: [hello_dag]
    schedule: "0 0 * * *"
    tasks:
      - id: first
        operator: command
        params: { command: [${NODE}, -e, "console.log('first ran')"] }
      - id: second
        operator: command
        upstream: [first]
        params: { command: [${NODE}, -e, "console.log('second ran for ' + process.env.SUPERVISOR_LOGICAL_DATE)"] }
`,
  );
  return { dir, file };
}

async function cli(file: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  let code = 0;
  const setExit = (c: number) => {
    code = Math.max(code, c);
  };
  const ctx = createCliContext({ configFile: file, env: {}, stdout: (s) => (out += s + '\n'), stderr: (s) => (err += s + '\n') });
  const program = new Command('supervisor').exitOverride();
  registerPipelineCommands(program, ctx, setExit);
  registerDagCommands(program, ctx, setExit);
  registerTaskCommands(program, ctx, setExit);
  registerRunCommands(program, ctx, setExit);
  registerLogCommands(program, ctx, setExit);
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (isSupervisorError(e)) {
      err += e.format();
      setExit(e.code === 'SUP_ERR_USAGE' || e.code === 'SUP_ERR_NOT_FOUND' ? 2 : 1);
    } else throw e;
  } finally {
    ctx.close();
  }
  return { code, out, err };
}

describe('pipelines CLI', () => {
  let env: { dir: string; file: string };
  beforeEach(() => {
    env = setup();
  });
  afterEach(() => fs.rmSync(env.dir, { recursive: true, force: true }));

  it('lists pipelines and validates the config like `dags list-import-errors`', async () => {
    const list = await cli(env.file, ['dags', 'list']);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/hello\s+hello_dag\s+0 0 \* \* \*/);
    const errors = await cli(env.file, ['dags', 'list-import-errors']);
    expect(errors.out).toMatch(/no import errors/);
    fs.appendFileSync(env.file, '      - id: third\n        operator: nope\n');
    const bad = await cli(env.file, ['dags', 'list-import-errors']);
    expect(bad.code).toBe(2); // a config error exits 2, as for start and config validate (issue 13, item 14)
    expect(bad.out).toMatch(/SUP_ERR_CONFIG_INVALID/);
    expect(bad.out).toMatch(/pipelines\.hello\.tasks\[2\]\.operator/);
  });

  it('dags test runs the DAG in-process; runs show and logs read it back', async () => {
    const r = await cli(env.file, ['dags', 'test', 'hello_dag', '2025-10-05']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/state success/);
    const runId = /run (\S+)/.exec(r.out)![1]!;
    expect(runId).toMatch(/^hello\.test__2025-10-05T00:00:00\.000Z__test_/);
    const show = await cli(env.file, ['runs', 'show', runId]);
    expect(show.out).toMatch(/second\s+success\s+1\/1/);
    const logs = await cli(env.file, ['logs', runId, 'second']);
    expect(logs.out).toContain('second ran for 2025-10-05T00:00:00.000Z');
    const missing = await cli(env.file, ['logs', 'nope']);
    expect(missing.code).toBe(2);
  });

  it('tasks test runs one task only', async () => {
    const r = await cli(env.file, ['tasks', 'test', 'hello', 'second', '2025-10-05']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('second ran for');
    expect(r.out).not.toMatch(/^\s*first\s/m);
  });

  it('trigger queues a manual run once per logical date; --local runs it', async () => {
    const q = await cli(env.file, ['pipelines', 'trigger', 'hello', '--logical-date', '2025-10-01', '--conf', '{"a":1}']);
    expect(q.out).toMatch(/queued hello\.manual__2025-10-01T00:00:00\.000Z/);
    const dup = await cli(env.file, ['pipelines', 'trigger', 'hello', '--logical-date', '2025-10-01']);
    expect(dup.err).toMatch(/already exists/);
    const local = await cli(env.file, ['pipelines', 'trigger', 'hello', '--logical-date', '2025-10-02', '--local']);
    expect(local.code).toBe(0);
    expect(local.out).toMatch(/state success/);
    const list = await cli(env.file, ['runs', 'list', '--pipeline', 'hello_dag']);
    expect(list.out).toMatch(/hello\.manual__2025-10-02T00:00:00\.000Z\s+hello\s+2025-10-02T00:00:00Z\s+manual\s+success/);
    expect(list.out).toMatch(/hello\.manual__2025-10-01T00:00:00\.000Z\s+hello\s+2025-10-01T00:00:00Z\s+manual\s+queued/);
  });

  it('backfill --dry-run plans; a real backfill runs every tick and prints a summary', async () => {
    const dry = await cli(env.file, ['dags', 'backfill', 'hello_dag', '--start-date', '2025-10-01', '--end-date', '2025-10-03', '--dry-run']);
    expect(dry.out).toMatch(/dry run: hello: 3 logical date\(s\)/);
    const real = await cli(env.file, ['pipelines', 'backfill', 'hello', '-s', '2025-10-01', '-e', '2025-10-03', '--max-active', '2']);
    expect(real.code).toBe(0);
    expect(real.out).toMatch(/3 to run, 0 to re-run, 0 already done; 3 succeeded, 0 failed/);
    const again = await cli(env.file, ['pipelines', 'backfill', 'hello', '-s', '2025-10-01', '-e', '2025-10-03']);
    expect(again.out).toMatch(/0 to run, 0 to re-run, 3 already done/);
  });

  it('bad input is a usage error with exit code 2', async () => {
    expect((await cli(env.file, ['dags', 'test', 'hello', 'yesterday'])).err).toMatch(/SUP_ERR_USAGE: DATE: "yesterday" is not a date/);
    expect((await cli(env.file, ['pipelines', 'trigger', 'hello', '--conf', '[1]'])).code).toBe(2);
    const unknown = await cli(env.file, ['pipelines', 'trigger', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/no pipeline "nope" \(known: hello \(hello_dag\)\)/);
  });
});
