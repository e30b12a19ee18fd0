import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli/main';

function sandbox(): { env: Record<string, string>; run: (...argv: string[]) => Promise<{ code: number; out: string; err: string }> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-cli-'));
  const config = path.join(dir, 'supervisor.yaml');
  fs.copyFileSync(path.join(__dirname, '../../../config/supervisor.yaml'), config);
  const env = { SUPERVISOR_CONFIG: config, SUPERVISOR_STORE: path.join(dir, 'state.db') };
  return {
    env,
    run: async (...argv) => {
      let out = '';
      let err = '';
      const code = await main(argv, { env, stdout: (s) => (out += s.endsWith('\n') ? s : s + '\n'), stderr: (s) => (err += s.endsWith('\n') ? s : s + '\n') });
      return { code, out, err };
    },
  };
}

describe('supervisor variables (CLI)', () => {
  it('round-trips set, get, list and delete, and the config sees stored values', async () => {
    const { run } = sandbox();
    expect(await run('variables', 'set', 'kafka_servers', 'kafka:9092')).toMatchObject({ code: 0, out: 'kafka_servers = kafka:9092\n' });
    expect(await run('variables', 'get', 'kafka_servers')).toMatchObject({ code: 0, out: 'kafka:9092\n' });
    const list = await run('--json', 'variables', 'list');
    expect(JSON.parse(list.out)).toEqual(
      expect.arrayContaining([
        { key: 'kafka_servers', value: 'kafka:9092', source: 'store' },
        { key: 'gold_path', value: 's3a://delta-lake/gold', source: 'config' },
      ]),
    );
    const shown = await run('--json', 'config', 'show');
    expect(JSON.parse(shown.out).connections.kafka.brokers).toEqual(['kafka:9092']);
    expect(await run('variables', 'delete', 'kafka_servers')).toMatchObject({ code: 0 });
    expect(await run('variables', 'get', 'kafka_servers')).toMatchObject({ code: 0, out: '127.0.0.1:9092\n' });
    expect(await run('variables', 'delete', 'kafka_servers')).toMatchObject({ code: 1, err: expect.stringContaining('is not stored') });
  });

  it('rejects an invalid name and a missing argument with usage errors', async () => {
    const { run } = sandbox();
    expect(await run('variables', 'set', 'bad name', 'x')).toMatchObject({ code: 2, err: expect.stringContaining('invalid variable name') });
    expect(await run('variables', 'set', 'only_key')).toMatchObject({ code: 2, err: expect.stringContaining("missing required argument 'value'") });
  });
});

describe('supervisor config', () => {
  it('validates the default config and reports every problem of a bad one with exit 2', async () => {
    const { run } = sandbox();
    expect(await run('config', 'validate')).toMatchObject({ code: 0, out: expect.stringMatching(/^OK .*2 pipeline\(s\)/) });
    const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sup-bad-')), 'bad.yaml');
    fs.writeFileSync(bad, 'server:\n  port: nope\n  extra: 1\n');
    const result = await run('config', 'validate', bad);
    expect(result.code).toBe(2); // a config error exits 2, as for start (issue 13, item 14)
    expect(result.out).toContain('SUP_ERR_CONFIG_INVALID: 2 problem(s)');
    expect(result.out).toMatch(/bad\.yaml:2:9: server\.port/);
    expect(result.out).toMatch(/bad\.yaml:3:3: server\.extra: unknown key/);
  });

  it('redacts secrets in config show', async () => {
    const { run } = sandbox();
    const shown = await run('config', 'show');
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/secret_access_key: "?\[redacted\]"?/);
    expect(shown.out).not.toContain('local-secret-key');
  });

  it('answers an unknown command with a usage error', async () => {
    const { run } = sandbox();
    expect((await run('frobnicate')).code).toBe(2);
  });
});

describe('supervisor tokens', () => {
  it('prints a token once, refuses a duplicate name and lists without secrets', async () => {
    const { run } = sandbox();
    const created = await run('tokens', 'create', '--name', 'ci', '--read-only');
    expect(created.code).toBe(0);
    const token = created.out.trim();
    expect(token).toMatch(/^sup_[A-Za-z0-9_-]{43}$/);
    expect((await run('tokens', 'create', '--name', 'ci')).code).toBe(2);
    const list = await run('--json', 'tokens', 'list');
    expect(list.out).not.toContain(token);
    expect(JSON.parse(list.out)).toEqual([expect.objectContaining({ name: 'ci', readOnly: true })]);
  });
});
