/**
 * Issue 13, items 5, 8 and 9: one validation for `config validate` and `start`, every problem at
 * once with file:line:column; the loader reads regular files only, within a size limit, and
 * turns every YAML problem into a positioned error; templates never reach the prototype.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load';
import { SupervisorError } from '../../../src/protocol';
import { LIMITS } from '../../../src/shared/limits';

const DEFAULT = fs.readFileSync(path.join(__dirname, '../../../config/supervisor.yaml'), 'utf8');
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-loader-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(text: string | Buffer, name = 'supervisor.yaml'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function rejection(file: string, storedVariables: Record<string, string> = {}): SupervisorError {
  try {
    loadConfig({ file, env: {}, storedVariables });
  } catch (err) {
    expect(err).toBeInstanceOf(SupervisorError);
    expect((err as SupervisorError).code).toBe('SUP_ERR_CONFIG_INVALID');
    return err as SupervisorError;
  }
  throw new Error('expected the config to be rejected');
}

const problems = (text: string, stored?: Record<string, string>): string[] => {
  const err = rejection(write(text), stored);
  return err.problems.length ? [...err.problems] : [err.message];
};

describe('schedules, time zones and check intervals are validated as start validates them', () => {
  it.each([
    '61 * * * *',
    '* 24 * * *',
    '* * 32 * *',
    '* * * 13 *',
    '* * * * 8',
    '*/0 * * * *',
    '5-1 * * * *',
    '* * * *',
    '* * * * * * *',
    '0 0 31 2 *',
    'a b c d e',
    '@every 5m',
    '1,,2 * * * *',
  ])('rejects the cron expression %p with its position', (cron) => {
    const found = problems(DEFAULT.replace('schedule: "0 * * * *"', `schedule: ${JSON.stringify(cron)}`));
    expect(found).toEqual([expect.stringMatching(/supervisor\.yaml:\d+:\d+: pipelines\.domain_ingestion\.schedule: .*(cron expression|never fires)/)]);
  });

  it.each(['Mars/Olympus', 'Europe/Nowhere', 'UTC+2', '', 'America/New York'])('rejects the time zone %p with its position', (zone) => {
    const text = DEFAULT.replace(/timezone: UTC/, `timezone: ${JSON.stringify(zone)}`);
    expect(problems(text)).toEqual([expect.stringMatching(/:\d+:\d+: pipelines\.domain_ingestion\.timezone: unknown time zone/)]);
  });

  it('rejects interval "0" and 30 days, and reports every problem of the file at once', () => {
    const text = DEFAULT.replace('interval: 15s', 'interval: "0"')
      .replace('schedule: "*/15 * * * *"', 'schedule: "61 * * * *"')
      .replace('max_age: 30m', 'max_age: soon')
      .replace('execution_timeout: 30m', 'execution_timeout: 99999999999999999999d')
      .replace('run_timeout: 1h', 'run_timeout: 1e20')
      .replace('interval: 30s', 'interval: 30d');
    const found = problems(text);
    expect(found).toHaveLength(6);
    for (const p of found) expect(p).toMatch(/supervisor\.yaml:\d+:\d+: /);
    const text1 = found.join('\n');
    expect(text1).toMatch(/checks\.kafka\.interval: "0" is shorter than the minimum/);
    expect(text1).toMatch(/interval: "30d" is longer than the maximum/);
    expect(text1).toMatch(/pipelines\.monitoring\.schedule: invalid cron expression "61 \* \* \* \*"/);
    expect(text1).toMatch(/max_age: .*"soon" is not a duration/);
    expect(text1).toMatch(/execution_timeout: "99999999999999999999d" is longer than the maximum of 366d/);
    expect(text1).toMatch(/run_timeout: 100000000000000000000 is longer than the maximum/);
  });
});

describe('the loader', () => {
  it.each([
    ['!!binary', 'server:\n  port: !!binary aGVsbG8=\n', /:2:\d+: server\.port: the YAML tag !!binary is not accepted/],
    ['!!set', 'variables: !!set {a, b}\n', /:1:\d+: variables: the YAML tag !!set is not accepted/],
    ['!!timestamp', 'variables:\n  a: !!timestamp 2001-12-14\n', /:2:\d+: variables\.a: the YAML tag !!timestamp/],
    ['a custom tag', 'server: !evil {host: x}\n', /^[^\n]*:1:\d+: server: the YAML tag !evil is not accepted[^\n]*$/],
    ['an undefined alias', 'server:\n  port: *x\n', /:2:9: server\.port: the alias \*x names no anchor/],
    [
      'an alias bomb',
      'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n',
      /:2:\d+: the aliases expand to more than 100 copies/,
    ],
    ['an empty file', '', /:1:1: \(root\): the file has no settings/],
    ['a comment only', '# nothing\n', /:1:1: \(root\): the file has no settings/],
    ['a list at the top', '- a\n- b\n', /:1:1: \(root\): expected a map of sections/],
    ['port ""', 'server:\n  port: ""\n', /:2:9: server\.port: expected a port number 0–65535 \(0 = any free port\), got ""/],
    ['port "abc"', 'server:\n  port: abc\n', /:2:9: server\.port: expected a port number/],
    ['a map key', 'server:\n  ? [a]\n  : 1\n', /:2:\d+: server: keys must be plain strings/],
    ['deep nesting', `variables: ${'['.repeat(200)}${']'.repeat(200)}\n`, /nested deeper than 64 levels/],
    ['a duplicate key', 'server:\n  port: 1\n  port: 2\n', /:3:3: Map keys must be unique/],
  ])('gives a positioned error for %s', (_what, text, expected) => {
    const found = problems(text);
    expect(found.join('\n')).toMatch(expected);
  });

  it('reports YAML-level problems together with the schema problems of the rest of the file', () => {
    const text = DEFAULT.replace('port: ${SUPERVISOR_PORT:-8090}', 'port: !!binary aGVsbG8=')
      .replace('schedule: "0 * * * *"', 'schedule: "61 * * * *"')
      .replace('  kafka:\n    kind: kafka_cluster', '  __proto__:\n    kind: kafka_cluster')
      .replace('interval: 30s', 'interval: *nowhere');
    const found = problems(text);
    expect(found).toHaveLength(4);
    expect(found[0]).toMatch(/:12:\d+: server\.port: the YAML tag !!binary is not accepted/);
    expect(found.join('\n')).toMatch(/checks\.__proto__: "__proto__" is a reserved name/);
    expect(found.join('\n')).toMatch(/interval: the alias \*nowhere names no anchor/);
    expect(found.join('\n')).toMatch(/pipelines\.domain_ingestion\.schedule: invalid cron expression/);
  });

  it('refuses /dev/zero, a FIFO and a directory before reading them (no hang, no out-of-memory)', () => {
    expect(rejection('/dev/zero').message).toMatch(/must be a regular file; this is a device/);
    const fifo = path.join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    expect(rejection(fifo).message).toMatch(/must be a regular file; this is a FIFO/);
    expect(rejection(dir).message).toMatch(/this is a directory/);
  });

  it(`refuses a file above ${LIMITS.configFileBytes} bytes`, () => {
    const file = write(`# ${'x'.repeat(LIMITS.configFileBytes)}\nserver: {}\n`);
    expect(rejection(file).message).toMatch(new RegExp(`at most ${LIMITS.configFileBytes} bytes`));
  });

  it('reads a symlink to a regular file', () => {
    const target = write(DEFAULT, 'real.yaml');
    const link = path.join(dir, 'link.yaml');
    fs.symlinkSync(target, link);
    expect(loadConfig({ file: link, env: {} }).config.pipelines.monitoring).toBeDefined();
  });
});

describe('templates and names never reach the prototype', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'])('{{ var.%s }} is an undefined variable, named', (name) => {
    expect(problems(`server:\n  host: "{{ var.${name} }}"\n`)).toEqual([expect.stringMatching(new RegExp(`:2:9: server\\.host: variable "${name}" is not defined`))]);
  });

  it('${__proto__} and ${constructor} are unset environment variables', () => {
    expect(problems('server:\n  host: "${__proto__}"\n  public_url: "${constructor}"\n')).toEqual([
      expect.stringMatching(/:2:9: server\.host: environment variable __proto__ is not set/),
      expect.stringMatching(/:3:15: server\.public_url: environment variable constructor is not set/),
    ]);
  });

  it.each([
    ['a check', 'checks:\n  __proto__:\n    kind: kafka_cluster\n', /:2:3: checks\.__proto__: "__proto__" is a reserved name/],
    ['a pipeline', 'pipelines:\n  constructor:\n    tasks: [{ id: a, operator: notify }]\n', /:2:3: pipelines\.constructor: "constructor" is a reserved name/],
    ['a variable', 'variables:\n  __proto__: x\n', /:2:3: variables\.__proto__: "__proto__" is a reserved name/],
    ['a top-level key', '__proto__: {}\nserver: {}\n', /:1:1: __proto__: "__proto__" is a reserved name/],
  ])('%s named __proto__ or constructor is an error, not silently dropped', (_what, text, expected) => {
    expect(problems(text).join('\n')).toMatch(expected);
  });

  it('a stored variable named like a prototype member does not leak into templates', () => {
    const loaded = loadConfig({ file: write('variables:\n  a: x\nserver:\n  host: "{{ var.a }}"\n'), env: {}, storedVariables: { toString: 'y' } });
    expect(loaded.config.server.host).toBe('x');
    expect(Object.getPrototypeOf(loaded.variables)).toBeNull();
  });
});
