/** The supervisor as users run it: `node bin/supervisor.js start` (compiled dist/), default config. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pssBytes, spawnLogged, type Spawned } from './proc';
import { rssBytes, sleep } from './stats';
import type { ScenarioContext } from './types';
import { REPO } from './supervisor';

export const SUP_PORT = Number(process.env.BENCH_SUPERVISOR_PORT ?? 18090);

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** dist/ must be at least as new as the sources it is built from, else `npm run build`. */
export function ensureBuilt(ctx: ScenarioContext): void {
  const entry = path.join(REPO, 'dist', 'src', 'cli', 'main.js');
  const src = Math.max(...['src', 'streams', 'checks', 'alerts'].map((d) => newestMtime(path.join(REPO, d))));
  if (!fs.existsSync(entry) || fs.statSync(entry).mtimeMs < src) {
    ctx.log('dist/ is older than the sources: npm run build…');
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' });
  }
}

export interface SupervisorProcess {
  proc: Spawned;
  readyMs: number;
  url: string;
  rss(): number;
  pss(): number;
  stop(): Promise<void>;
}

/**
 * Starts `node bin/supervisor.js start`; each scenario passes its own port so scenarios can run
 * side by side (the store and log are named after the port).
 */
export async function startSupervisorProcess(
  ctx: ScenarioContext,
  opts: {
    config?: string;
    env?: Record<string, string>;
    fresh?: boolean;
    port?: number;
    /** the compiled CLI without the launcher (and its V8 settings), for comparison */ withoutLauncher?: boolean;
  } = {},
): Promise<SupervisorProcess> {
  const port = opts.port ?? SUP_PORT;
  const dir = path.join(ctx.work, `supervisor-process-${port}`);
  fs.mkdirSync(dir, { recursive: true });
  const store = path.join(dir, 'supervisor.db');
  if (opts.fresh !== false) for (const ext of ['', '-wal', '-shm']) fs.rmSync(store + ext, { force: true });
  const env = {
    ...process.env,
    SUPERVISOR_PORT: String(port),
    SUPERVISOR_STORE: store,
    LOG_LEVEL: 'warn',
    ...opts.env,
  };
  const args = ['--config', opts.config ?? path.join(REPO, 'config', 'supervisor.yaml'), 'start'];
  const entry = opts.withoutLauncher
    ? [
        '-e',
        `process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED='true'; require(${JSON.stringify(path.join(REPO, 'dist', 'src', 'cli', 'main.js'))}).main(process.argv.slice(1)).then((c) => { process.exitCode = c; })`,
        '--',
      ]
    : [path.join(REPO, 'bin', 'supervisor.js')];
  const proc = spawnLogged(process.execPath, [...entry, ...args], {
    env,
    cwd: REPO,
    log: path.join(ctx.work, `supervisor-process-${port}.log`),
  });
  const url = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  let readyMs = -1;
  while (performance.now() - t0 < 60_000) {
    if (proc.exited()) throw new Error(`supervisor exited during start-up; see bench/.work/supervisor-process-${port}.log`);
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) {
        readyMs = performance.now() - t0;
        break;
      }
    } catch {
      /* not listening yet */
    }
    await sleep(5);
  }
  if (readyMs < 0) {
    await proc.stop();
    throw new Error('supervisor not ready within 60 s');
  }
  return { proc, readyMs, url, rss: () => rssBytes(proc.pid), pss: () => pssBytes(proc.pid), stop: () => proc.stop(15_000) };
}
