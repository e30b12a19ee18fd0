import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../../src/store/database';
import { createRunStore } from '../../../src/store/runs';
import { processExists } from '../../helpers/process';

const ROOT = path.resolve(__dirname, '../../..');
const FIX = path.join(ROOT, 'test/fixtures/engine');

async function waitFor<T>(fn: () => T | null | undefined | false, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startDaemon(config: string, db: string, env: NodeJS.ProcessEnv): { child: ChildProcess; ready: Promise<void> } {
  // `node --import tsx`, not the tsx wrapper: SIGKILL must hit the daemon itself, not a launcher.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(FIX, 'daemon.ts'), config, db], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`daemon exited with ${code}: ${err}`)));
  });
  return { child, ready };
}

describe('crash recovery (real processes)', () => {
  let tmp: string;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-crash-'));
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('SIGKILL of the daemon mid-ingestion: after restart exactly one ingestion completes for the logical date and no orphan survives', async () => {
    const ledger = path.join(tmp, 'ledger.txt');
    const pidFile = path.join(tmp, 'ingestion.pid');
    fs.writeFileSync(path.join(tmp, 'sources.yaml'), 'topic: t\nsources:\n  alpha: {format: domains, path: a.txt, category: x}\n');
    const config = path.join(tmp, 'supervisor.yaml');
    fs.writeFileSync(
      config,
      `pipelines:
  domain_ingestion:
    aliases: [domain_ingestion_dag]
    tasks:
      - id: run_full_ingestion
        operator: ingestion
        retries: 2
        retry_delay: 0s
        params:
          source_name: null
          config_path: sources.yaml
          kafka_servers: 127.0.0.1:9092
          execution_mode: subprocess
          command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(path.join(FIX, 'fake-ingestion.js'))}]
`,
    );
    const dbFile = path.join(tmp, 'state.db');
    const logicalDate = Date.parse('2025-10-05T10:00:00Z');
    {
      const db = openDatabase({ file: dbFile });
      createRunStore(db).insertRun({ pipeline: 'domain_ingestion', logicalDate, kind: 'manual', firedAt: Date.now(), queuedAt: Date.now() });
      db.close();
    }
    const env = { ...process.env, FAKE_INGESTION_LEDGER: ledger, FAKE_INGESTION_PIDFILE: pidFile, FAKE_INGESTION_SLEEP_MS: '4000' };

    // 1st daemon picks the queued run up and starts the ingestion; we SIGKILL it mid-way.
    const first = startDaemon(config, dbFile, env);
    children.push(first.child);
    await first.ready;
    const orphanPid = await waitFor(() => fs.existsSync(pidFile) && Number(fs.readFileSync(pidFile, 'utf8')), 15_000, 'the ingestion to start');
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    // The task runs in its own process group, so the daemon's death does not kill it; its
    // wrapper notices the lost supervisor and terminates it before it can finish unsupervised.
    await waitFor(() => !processExists(orphanPid), 5_000, 'the orphaned ingestion to be terminated');
    fs.rmSync(pidFile);

    // 2nd daemon: recovery kills the orphan group, the task is retried under the same run.
    const second = startDaemon(config, dbFile, env);
    children.push(second.child);
    await second.ready;
    const db = openDatabase({ file: dbFile });
    const store = createRunStore(db);
    try {
      const run = await waitFor(
        () => {
          const r = store.findRun('domain_ingestion', logicalDate);
          return r && (r.state === 'success' || r.state === 'failed') ? r : null;
        },
        30_000,
        'the run to finish',
      );
      expect(run.state).toBe('success');
      expect(processExists(orphanPid)).toBe(false);
      await new Promise((r) => setTimeout(r, 4_500)); // longer than the orphan would have needed to finish
      const lines = fs.readFileSync(ledger, 'utf8').trim().split('\n');
      expect(lines).toEqual([`${run.id} 2025-10-05T10:00:00.000Z`]);
      expect(store.listRuns({ pipeline: 'domain_ingestion' })).toHaveLength(1);
      const attempts = store.listAttempts(run.id, 'run_full_ingestion');
      expect(attempts.map((a) => a.state)).toEqual(['failed', 'success']);
      expect(attempts[0]!.error).toMatch(/orphaned/);
      expect(attempts[0]!.error).toMatch(/signal SIGTERM/); // status recorded by the wrapper
      expect(processExists(attempts[0]!.pid!)).toBe(false); // the process group leader is gone too
    } finally {
      db.close();
    }
    second.child.kill('SIGTERM');
    const code = await new Promise((r) => second.child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
  }, 90_000);
});
