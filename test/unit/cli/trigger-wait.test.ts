/**
 * `pipelines trigger --wait` (the real binary) waits for the daemon to finish the run: with no
 * daemon it keeps waiting instead of exiting 0 with the run still queued (the wait's store poll
 * is an unref'd timer, which alone does not keep a process alive).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = path.resolve(__dirname, '../../../bin/supervisor.js');

describe('pipelines trigger --wait', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-trigger-wait-'));
    fs.writeFileSync(
      path.join(dir, 'supervisor.yaml'),
      'store: { path: state.db }\npipelines:\n  p:\n    tasks:\n      - { id: a, operator: command, params: { command: ["true"] } }\nalerts:\n  sinks: { log: { type: log } }\n  route: { sinks: [log] }\n',
    );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is still waiting for the queued run 3 s later (no daemon runs it)', async () => {
    const child = spawn(process.execPath, [BIN, '--config', path.join(dir, 'supervisor.yaml'), 'pipelines', 'trigger', 'p', '--wait'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const early = await Promise.race([exited, new Promise<'waiting'>((r) => setTimeout(() => r('waiting'), 3_000))]);
    child.kill('SIGTERM');
    await exited;
    expect(out).toMatch(/queued p\.manual__/);
    expect(early).toBe('waiting');
  }, 30_000);
});
