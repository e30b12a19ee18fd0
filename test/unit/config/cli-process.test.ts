/**
 * Issue 13, items 5, 10 and 14 as a user meets them: the real `bin/supervisor.js` (dist/, built
 * by `npm run build`). Usage and config errors exit 2 with a short message, never a stack trace.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '../../..');
const BIN = path.join(ROOT, 'bin/supervisor.js');
const STACK_TRACE = /\n\s+at .+:\d+:\d+\)?/;

let dir: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-cli-proc-'));
  fs.copyFileSync(path.join(ROOT, 'config/supervisor.yaml'), path.join(dir, 'supervisor.yaml'));
  env = { PATH: process.env.PATH, HOME: dir, SUPERVISOR_CONFIG: path.join(dir, 'supervisor.yaml'), SUPERVISOR_STORE: path.join(dir, 'state.db') };
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], extraEnv: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 30_000 });
  expect(r.error).toBeUndefined();
  expect(`${r.stdout}${r.stderr}`).not.toMatch(STACK_TRACE);
  expect(`${r.stdout}${r.stderr}`).not.toMatch(/SUP_ERR_INTERNAL/);
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('usage errors exit 2 with a clear message', () => {
  it.each([
    [['--log-level', 'bogus', 'config', 'validate'], /argument 'bogus' is invalid\. Allowed choices are trace, debug/],
    [['start', '--port', 'abc'], /--port[^\n]*"?abc"? is (?:invalid|not a port)|--port must be a port number 0–65535, got "abc"/],
    [['start', '--port', '70000', '--dry-run'], /--port[^\n]*70000|70000[^\n]*port/],
    [['tokens', 'create', '--name', ''], /--name: a token needs a name/],
    [['tokens', 'create', '--name', '   '], /--name: a token needs a name/],
    [['dags', 'test', 'monitoring', '2025-02-30'], /DATE: "2025-02-30" is not a date: 2025-02 has 28 days/],
    [['pipelines', 'test', 'monitoring', '0000-01-01'], /DATE: "0000-01-01" has year 0/],
    [['dags', 'trigger', 'monitoring', '--logical-date', '2025-13-01'], /--logical-date: "2025-13-01" has month 13/],
    [['dags', 'backfill', 'monitoring', '-s', '2025-02-30', '-e', '2025-03-01'], /--start-date: "2025-02-30" is not a date/],
    [['dags', 'backfill', 'monitoring', '-s', '2025-02-01', '-e', '2025-02-02', '--max-active', '1000000000'], /--max-active is at most 64/],
    [['dags', 'backfill', 'monitoring', '-s', '2025-02-01', '-e', '2025-02-02', '--max-active', '1e3'], /--max-active must be a positive integer/],
    [['dags', 'trigger', 'monitoring', '--conf', `${'['.repeat(40)}${']'.repeat(40)}`], /--conf nests 40 levels deep; at most 32/],
    [['variables', 'set', 'k'.repeat(201), 'v'], /at most 200/],
    [['variables', 'set', '__proto__', 'v'], /reserved/],
  ])('%j', (args, message) => {
    const r = cli(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('LOG_LEVEL=bogus is named too', () => {
    const r = cli(['config', 'validate'], { LOG_LEVEL: 'bogus' });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/LOG_LEVEL "bogus" is not a log level/);
  });

  it('variables set refuses a value above the shared limit', () => {
    const r = spawnSync(process.execPath, [BIN, 'variables', 'set', 'big', 'v'.repeat(65_537)], { env, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/at most 65536/);
  });
});

describe('config errors exit 2, positioned, the same from config validate, start --dry-run and start', () => {
  it('an invalid cron, time zone and interval "0" are reported at once by all three', () => {
    const file = path.join(dir, 'supervisor.yaml');
    fs.writeFileSync(
      file,
      fs
        .readFileSync(file, 'utf8')
        .replace('schedule: "0 * * * *"', 'schedule: "61 * * * *"')
        .replace('timezone: UTC', 'timezone: Mars/Olympus')
        .replace('interval: 15s', 'interval: "0"'),
    );
    const validate = cli(['config', 'validate']);
    const dry = cli(['start', '--dry-run']);
    const start = cli(['start', '--port', '0']);
    for (const r of [validate, dry, start]) {
      expect(r.code).toBe(2);
      const text = r.out + r.err;
      expect(text).toMatch(/supervisor\.yaml:\d+:\d+: pipelines\.domain_ingestion\.schedule: invalid cron expression "61 \* \* \* \*"/);
      expect(text).toMatch(/supervisor\.yaml:\d+:\d+: pipelines\.domain_ingestion\.timezone: unknown time zone "Mars\/Olympus"/);
      expect(text).toMatch(/supervisor\.yaml:\d+:\d+: checks\.kafka\.interval: "0" is shorter than the minimum/);
    }
  });

  it('start --dry-run exits 0 for the shipped config without creating the store', () => {
    const r = cli(['start', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/dry run OK .*2 pipeline\(s\), 7 check\(s\)/);
    expect(fs.existsSync(path.join(dir, 'state.db'))).toBe(false);
  });

  it('config validate on /dev/zero and on a FIFO refuses at once', () => {
    const fifo = path.join(dir, 'fifo.yaml');
    spawnSync('mkfifo', [fifo]);
    for (const target of ['/dev/zero', fifo]) {
      const r = cli(['config', 'validate', target]);
      expect(r.code).toBe(2);
      expect(r.out).toMatch(/must be a regular file/);
    }
  });
});

describe('variables', () => {
  it('a change that would stop the next start is refused with the config error; control characters are escaped on output', () => {
    const refused = cli(['variables', 'set', 'kafka_servers', '']);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/setting variable "kafka_servers" to "" would make the configuration invalid/);
    expect(refused.err).toMatch(/supervisor\.yaml:\d+:\d+: connections\.kafka\.brokers/);
    expect(cli(['variables', 'get', 'kafka_servers']).out).toBe('127.0.0.1:9092\n');

    const evil = 'x\u001b[2J\u0007y';
    expect(cli(['variables', 'set', 'note', evil]).code).toBe(0);
    const got = cli(['variables', 'get', 'note']);
    expect(got.out).toBe('x\\u001b[2J\\u0007y\n');
    expect(got.out).not.toContain('\u001b');
    expect(cli(['variables', 'list']).out).not.toContain('\u001b');
    // --json keeps the value exact (JSON escapes it)
    expect((JSON.parse(cli(['--json', 'variables', 'get', 'note']).out) as { value: string }).value).toBe(evil);
  });
});
