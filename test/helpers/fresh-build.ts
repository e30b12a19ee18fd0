/**
 * Tests that spawn the CLI (`bin/supervisor.js`) run the compiled `dist/`. So that they never
 * pass against an old build, the global setup rebuilds `dist/` (`tsc -p tsconfig.build.json`)
 * whenever a source it compiles is newer than the last build, or the build is missing.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
/** What tsconfig.build.json compiles. */
const SOURCE_DIRS = ['src', 'streams', 'checks', 'alerts'];
/** tsc (not incremental) writes every output on each build: the CLI entry's time is the build's. */
export const BUILD_STAMP = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const LOCK = path.join(ROOT, 'dist', '.build.lock');

/** Newest modification time (ms) of a TypeScript/CommonJS source under the compiled folders, and the build config. */
export function newestSourceMtime(root = ROOT): number {
  let newest = Math.max(...['tsconfig.json', 'tsconfig.build.json'].map((f) => fs.statSync(path.join(root, f)).mtimeMs));
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(ts|cjs)$/.test(entry.name) && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, fs.statSync(full).mtimeMs);
    }
  };
  for (const dir of SOURCE_DIRS) if (fs.existsSync(path.join(root, dir))) walk(path.join(root, dir));
  return newest;
}

export function buildIsStale(root = ROOT, stamp = BUILD_STAMP): boolean {
  if (!fs.existsSync(stamp)) return true;
  return newestSourceMtime(root) > fs.statSync(stamp).mtimeMs;
}

const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** One build at a time across concurrent jest runs; a lock older than 5 minutes is a dead builder's. */
function withBuildLock<T>(fn: () => T): T {
  fs.mkdirSync(path.dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (Date.now() - fs.statSync(LOCK).mtimeMs > 300_000) fs.rmSync(LOCK, { recursive: true, force: true });
      else sleep(500);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Rebuilds dist/ when stale; returns whether it built. A compile error fails the run with tsc's output. */
export function ensureFreshBuild(log: (m: string) => void): boolean {
  if (!buildIsStale()) return false;
  return withBuildLock(() => {
    if (!buildIsStale()) return false; // another run built it while this one waited
    const started = Date.now();
    // the stamp is the build's start: a source saved during the build makes the next run rebuild
    const stampTime = new Date();
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    fs.utimesSync(BUILD_STAMP, stampTime, stampTime);
    log(`global setup: dist/ was older than the sources; rebuilt in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return true;
  });
}
