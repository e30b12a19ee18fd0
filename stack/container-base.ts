/**
 * The container engine of this machine and the locally made base image (no image registry is
 * reachable here, so nothing is pulled):
 *
 *  - podman + runc (+ debootstrap) from Debian, installed with apt-get when missing;
 *  - a containers.conf with `[containers] default_ulimits = []` (crun's setrlimit and its
 *    cgroup handling are refused on these machines), handed to every podman call through
 *    CONTAINERS_CONF, and every call passes `--runtime runc --cgroup-manager=cgroupfs`;
 *  - `localhost/supervisor-base:bookworm`: a `debootstrap --variant=minbase bookworm` root
 *    filesystem plus this machine's Node 20 (binary, npm and headers under /usr/local, where the
 *    official node:20-bookworm-slim image keeps them), imported with `podman import`. Debian's
 *    own `nodejs` package is v18, which the project does not support (engines: >=20). Skipped
 *    when the image already exists.
 *
 * Usage: npx tsx stack/container-base.ts [ensure | build | env]
 *   ensure  install what is missing and build the base image (idempotent; the default)
 *   build   ensure, then build the repository's Dockerfile on that base:
 *           localhost/pipeline-supervisor:latest and localhost/domain-ingestion:latest
 *   env     print the environment and global arguments podman needs here (for a shell)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dirs, ensureDir, REPO_ROOT } from './paths';
import { run, installLog, which } from './install';
import { consoleLog, type StackLog } from './log';

export const BASE_IMAGE = 'localhost/supervisor-base:bookworm';
/** Global podman arguments that work on these machines (before the subcommand). */
export const PODMAN_GLOBAL_ARGS: readonly string[] = ['--runtime', 'runc', '--cgroup-manager=cgroupfs'];
const DEBIAN_MIRROR = process.env.STACK_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';

export function containersConfPath(): string {
  return path.join(dirs.conf, 'containers.conf');
}

/** Writes the containers.conf (when its content differs) and returns its path. */
export function writeContainersConf(): string {
  const file = containersConfPath();
  const text =
    '# written by stack/container-base.ts: crun-free settings for rootful podman on this machine\n[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n';
  ensureDir(path.dirname(file));
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) fs.writeFileSync(file, text);
  return file;
}

/** The environment every podman call gets. */
export function podmanEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, CONTAINERS_CONF: writeContainersConf() };
}

export interface PodmanResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `podman <global args> ARGS` and collects its output (never throws for an exit code). */
export function podman(args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<PodmanResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('podman', [...PODMAN_GLOBAL_ARGS, ...args], { env: podmanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`podman could not run: ${err.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** podman, runc and debootstrap from Debian when missing (apt-get waits for another apt's lock). */
export async function ensurePodman(log: StackLog): Promise<void> {
  const wanted: Array<[string, string]> = [
    ['podman', 'podman'],
    ['runc', 'runc'],
    ['debootstrap', 'debootstrap'],
  ];
  const missing = wanted.filter(([bin]) => !which(bin) && !fs.existsSync(`/usr/sbin/${bin}`)).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`${missing.join(', ')} missing: run as root or \`sudo apt-get install -y ${missing.join(' ')}\``);
  log.info(`installing ${missing.join(', ')} from Debian…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const args = ['install', '-y', '-q', '-o', 'DPkg::Lock::Timeout=900', '--no-install-recommends', ...missing];
  try {
    await run('apt-get', args, { env, logPath: installLog('podman'), timeoutMs: 20 * 60_000 });
  } catch {
    log.info('apt-get install failed; running apt-get update once and retrying');
    await run('apt-get', ['update', '-q', '-o', 'DPkg::Lock::Timeout=900'], { env, logPath: installLog('podman'), timeoutMs: 10 * 60_000 });
    await run('apt-get', args, { env, logPath: installLog('podman'), timeoutMs: 20 * 60_000 });
  }
}

export async function imageExists(image: string): Promise<boolean> {
  return (await podman(['image', 'exists', image])).code === 0;
}

/** The host's Node 20: binary, npm and headers (what the base image gets). */
function hostNode(): { binary: string; npmDir: string; includeDir: string } {
  const major = Number(process.versions.node.split('.')[0]);
  if (major !== 20) throw new Error(`the base image takes this machine's Node, which must be v20 (found v${process.versions.node})`);
  const binary = fs.realpathSync(process.execPath);
  const prefix = path.dirname(path.dirname(binary));
  const npmDir = [path.join(prefix, 'lib', 'node_modules', 'npm'), '/usr/lib/node_modules/npm', '/usr/local/lib/node_modules/npm'].find((d) =>
    fs.existsSync(path.join(d, 'bin', 'npm-cli.js')),
  );
  const includeDir = [path.join(prefix, 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find((d) => fs.existsSync(path.join(d, 'node.h')));
  if (!npmDir) throw new Error(`npm not found beside ${binary}`);
  if (!includeDir) throw new Error(`the Node headers (node.h) are not found beside ${binary}: better-sqlite3 is compiled against them`);
  return { binary, npmDir, includeDir };
}

/** Builds the base image unless it exists. Returns its name. */
export async function ensureBaseImage(log: StackLog = consoleLog('container-base')): Promise<string> {
  await ensurePodman(log);
  if (await imageExists(BASE_IMAGE)) return BASE_IMAGE;
  const lock = path.join(ensureDir(dirs.run), 'container-base.lock');
  // one builder at a time (two test files, or a test and a shell)
  for (const end = Date.now() + 20 * 60_000; ;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > end) throw new Error(`${lock} is held for 20 min: remove it if no build runs`);
      await new Promise((r) => setTimeout(r, 2000));
      if (await imageExists(BASE_IMAGE)) return BASE_IMAGE;
    }
  }
  const work = path.join(dirs.data, 'container-base');
  try {
    if (await imageExists(BASE_IMAGE)) return BASE_IMAGE;
    const node = hostNode();
    const rootfs = path.join(work, 'rootfs');
    fs.rmSync(work, { recursive: true, force: true });
    ensureDir(work);
    const cache = ensureDir(path.join(dirs.cache, 'debootstrap'));
    log.info(`debootstrap --variant=minbase bookworm (${DEBIAN_MIRROR})…`);
    await run('debootstrap', ['--variant=minbase', `--cache-dir=${cache}`, 'bookworm', rootfs, DEBIAN_MIRROR], { logPath: installLog('container-base'), timeoutMs: 30 * 60_000 });
    log.info(`adding Node ${process.versions.node} from ${node.binary}…`);
    const local = path.join(rootfs, 'usr', 'local');
    fs.mkdirSync(path.join(local, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(local, 'lib', 'node_modules'), { recursive: true });
    fs.mkdirSync(path.join(local, 'include'), { recursive: true });
    fs.copyFileSync(node.binary, path.join(local, 'bin', 'node'));
    fs.chmodSync(path.join(local, 'bin', 'node'), 0o755);
    fs.cpSync(node.npmDir, path.join(local, 'lib', 'node_modules', 'npm'), { recursive: true, verbatimSymlinks: true });
    fs.cpSync(node.includeDir, path.join(local, 'include', 'node'), { recursive: true, dereference: true });
    fs.symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(local, 'bin', 'npm'));
    fs.symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(local, 'bin', 'npx'));
    // smaller image: no package caches, lists, docs or man pages
    for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info']) {
      const full = path.join(rootfs, d);
      for (const entry of fs.existsSync(full) ? fs.readdirSync(full) : []) fs.rmSync(path.join(full, entry), { recursive: true, force: true });
    }
    const tarball = path.join(work, 'rootfs.tar');
    await run('tar', ['--numeric-owner', '-C', rootfs, '-cf', tarball, '.'], { logPath: installLog('container-base'), timeoutMs: 10 * 60_000 });
    log.info(`podman import → ${BASE_IMAGE}`);
    const imported = await podman(
      [
        'import',
        '--change',
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        '--change',
        `ENV NODE_VERSION=${process.versions.node}`,
        '--change',
        'CMD ["node"]',
        tarball,
        BASE_IMAGE,
      ],
      { timeoutMs: 10 * 60_000 },
    );
    if (imported.code !== 0) throw new Error(`podman import failed (exit ${imported.code}): ${imported.stderr.trim().slice(-2000)}`);
    const check = await podman(['run', '--rm', '--network', 'none', BASE_IMAGE, 'node', '-e', 'process.stdout.write(process.version)']);
    if (check.code !== 0 || !check.stdout.startsWith('v20.')) throw new Error(`the new base image cannot run node: ${check.stderr.trim() || check.stdout}`);
    log.info(`${BASE_IMAGE} ready (node ${check.stdout})`);
    return BASE_IMAGE;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

export const SUPERVISOR_IMAGE = 'localhost/pipeline-supervisor:latest';
export const INGESTION_IMAGE = 'localhost/domain-ingestion:latest';

/** The CA bundle npm trusts here (a TLS-intercepting egress proxy), handed to the build as the `npm_ca` secret. */
function npmCaFile(): string | undefined {
  return [process.env.npm_config_cafile, process.env.NODE_EXTRA_CA_CERTS].find((f): f is string => typeof f === 'string' && f !== '' && fs.existsSync(f));
}

/**
 * `podman build` of the repository's Dockerfile on the local base (`--format docker` keeps the
 * HEALTHCHECK; `--network host` reaches the npm registry and the Debian mirror). Layers are cached
 * by podman, so a rebuild without changes takes seconds.
 */
export async function buildImage(params: { tag: string; target?: 'supervisor' | 'ingestion'; log?: StackLog }): Promise<void> {
  const log = params.log ?? consoleLog('container-build');
  await ensureBaseImage(log);
  const ca = npmCaFile();
  const args = [
    'build',
    '--format',
    'docker',
    '--network',
    'host',
    '--build-arg',
    `BASE_IMAGE=${BASE_IMAGE}`,
    ...(ca ? ['--secret', `id=npm_ca,src=${ca}`] : []),
    ...(params.target ? ['--target', params.target] : []),
    '-t',
    params.tag,
    '-f',
    path.join(REPO_ROOT, 'Dockerfile'),
    REPO_ROOT,
  ];
  const logPath = installLog('container-build');
  fs.appendFileSync(logPath, `\n$ podman ${args.join(' ')}\n`);
  const r = await podman(args, { timeoutMs: 40 * 60_000 });
  fs.appendFileSync(logPath, r.stdout + r.stderr);
  if (r.code !== 0) throw new Error(`podman build of ${params.tag} failed (exit ${r.code}); log ${logPath}:\n${r.stderr.trim().split('\n').slice(-25).join('\n')}`);
}

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0] ?? 'ensure';
  if (cmd === 'env') {
    process.stdout.write(`export CONTAINERS_CONF=${writeContainersConf()}\n# podman ${PODMAN_GLOBAL_ARGS.join(' ')} …\n`);
    return 0;
  }
  if (cmd === 'build') {
    await buildImage({ tag: SUPERVISOR_IMAGE, target: 'supervisor' });
    await buildImage({ tag: INGESTION_IMAGE, target: 'ingestion' });
    process.stdout.write(`${SUPERVISOR_IMAGE}\n${INGESTION_IMAGE}\n`);
    return 0;
  }
  if (cmd !== 'ensure') {
    process.stderr.write(`usage: tsx stack/container-base.ts [ensure | build | env] (got "${cmd}")\n`);
    return 2;
  }
  await ensureBaseImage();
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`container-base: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
