/** Spawning and stopping peer process trees (only what the bench started, by pid). */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { processTree, sleep } from './stats';

export interface Spawned {
  pid: number;
  child: ChildProcess;
  startedAt: number;
  exited(): boolean;
  stop(graceMs?: number): Promise<void>;
}

export function spawnLogged(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; log: string }): Spawned {
  const out = fs.openSync(opts.log, 'a');
  const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', out, out], detached: true });
  fs.closeSync(out);
  let exited = false;
  child.on('exit', () => (exited = true));
  child.on('error', () => (exited = true));
  const pid = child.pid ?? -1;
  return {
    pid,
    child,
    startedAt: Date.now(),
    exited: () => exited,
    async stop(graceMs = 15_000) {
      if (pid < 0) return;
      // Every process of the tree we started (some peers put children in other process groups).
      const tree = new Set(processTree(pid));
      const signalAll = (sig: NodeJS.Signals) => {
        for (const p of processTree(pid)) tree.add(p);
        for (const p of tree) {
          try {
            process.kill(p, sig);
          } catch {
            /* gone */
          }
        }
      };
      signalAll('SIGTERM');
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && [...tree].some(alive)) await sleep(200);
      if ([...tree].some(alive)) signalAll('SIGKILL');
      while (!exited && Date.now() < deadline + 5000) await sleep(100);
    },
  };
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** Proportional set size (shared pages split between the processes sharing them), bytes. */
export function pssBytes(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** A TCP port free on loopback now (the OS picks it; a process started next can listen on it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
