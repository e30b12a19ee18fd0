/**
 * Writes the dashboards built in grafana/dashboards.ts to grafana/dashboards/*.json.
 *
 *   npx tsx grafana/generate.ts           regenerate the committed JSON
 *   npx tsx grafana/generate.ts --check   compare with the committed JSON; exit 1 on a difference
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildDashboards, serialize } from './dashboards';

export const DASHBOARDS_DIR = path.join(__dirname, 'dashboards');

export interface GenerateResult {
  written: string[];
  /** Files whose committed content differs from the generated one (or that are missing). */
  stale: string[];
  /** JSON files in the folder that no dashboard produces. */
  extra: string[];
}

export function generate({ check = false, dir = DASHBOARDS_DIR }: { check?: boolean; dir?: string } = {}): GenerateResult {
  const result: GenerateResult = { written: [], stale: [], extra: [] };
  const dashboards = buildDashboards();
  if (!check) fs.mkdirSync(dir, { recursive: true });
  for (const d of dashboards) {
    const file = path.join(dir, d.file);
    const text = serialize(d.json);
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    if (current === text) continue;
    if (check) result.stale.push(file);
    else {
      fs.writeFileSync(file, text);
      result.written.push(file);
    }
  }
  const known = new Set(dashboards.map((d) => d.file));
  if (fs.existsSync(dir))
    result.extra = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json') && !known.has(f))
      .map((f) => path.join(dir, f));
  return result;
}

if (require.main === module) {
  const check = process.argv.includes('--check');
  const rel = (f: string) => path.relative(process.cwd(), f);
  const { written, stale, extra } = generate({ check });
  for (const f of extra) console.error(`warning: ${rel(f)} is not produced by grafana/dashboards.ts`);
  if (check) {
    if (stale.length > 0) {
      for (const f of stale) console.error(`out of date: ${rel(f)}`);
      console.error('run `npx tsx grafana/generate.ts` and commit the result');
      process.exit(1);
    }
    console.log('dashboards are up to date');
  } else {
    for (const f of written) console.log(`wrote ${rel(f)}`);
    if (written.length === 0) console.log('dashboards already up to date');
  }
}
