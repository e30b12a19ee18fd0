/**
 * Scenario 9 — the container image: its size, `podman run` → /readyz 200, idle RSS inside the
 * container and `podman stop` → exited, for the image built from the repository's Dockerfile on
 * the locally made base (stack/container-base.ts), running the image's shipped configuration
 * (every check of the default config) against the local stack with `--network host`.
 * Also runnable alone: `npx tsx bench/scenarios/9-container.ts [--reps N] [--settle-s S] [--image TAG]`
 * prints the rows (`--image`: measure an image already built instead of building one).
 */
import { buildImage, podman, BASE_IMAGE } from '../../stack/container-base';
import { ensureStack } from '../lib/stack';
import { median, round, sleep } from '../lib/stats';
import type { Row, Scenario, ScenarioContext } from '../lib/types';

const BENCH_TAG = 'localhost/pipeline-supervisor:bench';
const PORT = 18190;

async function ready(url: string, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) return true;
    } catch {
      /* not listening yet */
    }
    await sleep(10);
  }
  return false;
}

async function runContainer(name: string, image: string): Promise<number> {
  const t0 = performance.now();
  const r = await podman([
    'run',
    '-d',
    '--name',
    name,
    '--health-interval',
    'disable',
    '--network',
    'host',
    '--read-only',
    '--tmpfs',
    '/tmp',
    '-e',
    `SUPERVISOR_PORT=${PORT}`,
    image,
  ]);
  if (r.code !== 0) throw new Error(`podman run failed: ${r.stderr}`);
  if (!(await ready(`http://127.0.0.1:${PORT}/readyz`, 60_000))) throw new Error(`the container did not get ready: ${(await podman(['logs', name])).stderr.slice(-2000)}`);
  return performance.now() - t0;
}

async function rssInside(name: string): Promise<number> {
  const r = await podman(['exec', name, 'sh', '-c', 'grep VmRSS /proc/1/status']);
  const kb = Number(/VmRSS:\s+(\d+)/.exec(r.stdout)?.[1]);
  return kb * 1024;
}

export const scenario: Scenario = {
  id: '9',
  title: 'Container image: size, start → ready, idle RSS, stop',
  goal: 'ready ≤ 2 s after `podman run`; clean stop ≤ 10 s',
  limits:
    'The image is the local base (debootstrap minbase bookworm + this machine’s Node 20 binary, npm and headers) plus production node_modules and dist/. ' +
    'Start → ready includes podman’s own work (runc, the anonymous volume for /var/lib/supervisor, conmon) before node starts. RSS is VmRSS of PID 1 (the daemon) read from /proc inside the container. ' +
    'On 2026-12-01 the machine ran at a load average of 12–17 (five agents on 2 cores): the same build started on the host with the same config took 7.9–10.1 s to ready at that moment (≈ 1 s when quiet, scenario 2), so the container adds no measurable start-up time and the ≤ 2 s goal was not demonstrated under that load; the first 5 containers measured then took 7.8–10.8 s, the run here 3.4–7.3 s.',
  async run(ctx: ScenarioContext): Promise<Row[]> {
    await ensureStack(['kafka', 'schema-registry', 's3', 'smtp', 'alertmanager', 'spark-master', 'spark-worker'], ctx.log);
    const given = ctx.args.image;
    const TAG = given ?? BENCH_TAG;
    if (!given) await buildImage({ tag: TAG, target: 'supervisor', log: { info: ctx.log, warn: ctx.log } });
    const size = Number((await podman(['image', 'inspect', TAG, '--format', '{{.Size}}'])).stdout.trim());
    const baseSize = Number((await podman(['image', 'inspect', BASE_IMAGE, '--format', '{{.Size}}'])).stdout.trim());
    const settleS = Number(ctx.args['settle-s'] ?? 60);
    const readyMs: number[] = [];
    const stopMs: number[] = [];
    const rss: number[] = [];
    const exits: number[] = [];
    for (let i = 0; i < ctx.reps; i++) {
      const name = `bench-container-${process.pid}-${i}`;
      try {
        readyMs.push(await runContainer(name, TAG));
        if (i === 0) {
          await sleep(settleS * 1000);
          rss.push(await rssInside(name));
        }
        const t0 = performance.now();
        const stop = await podman(['stop', '-t', '10', name], { timeoutMs: 30_000 });
        stopMs.push(performance.now() - t0);
        if (stop.code !== 0) throw new Error(`podman stop failed: ${stop.stderr}`);
        exits.push(Number((await podman(['inspect', name, '--format', '{{.State.ExitCode}}'])).stdout.trim()));
      } finally {
        await podman(['rm', '-f', '-v', name]);
      }
    }
    if (!given) await podman(['rmi', TAG]);
    ctx.log(`container ready: ${readyMs.map((r) => r.toFixed(0)).join(', ')} ms; stop ${stopMs.map((s) => s.toFixed(0)).join(', ')} ms; exit codes ${exits.join(', ')}`);
    const med = round(median(readyMs), 0);
    const stopMed = round(median(stopMs), 0);
    const rows: Row[] = [
      {
        scenario: '9',
        metric: 'image size',
        unit: 'MB',
        supervisor: round(size / 1e6, 1),
        peers: {},
        ratio: null,
        goal: 'reported',
        met: null,
        method: `podman image inspect --format {{.Size}} of the Dockerfile's supervisor target on ${BASE_IMAGE} (${round(baseSize / 1e6, 1)} MB of it is the base)`,
      },
      {
        scenario: '9',
        metric: '`podman run` → /readyz 200',
        unit: 'ms',
        supervisor: med,
        peers: {},
        ratio: null,
        goal: '≤ 2000 ms',
        met: med <= 2000,
        method: `median of ${readyMs.length} fresh containers (--network host, --read-only, the image's shipped config against the local stack); /readyz polled every 10 ms`,
        detail: { readyMs },
      },
      {
        scenario: '9',
        metric: 'idle RSS inside the container',
        unit: 'MB',
        supervisor: rss.length ? round(rss[0]! / 1e6, 1) : null,
        peers: {},
        ratio: null,
        goal: 'reported',
        met: null,
        method: `VmRSS of PID 1 from /proc/1/status (podman exec), ${settleS} s after ready`,
      },
      {
        scenario: '9',
        metric: '`podman stop -t 10` → exited',
        unit: 'ms',
        supervisor: stopMed,
        peers: {},
        ratio: null,
        goal: '≤ 10000 ms, exit code 0',
        met: stopMed <= 10_000 && exits.every((c) => c === 0),
        method: `median of ${stopMs.length}; exit codes ${exits.join(', ')} (0 = the daemon stopped on SIGTERM by itself)`,
        detail: { stopMs, exits },
      },
    ];
    return rows;
  },
};

if (require.main === module) {
  const args = process.argv.slice(2);
  const opt = (k: string): string | undefined => {
    const i = args.indexOf(`--${k}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const ctx: ScenarioContext = {
    reps: Number(opt('reps') ?? 5),
    skipPeers: true,
    work: '/tmp',
    log: (m) => process.stderr.write(`[bench 9] ${m}\n`),
    args: Object.fromEntries(['settle-s', 'image'].flatMap((k) => (opt(k) ? [[k, opt(k)!]] : []))),
    peer: () => undefined,
  };
  scenario.run(ctx).then(
    (rows) => {
      for (const r of rows) process.stdout.write(`${r.metric}: ${r.supervisor} ${r.unit} (${r.method})\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
