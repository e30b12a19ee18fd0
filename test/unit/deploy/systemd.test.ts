/**
 * The systemd unit example (deploy/systemd/pipeline-supervisor.service): the launcher, restart on
 * failure but not on a configuration error, the hardening block; and `systemd-analyze verify`
 * accepts it (systemd is installed on these machines).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const UNIT = path.resolve(__dirname, '../../../deploy/systemd/pipeline-supervisor.service');

function parseUnit(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      section = head[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    const key = `${section}.${line.slice(0, eq)}`;
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

describe('systemd unit example', () => {
  const unit = parseUnit(fs.readFileSync(UNIT, 'utf8'));
  const one = (key: string): string | undefined => unit.get(key)?.at(-1);

  it('runs the launcher with `start`, restarts on failure but not on exit 2 (configuration error)', () => {
    expect(one('Service.ExecStart')).toMatch(/^\/usr\/bin\/node \S+\/bin\/supervisor\.js start$/);
    expect(one('Service.Restart')).toBe('on-failure');
    expect(one('Service.RestartPreventExitStatus')).toBe('2');
    expect(one('Service.User')).toBe('supervisor');
    expect(Number.parseInt(one('Service.TimeoutStopSec') ?? '0', 10)).toBeGreaterThanOrEqual(10);
    expect(one('Install.WantedBy')).toBe('multi-user.target');
  });

  it('has the hardening block: no new privileges, read-only system with the state writable, private /tmp, no capabilities', () => {
    expect(one('Service.NoNewPrivileges')).toBe('yes');
    expect(one('Service.ProtectSystem')).toBe('strict');
    expect(one('Service.ReadWritePaths')).toBe('/var/lib/pipeline-supervisor');
    expect(unit.get('Service.Environment')).toContain('SUPERVISOR_STORE=/var/lib/pipeline-supervisor/supervisor.db');
    expect(one('Service.PrivateTmp')).toBe('yes');
    expect(one('Service.ProtectHome')).toBe('yes');
    expect(one('Service.CapabilityBoundingSet')).toBe('');
    expect(one('Service.MemoryDenyWriteExecute')).toBe('no'); // V8's JIT
  });

  it('passes `systemd-analyze verify`', () => {
    // a copy outside the repository: verify also checks that the unit's name is the file's
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'unit-'));
    const copy = path.join(dir, 'pipeline-supervisor.service');
    fs.copyFileSync(UNIT, copy);
    try {
      const out = execFileSync('systemd-analyze', ['verify', copy], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
      expect(out).toBe('');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
