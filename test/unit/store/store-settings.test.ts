/**
 * The `store:` section: SQLite by default, PostgreSQL with url (+ password from the setting, a
 * file or PGPASSWORD, TLS files), and every bad input as SUP_ERR_CONFIG_INVALID naming the key,
 * never the password.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateForStart } from '../../../src/cli/dry-run';
import { readStoreSettings } from '../../../src/config/load';
import { isSupervisorError } from '../../../src/protocol';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-store-settings-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const settings = (yaml: string, env: Record<string, string> = {}) => {
  const file = path.join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(file, yaml);
  return readStoreSettings(file, env);
};
const problem = (yaml: string, env: Record<string, string> = {}): string => {
  try {
    settings(yaml, env);
  } catch (err) {
    if (isSupervisorError(err) && err.code === 'SUP_ERR_CONFIG_INVALID') return [err.message, ...err.problems].join('\n');
    throw err;
  }
  throw new Error('expected SUP_ERR_CONFIG_INVALID');
};

describe('store settings', () => {
  it('is the SQLite file beside the config by default, and store.path otherwise', () => {
    expect(settings('server: { port: 0 }\n')).toEqual({ kind: 'sqlite', path: path.resolve(dir, '../var/supervisor.db') });
    expect(settings('store:\n  path: ${STORE:-s.db}\n')).toEqual({ kind: 'sqlite', path: path.join(dir, 's.db') });
  });

  it('reads a PostgreSQL URL, the password from a file or PGPASSWORD, and the deadline', () => {
    fs.writeFileSync(path.join(dir, 'pw'), 'file-secret\n');
    const s = settings('store:\n  url: postgres://sup@db.example:6543/state\n  password_file: pw\n  timeout: 2s\n');
    expect(s).toEqual({
      kind: 'postgres',
      host: 'db.example',
      port: 6543,
      database: 'state',
      user: 'sup',
      password: 'file-secret',
      timeoutMs: 2_000,
      display: 'postgres://sup@db.example:6543/state',
    });
    expect(settings('store: { url: "postgresql://sup@db" }\n', { PGPASSWORD: 'env-secret' })).toMatchObject({
      port: 5432,
      database: 'sup',
      password: 'env-secret',
      timeoutMs: 5_000,
    });
    expect(settings('store: { url: "postgres://sup@db/x", password: "${PG_PW}" }\n', { PG_PW: 'inline' })).toMatchObject({ password: 'inline' });
  });

  it('refuses a password in the URL without echoing it, a bad URL, and PostgreSQL settings without url', () => {
    const inUrl = problem('store: { url: "postgres://sup:hunter2@db/x" }\n');
    expect(inUrl).toMatch(/store\.url: holds a password; give it as store\.password_file/);
    expect(inUrl).not.toContain('hunter2');
    expect(problem('store: { url: "not a url" }\n')).toMatch(/store\.url: is not a URL/);
    expect(problem('store: { url: "mysql://a@b/c" }\n')).toMatch(/store\.url: must start with postgres:\/\//);
    expect(problem('store: { url: "postgres://db/x" }\n')).toMatch(/store\.url: names no user/);
    expect(problem('store: { url: "postgres://a@db/x?sslmode=require" }\n')).toMatch(/store\.url: takes no query parameters .* TLS goes in store\.ssl/);
    expect(problem('store: { password_file: pw }\n')).toMatch(/store\.password_file: is a PostgreSQL setting; set store\.url too/);
    expect(problem('store: { url: "postgres://a@db/x", timeout: 1ms }\n')).toMatch(/store\.timeout/);
    expect(problem('store: { url: "postgres://a@db/x", tls: {} }\n')).toMatch(/store: Unrecognized key/i);
  });

  it('names the file and the key when a password file or a CA file cannot be read', () => {
    expect(problem('store: { url: "postgres://a@db/x", password_file: missing }\n')).toMatch(/store\.password_file: cannot read .*missing \(no such file/);
    expect(problem('store: { url: "postgres://a@db/x", password: x, password_file: pw }\n')).toMatch(/store\.password and store\.password_file are both set/);
    fs.writeFileSync(path.join(dir, 'not-pem'), 'hello\n');
    expect(problem('store: { url: "postgres://a@db/x", ssl: { ca_file: not-pem } }\n')).toMatch(/store\.ssl\.ca_file: .*not-pem holds no PEM certificate/);
    expect(problem('store: { url: "postgres://a@db/x", ssl: { cert_file: not-pem } }\n')).toMatch(/store\.ssl: cert_file and key_file go together/);
  });

  it('start --dry-run validates a PostgreSQL store section and connects to nothing', async () => {
    const shipped = fs.readFileSync(path.join(__dirname, '../../../config/supervisor.yaml'), 'utf8');
    const yaml = shipped.replace(/^store:\n {2}path: .*$/m, 'store:\n  url: postgres://sup@127.0.0.1:1/nothing_listens_here');
    expect(yaml).toContain('nothing_listens_here');
    const file = path.join(dir, 'dry.yaml');
    fs.writeFileSync(file, yaml);
    const v = await validateForStart({ file, env: {} });
    expect(v.storePath).toBe('postgres://sup@127.0.0.1:1/nothing_listens_here');
    expect(v.storeNote).toMatch(/a dry run connects to nothing/);
  });
});
