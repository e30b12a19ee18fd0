/** Small statistics and process helpers shared by the scenarios. */
import * as fs from 'node:fs';
import * as os from 'node:os';

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // nearest-rank: the smallest value with at least p% of the samples at or below it
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export const median = (values: readonly number[]): number => percentile(values, 50);

export function summary(values: readonly number[]): { n: number; min: number; p50: number; p95: number; p99: number; max: number } {
  return {
    n: values.length,
    min: Math.min(...values),
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    p99: percentile(values, 99),
    max: Math.max(...values),
  };
}

export const round = (v: number, digits = 2): number => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);

/** RSS of one process from /proc (bytes); 0 when it has exited. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * A process and all its descendants, from the parent pid of every process in /proc (a
 * process's `children` file lists only the children of one thread; Airflow's standalone starts
 * its components from threads).
 */
export function processTree(pid: number): number[] {
  const kids = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = kids.get(ppid);
      if (list) list.push(Number(name));
      else kids.set(ppid, [Number(name)]);
    } catch {
      /* exited */
    }
  }
  const out: number[] = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(kids.get(out[i]!) ?? []));
  return out;
}

export function treeRss(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + rssBytes(p), 0);
}

export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

export const MB = 1024 * 1024;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the machine was doing: benchmarks on a shared 2-core box are only comparable within one run. */
export function machine(): { cpus: number; model: string; memGiB: number; loadavg: number[]; node: string } {
  return {
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model ?? 'unknown',
    memGiB: round(os.totalmem() / 1024 ** 3, 1),
    loadavg: os.loadavg().map((l) => round(l, 2)),
    node: process.version,
  };
}

/** Waits until `fn` returns a truthy value or the deadline passes. */
export async function waitFor<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs: number, stepMs = 50, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}
