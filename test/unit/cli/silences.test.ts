import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli/main';

function sandbox(): { dir: string; run: (...argv: string[]) => Promise<{ code: number; out: string; err: string }> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-silences-'));
  const config = path.join(dir, 'supervisor.yaml');
  fs.writeFileSync(config, 'server: { port: 0 }\nstore: { path: state.db }\n');
  const env = { SUPERVISOR_CONFIG: config };
  return {
    dir,
    run: async (...argv) => {
      let out = '';
      let err = '';
      const code = await main(argv, { env, stdout: (s) => (out += s.endsWith('\n') ? s : s + '\n'), stderr: (s) => (err += s.endsWith('\n') ? s : s + '\n') });
      return { code, out, err };
    },
  };
}

describe('supervisor silences (CLI, on the store directly)', () => {
  let box: ReturnType<typeof sandbox>;
  beforeEach(() => {
    box = sandbox();
  });
  afterEach(() => fs.rmSync(box.dir, { recursive: true, force: true }));

  it('creates, lists and expires a silence', async () => {
    const created = await box.run(
      'silences',
      'create',
      '--matcher',
      'alertname=data_stale',
      '--matcher',
      'check=~gold_.*',
      '--duration',
      '2h',
      '--comment',
      'backfill',
      '--created-by',
      'ops',
    );
    expect(created).toMatchObject({ code: 0, err: expect.stringContaining('alertname=data_stale,check=~gold_.*') });
    const id = created.out.trim();
    const listed = JSON.parse((await box.run('silences', 'list', '--json')).out) as Array<Record<string, unknown>>;
    expect(listed).toEqual([expect.objectContaining({ id, matchers: { alertname: 'data_stale', check: '~gold_.*' }, createdBy: 'ops', comment: 'backfill', state: 'active' })]);
    expect((listed[0]!.endsAt as number) - (listed[0]!.startsAt as number)).toBe(2 * 3_600_000);
    expect((await box.run('silences', 'list')).out).toContain(id);
    expect(await box.run('silences', 'expire', id)).toMatchObject({ code: 0, out: `expired ${id}\n` });
    expect(await box.run('silences', 'list')).toMatchObject({ code: 0, out: 'no active silences\n' });
    expect(JSON.parse((await box.run('--json', 'silences', 'list', '--all')).out)).toEqual([expect.objectContaining({ id, state: 'expired' })]);
    expect(await box.run('silences', 'expire', id)).toMatchObject({ code: 2, err: expect.stringContaining(`SUP_ERR_NOT_FOUND: no active silence "${id}"`) });
  });

  it('accepts the reported pattern and an end date', async () => {
    const day = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    const r = await box.run('--json', 'silences', 'create', '--matcher', 'alertname=~(.*.*)*x', '--ends-at', day, '--comment', 'x');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ matchers: { alertname: '~(.*.*)*x' }, endsAt: Date.parse(`${day}T00:00:00Z`), createdBy: expect.stringMatching(/^cli/) });
    const tooFar = await box.run('silences', 'create', '--matcher', 'a=b', '--ends-at', '9999-01-01', '--comment', 'x');
    expect(tooFar).toMatchObject({ code: 2, err: expect.stringContaining('--ends-at: is more than 366 days from now') });
  });

  it('exits 2 naming the field for the API’s validation errors, and stores nothing', async () => {
    const bad = await box.run('silences', 'create', '--matcher', 'alertname=~(?=x)', '--matcher', 'nolabel', '--duration', '2h', '--comment', 'x');
    expect(bad).toMatchObject({ code: 2, err: expect.stringContaining('--matcher "nolabel": write label=value or label=~regex') });
    const regex = await box.run('silences', 'create', '--matcher', 'alertname=~(?=x)', '--duration', '2h', '--comment', 'x');
    expect(regex).toMatchObject({ code: 2, err: expect.stringMatching(/SUP_ERR_USAGE: invalid silence\n {2}- matchers\.alertname: invalid regular expression/) });
    const long = await box.run('silences', 'create', '--matcher', `check=~${'a'.repeat(501)}`, '--duration', '2h', '--comment', 'x');
    expect(long).toMatchObject({ code: 2, err: expect.stringContaining('matchers.check: regular expression') });
    expect(await box.run('silences', 'create', '--matcher', 'a=b', '--comment', 'x')).toMatchObject({
      code: 2,
      err: expect.stringContaining('--duration, --ends-at: one of them is required'),
    });
    expect(await box.run('silences', 'create', '--matcher', 'a=b', '--ends-at', '2025-02-30', '--comment', 'x')).toMatchObject({
      code: 2,
      err: expect.stringContaining('--ends-at: "2025-02-30" is not a date'),
    });
    expect(await box.run('silences', 'create', '--duration', '1h', '--comment', 'x')).toMatchObject({ code: 2, err: expect.stringContaining('matchers: is empty') });
    expect(await box.run('silences', 'create', '--matcher', 'a=b', '--duration', '1h')).toMatchObject({
      code: 2,
      err: expect.stringContaining("required option '--comment <text>'"),
    });
    expect(JSON.parse((await box.run('silences', 'list', '--all', '--json')).out)).toEqual([]);
    expect(bad.err).not.toMatch(/\n\s+at /); // no stack trace
  });
});
