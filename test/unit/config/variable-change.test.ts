/** Issue 13, item 12: a variable change that would stop the next start is refused with the config's error. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkVariableChange, variableProblem } from '../../../src/config/variable-change';
import { SupervisorError } from '../../../src/protocol';
import { LIMITS } from '../../../src/shared/limits';

const file = path.join(__dirname, '../../../config/supervisor.yaml');

describe('checkVariableChange', () => {
  it('accepts a change the config loads with and returns the config as it would be', () => {
    const loaded = checkVariableChange({ file, env: {}, storedVariables: {}, key: 'kafka_servers', value: 'kafka-1:9092,kafka-2:9092' });
    expect(loaded?.config.connections.kafka.brokers).toEqual(['kafka-1:9092', 'kafka-2:9092']);
  });

  it('refuses kafka_servers = "" with the config problem it causes, positioned', () => {
    let err: unknown;
    try {
      checkVariableChange({ file, env: {}, storedVariables: {}, key: 'kafka_servers', value: '' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SupervisorError);
    const e = err as SupervisorError;
    expect(e.code).toBe('SUP_ERR_CONFIG_INVALID');
    expect(e.message).toMatch(/setting variable "kafka_servers" to "" would make the configuration invalid/);
    expect(e.problems.length).toBeGreaterThan(0);
    for (const p of e.problems) expect(p).toMatch(/supervisor\.yaml:\d+:\d+: /);
    expect(e.problems.join('\n')).toMatch(/brokers/);
  });

  it('refuses a delete that leaves a {{ var.x }} undefined', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-varchange-'));
    const cfg = path.join(dir, 'supervisor.yaml');
    fs.writeFileSync(cfg, 'server:\n  host: "{{ var.bind }}"\n');
    expect(checkVariableChange({ file: cfg, env: {}, storedVariables: { bind: '0.0.0.0' }, key: 'other', value: 'x' })?.config.server.host).toBe('0.0.0.0');
    expect(() => checkVariableChange({ file: cfg, env: {}, storedVariables: { bind: '0.0.0.0' }, key: 'bind', value: undefined })).toThrow(
      /deleting variable "bind" would make the configuration invalid/,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('does not block a change because of a problem that exists with or without it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-varchange-'));
    const cfg = path.join(dir, 'supervisor.yaml');
    // the daemon's unit file sets SECRET; the CLI's environment does not
    fs.writeFileSync(cfg, 'server:\n  host: "${SECRET}"\nvariables:\n  a: x\n');
    expect(checkVariableChange({ file: cfg, env: {}, storedVariables: {}, key: 'a', value: 'y' })).toBeNull();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('variableProblem (the limits the CLI and the API share)', () => {
  it('names what is wrong', () => {
    expect(variableProblem('kafka_servers', 'a:1')).toBeNull();
    expect(variableProblem('')).toMatch(/empty/);
    expect(variableProblem('bad name')).toMatch(/invalid variable name/);
    expect(variableProblem('__proto__')).toMatch(/reserved/);
    expect(variableProblem('k'.repeat(LIMITS.variableKeyLength + 1))).toMatch(new RegExp(`at most ${LIMITS.variableKeyLength}`));
    expect(variableProblem('k', 'v'.repeat(LIMITS.variableValueLength + 1))).toMatch(new RegExp(`at most ${LIMITS.variableValueLength}`));
    expect(variableProblem('k', 'v'.repeat(LIMITS.variableValueLength))).toBeNull();
  });
});
