import fs from 'node:fs';
import path from 'node:path';

/** The package version, read once from package.json (works from src/ under tsx and from dist/). */
export const VERSION: string = (() => {
  for (const up of ['..', '../..', '../../..']) {
    const file = path.join(__dirname, up, 'package.json');
    try {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'pipeline-supervisor' && pkg.version) return pkg.version;
    } catch {
      // try the next folder up
    }
  }
  return '0.0.0';
})();

/** The repository root (where package.json lives). */
export const REPO_ROOT: string = (() => {
  for (const up of ['..', '../..', '../../..']) {
    const dir = path.resolve(__dirname, up);
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'config'))) return dir;
  }
  return process.cwd();
})();
