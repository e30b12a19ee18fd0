/** Results file (bench/results/<date>.json) and the generated BENCHMARKS.md. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { betterRatio, type Row, type Scenario } from './types';

export const BENCH_DIR = path.resolve(__dirname, '..');
export const REPO_ROOT = path.resolve(BENCH_DIR, '..');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');

export interface ScenarioResult {
  id: string;
  title: string;
  goal: string;
  limits?: string;
  command: string;
  startedAt: string;
  durationS: number;
  machine: unknown;
  rows: Row[];
  error?: string;
}

export interface ResultsFile {
  date: string;
  updatedAt: string;
  scenarios: Record<string, ScenarioResult>;
  peers: Record<string, string>;
  /** Earlier runs of a scenario the same day: when, the load, and the supervisor's figures. */
  history?: Record<string, { startedAt: string; machine: unknown; figures: Record<string, number | null> }[]>;
}

export function resultsPath(date: string): string {
  return path.join(RESULTS_DIR, `${date}.json`);
}

/** Merges scenario results into the day's file (a rerun of one scenario replaces only its own). */
export function saveResults(date: string, results: ScenarioResult[], peers: Record<string, string>): ResultsFile {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = resultsPath(date);
  // A new day's file starts from the newest earlier one: scenarios not rerun keep their figures
  // (each scenario section says when it ran), so the table stays whole.
  const current: ResultsFile = fs.existsSync(file)
    ? (JSON.parse(fs.readFileSync(file, 'utf8')) as ResultsFile)
    : { scenarios: {}, peers: {}, ...latestResults(), date, updatedAt: '' };
  for (const r of results) {
    const previous = current.scenarios[r.id];
    // A run that failed before producing rows does not erase the last good figures.
    if (r.rows.length === 0 && r.error && previous && previous.rows.length > 0) {
      (previous as ScenarioResult & { lastError?: unknown }).lastError = { at: r.startedAt, error: r.error.split('\n')[0] };
      continue;
    }
    // A rerun with --skip-peers keeps the peers' figures of the previous run, saying so.
    if (previous) {
      for (const row of r.rows) {
        const old = previous.rows.find((o) => o.metric === row.metric);
        if (!old) continue;
        let carried = false;
        for (const [peer, v] of Object.entries(row.peers)) {
          const was = old.peers[peer];
          if (typeof v === 'string' && v.startsWith('skipped') && was !== undefined && !(typeof was === 'string' && was.startsWith('skipped'))) {
            row.peers[peer] = was;
            carried = true;
          }
        }
        if (carried) {
          // rows without a ratio (agreement counts) stay without one
          if (old.ratio !== null && old.ratio !== undefined)
            row.ratio = betterRatio(row.supervisor, Object.fromEntries(Object.entries(row.peers).filter(([k]) => !(row.ratioExcludes ?? []).includes(k))));
          row.note = `${row.note ? `${row.note}; ` : ''}peer figures carried over from the run of ${previous.startedAt} (this run used --skip-peers)`;
          if (row.ratioGoal !== undefined && row.ratio !== null) row.met = row.met !== false && row.ratio >= row.ratioGoal;
        }
      }
    }
    if (previous && previous.rows.length) {
      current.history ??= {};
      (current.history[r.id] ??= []).push({
        startedAt: previous.startedAt,
        machine: previous.machine,
        figures: Object.fromEntries(previous.rows.map((row) => [row.metric, row.supervisor])),
      });
    }
    current.scenarios[r.id] = r;
  }
  current.peers = { ...current.peers, ...peers };
  current.updatedAt = new Date().toISOString();
  fs.writeFileSync(file, JSON.stringify(current, null, 2) + '\n');
  return current;
}

/** The newest results file. */
export function latestResults(): ResultsFile | null {
  if (!fs.existsSync(RESULTS_DIR)) return null;
  const files = fs
    .readdirSync(RESULTS_DIR)
    .filter((f) => /^\d{4}-\d{2}-\d{2}\.json$/.test(f))
    .sort();
  const last = files.pop();
  return last ? (JSON.parse(fs.readFileSync(path.join(RESULTS_DIR, last), 'utf8')) as ResultsFile) : null;
}

const fmt = (v: number | string | null | undefined): string => {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (Math.abs(v) >= 1000) return v.toLocaleString('en-US', { maximumFractionDigits: 0 });
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return String(Number(v.toPrecision(3)));
};

const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderMarkdown(res: ResultsFile, scenarios: Scenario[], intro: string): string {
  const out: string[] = [intro.trim(), ''];
  const peerNames = [...new Set(Object.values(res.scenarios).flatMap((s) => s.rows.flatMap((r) => Object.keys(r.peers))))];
  out.push(`Results file: \`bench/results/${res.date}.json\` (last updated ${res.updatedAt}).`, '');
  if (Object.keys(res.peers).length) {
    out.push('## Peers', '', '| peer | status |', '|---|---|');
    for (const [name, status] of Object.entries(res.peers)) out.push(`| ${name} | ${esc(status)} |`);
    out.push('');
  }
  out.push('## Summary', '');
  out.push(`| # | metric | unit | supervisor | ${peerNames.map(esc).join(' | ')}${peerNames.length ? ' | ' : ''}ratio | goal | met |`);
  out.push(`|---|---|---|---|${peerNames.map(() => '---|').join('')}---|---|---|`);
  const ids = Object.keys(res.scenarios).sort((a, b) => Number(a) - Number(b));
  for (const id of ids) {
    const s = res.scenarios[id]!;
    if (s.error && s.rows.length === 0) {
      out.push(`| ${id} | ${esc(s.title)}: **did not run** — ${esc(s.error)} | | | ${peerNames.map(() => ' |').join('')} | | |`);
      continue;
    }
    for (const r of s.rows) {
      const peers = peerNames.map((p) => fmt(r.peers[p])).map(esc);
      const met = r.met === null ? '—' : r.met ? '✅' : '❌';
      out.push(
        `| ${id} | ${esc(r.metric)} | ${r.unit} | ${fmt(r.supervisor)} | ${peers.join(' | ')}${peers.length ? ' | ' : ''}${r.ratio === null ? '—' : `${fmt(r.ratio)}×`} | ${esc(r.goal)} | ${met} |`,
      );
    }
  }
  out.push(
    '',
    'Ratio: the best peer\'s figure divided by the supervisor\'s (how many times faster or lighter the supervisor is); — where no peer figure exists. Reference tools (marked "reference") are shown but not counted in the ratio.',
    '',
  );
  for (const id of ids) {
    const s = res.scenarios[id]!;
    const def = scenarios.find((x) => x.id === id);
    out.push(`## ${id}. ${s.title}`, '');
    out.push(`Goal: ${s.goal}. Ran ${s.startedAt} for ${s.durationS.toFixed(0)} s; machine ${JSON.stringify(s.machine)}.`, '');
    out.push('Command:', '', '```bash', s.command, '```', '');
    if (s.error) out.push(`**Error:** ${s.error}`, '');
    const methods = [...new Set(s.rows.map((r) => r.method))];
    out.push('How each figure was taken:', '');
    for (const m of methods) out.push(`- ${m}`);
    const notes = s.rows.filter((r) => r.note).map((r) => `- ${r.metric}: ${r.note}`);
    if (notes.length) out.push('', 'Notes:', '', ...notes);
    const hist = res.history?.[id] ?? [];
    if (hist.length) {
      out.push('', `Earlier runs today (supervisor figures of the rows that are also above):`, '');
      for (const h of hist) {
        const same = s.rows.filter((r) => h.figures[r.metric] !== undefined).map((r) => `${r.metric}: ${fmt(h.figures[r.metric])} ${r.unit}`);
        const load = (h.machine as { loadavg?: number[] } | undefined)?.loadavg?.[0];
        if (same.length) out.push(`- ${h.startedAt} (load ${load ?? '?'}): ${same.join('; ')}`);
      }
    }
    const limits = def?.limits ?? s.limits;
    if (limits) out.push('', `What limits it: ${limits}`);
    out.push('');
  }
  return out.join('\n') + '\n';
}
