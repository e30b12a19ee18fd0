/**
 * Issue 15 item 6: every metric is defined in src/metrics/ (one collector per family); the
 * subsystems report facts and never import prom-client.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

function* sources(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(full);
    else if (/\.(ts|cjs|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) yield full;
  }
}

const rel = (file: string): string => path.relative(ROOT, file).split(path.sep).join('/');

describe('metric definitions live in src/metrics/ only', () => {
  const files = ['src', 'alerts', 'checks', 'streams'].flatMap((dir) => [...sources(path.join(ROOT, dir))]);

  it('no metric is created outside src/metrics/', () => {
    const outside = files
      .filter((f) => !rel(f).startsWith('src/metrics/'))
      .filter((f) => /new\s+(Counter|Gauge|Histogram|Summary)\s*(<[^>]*>)?\s*\(|collectDefaultMetrics\s*\(|registerMetric\s*\(/.test(fs.readFileSync(f, 'utf8')))
      .map(rel);
    expect(outside).toEqual([]);
  });

  it('alerts/, checks/ and streams/ do not import prom-client; the rest of src/ only its Registry type', () => {
    const offenders: string[] = [];
    for (const f of files) {
      const r = rel(f);
      if (r.startsWith('src/metrics/')) continue;
      for (const m of fs.readFileSync(f, 'utf8').matchAll(/^import\s+(type\s+)?[^;]*from\s+'prom-client';/gm)) {
        if (r.startsWith('src/') && m[1] && /^import type \{ Registry \}/.test(m[0])) continue;
        offenders.push(`${r}: ${m[0]}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
