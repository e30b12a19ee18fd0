import fs from 'node:fs';
import path from 'node:path';

/** The repository root (where package.json, node_modules and stack/ live), from src/ or dist/src/. */
export function findRepoRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && fs.existsSync(path.join(dir, 'src', 'engine'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(__dirname, '..', '..');
    dir = parent;
  }
}

/** task-wrapper.cjs beside this file (tsx, jest) or in the sources (compiled dist/, which tsc does not copy it to). */
export function findTaskWrapper(): string | null {
  for (const candidate of [path.join(__dirname, 'task-wrapper.cjs'), path.join(findRepoRoot(), 'src', 'engine', 'task-wrapper.cjs')]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}
