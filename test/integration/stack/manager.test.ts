/**
 * The stack manager's own behaviour, on a private STACK_HOME and free ports (the SMTP sink: a
 * real service that needs no install): refuses a port held by another process with a clear
 * error, starts, reuses on a second `up`, reports status with the pid, and `down` stops exactly
 * the recorded process.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { processExists } from '../../helpers/process';

type Manager = typeof import('../../../stack/manager');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

describe('local stack: manager', () => {
  const saved = { ...process.env };
  let home: string;
  let manager: Manager;
  let smtpPort: number;
  let apiPort: number;
  const quiet = { info: () => undefined, warn: () => undefined };

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-manager-'));
    smtpPort = await freePort();
    apiPort = await freePort();
    process.env.STACK_HOME = home;
    process.env.STACK_SMTP_PORT = String(smtpPort);
    process.env.STACK_SMTP_API_PORT = String(apiPort);
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- jest.isolateModules needs a synchronous require to load a fresh copy
      manager = require('../../../stack/manager') as Manager;
    });
  });

  afterAll(async () => {
    await manager?.down(['smtp'], { log: quiet }).catch(() => undefined);
    process.env = saved;
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('refuses a port held by a process it did not start, naming port and service', async () => {
    const squatter = net.createServer().listen(smtpPort, '127.0.0.1');
    await new Promise((r) => squatter.once('listening', r));
    try {
      await expect(manager.up(['smtp'], { log: quiet, owner: 'test' })).rejects.toThrow(
        new RegExp(`port ${smtpPort} \\(smtp smtp\\) is already in use by .*which this stack did not start`),
      );
      const [st] = await manager.status(['smtp']);
      expect(st).toMatchObject({ name: 'smtp', state: 'foreign' });
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });

  it('starts, reuses, reports and stops by recorded pid', async () => {
    const first = await manager.up(['smtp'], { log: quiet, owner: 'test-owner' });
    expect(first).toEqual({ started: ['smtp'], reused: [] });
    const record = JSON.parse(fs.readFileSync(path.join(home, 'run', 'smtp.json'), 'utf8')) as { pid: number; owner: string };
    expect(record.owner).toBe('test-owner');
    expect(processExists(record.pid)).toBe(true);

    const health = await fetch(`http://127.0.0.1:${apiPort}/api/health`);
    expect(health.status).toBe(200);

    const second = await manager.up(['smtp'], { log: quiet, owner: 'someone-else' });
    expect(second).toEqual({ started: [], reused: ['smtp'] });

    const [st] = await manager.status(['smtp']);
    expect(st).toMatchObject({ name: 'smtp', state: 'up', pid: record.pid, owner: 'test-owner' });
    expect(st!.rssBytes).toBeGreaterThan(0);

    // Another owner's teardown leaves it alone; its own stops it.
    expect(await manager.down(undefined, { log: quiet, owner: 'someone-else' })).toEqual([]);
    expect(processExists(record.pid)).toBe(true);
    expect(await manager.down(undefined, { log: quiet, owner: 'test-owner' })).toEqual(['smtp']);
    for (let i = 0; i < 20 && processExists(record.pid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(processExists(record.pid)).toBe(false);
    expect(fs.existsSync(path.join(home, 'run', 'smtp.json'))).toBe(false);
    expect((await manager.status(['smtp']))[0]!.state).toBe('down');
  });

  it('rejects unknown services with the list of known ones', () => {
    expect(() => manager.resolveServices(['nope'])).toThrow(/unknown service "nope"; known: kafka, /);
    expect(manager.resolveServices(['spark-worker']).map((s) => s.name)).toEqual(['spark-master', 'spark-worker']);
  });
});
