/**
 * Install helpers shared by the services: Maven (a generated pom in `.stack/`, local repository
 * under `.stack/cache/m2`), Debian packages, a Python venv, and per-install markers so a second
 * `up` never touches the network.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dirs, ensureDir } from './paths';
import type { StackLog } from './log';

/** Runs a command to completion; its output goes to `logPath` (and the tail into the error on failure). */
export function run(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; logPath: string; timeoutMs?: number }): Promise<void> {
  ensureDir(path.dirname(opts.logPath));
  const fd = fs.openSync(opts.logPath, 'a');
  fs.writeSync(fd, `\n$ ${[command, ...args].join(' ')}\n`);
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', fd, fd] });
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    child.once('error', (err) => {
      if (timer) clearTimeout(timer);
      fs.closeSync(fd);
      reject(new Error(`${command} could not run: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      fs.closeSync(fd);
      if (code === 0) return resolve();
      const tail = tailFile(opts.logPath, 25);
      reject(new Error(`${command} ${args.slice(0, 3).join(' ')}… failed (${signal ?? `exit ${code}`}); log ${opts.logPath}:\n${tail}`));
    });
  });
}

export function tailFile(file: string, lines: number): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '';
  }
}

/** An install step runs once per key (service + version); the marker file records success. */
export async function once(key: string, log: StackLog, what: string, step: () => Promise<void>): Promise<void> {
  const marker = path.join(ensureDir(path.join(dirs.home, 'installed')), `${key}.done`);
  if (fs.existsSync(marker)) return;
  log.info(`installing ${what} (first time only)…`);
  const t0 = Date.now();
  await step();
  fs.writeFileSync(marker, new Date().toISOString() + '\n');
  log.info(`installed ${what} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

export function installLog(name: string): string {
  return path.join(ensureDir(dirs.logs), `install-${name}.log`);
}

/** Full path of an executable on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Makes sure a command exists, installing its Debian package when it does not (fresh machines). */
export async function requireTool(cmd: string, aptPackage: string, log: StackLog): Promise<void> {
  if (which(cmd)) return;
  log.info(`${cmd} not found: installing the Debian package ${aptPackage}…`);
  await aptInstall(`tool-${cmd}`, [aptPackage], [], log);
  if (!which(cmd)) throw new Error(`${cmd} is still missing after apt-get install ${aptPackage}`);
}

const m2 = () => path.join(dirs.cache, 'm2');

/**
 * Maven settings of the stack: every repository (including ones that poms declare, like Spark's
 * GCS mirror) is read through Maven Central, so resolution only needs the one registry.
 * `STACK_MAVEN_SETTINGS` points to another settings file (e.g. a company mirror).
 */
function mavenSettings(): string {
  if (process.env.STACK_MAVEN_SETTINGS) return process.env.STACK_MAVEN_SETTINGS;
  const file = path.join(ensureDir(dirs.cache), 'maven-settings.xml');
  const url = process.env.STACK_MAVEN_CENTRAL ?? 'https://repo.maven.apache.org/maven2';
  fs.writeFileSync(file, `<settings>\n  <mirrors>\n    <mirror><id>stack-central</id><mirrorOf>*</mirrorOf><url>${url}</url></mirror>\n  </mirrors>\n</settings>\n`);
  return file;
}

function mvnArgs(): string[] {
  return ['-B', '-q', '-s', mavenSettings(), `-Dmaven.repo.local=${m2()}`];
}

export interface MavenDep {
  groupId: string;
  artifactId: string;
  version: string;
  classifier?: string;
  type?: string;
}

/** Copies the runtime closure of `deps` into `outDir` (a flat folder of jars). */
export async function mavenCopyDependencies(name: string, deps: MavenDep[], outDir: string, log?: StackLog): Promise<void> {
  if (log) await requireTool('mvn', 'maven', log);
  const work = ensureDir(path.join(dirs.cache, 'poms', name));
  const body = deps
    .map(
      (d) =>
        `    <dependency><groupId>${d.groupId}</groupId><artifactId>${d.artifactId}</artifactId><version>${d.version}</version>` +
        (d.classifier ? `<classifier>${d.classifier}</classifier>` : '') +
        (d.type ? `<type>${d.type}</type>` : '') +
        `</dependency>`,
    )
    .join('\n');
  fs.writeFileSync(
    path.join(work, 'pom.xml'),
    `<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by stack/install.ts: the runtime jars of ${name} -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.stack</groupId>
  <artifactId>${name}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
${body}
  </dependencies>
</project>
`,
  );
  const tmp = `${outDir}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  await run('mvn', [...mvnArgs(), 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`, '-DincludeScope=runtime'], {
    cwd: work,
    logPath: installLog(name),
    timeoutMs: 20 * 60_000,
  });
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.renameSync(tmp, outDir);
}

/** Copies one artifact (e.g. a zip or an uber jar) into `outDir`; returns its path. */
export async function mavenCopyArtifact(name: string, dep: MavenDep, outDir: string, log?: StackLog): Promise<string> {
  if (log) await requireTool('mvn', 'maven', log);
  ensureDir(outDir);
  const coords = [dep.groupId, dep.artifactId, dep.version, dep.type ?? 'jar', dep.classifier].filter(Boolean).join(':');
  await run('mvn', [...mvnArgs(), 'dependency:copy', `-Dartifact=${coords}`, `-DoutputDirectory=${outDir}`], {
    cwd: ensureDir(path.join(dirs.cache, 'poms', name)),
    logPath: installLog(name),
    timeoutMs: 20 * 60_000,
  });
  const file = `${dep.artifactId}-${dep.version}${dep.classifier ? `-${dep.classifier}` : ''}.${dep.type ?? 'jar'}`;
  return path.join(outDir, file);
}

/**
 * Installs Debian packages without letting their maintainer scripts start a competing daemon
 * (a temporary policy-rc.d denies service starts when none exists).
 */
export async function aptInstall(name: string, packages: string[], binaries: string[], log: StackLog): Promise<void> {
  if (binaries.length > 0 && binaries.every((b) => fs.existsSync(b))) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`${packages.join(', ')} missing (${binaries.join(', ')}): run as root or \`sudo apt-get install -y ${packages.join(' ')}\``);
  }
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !fs.existsSync(policy);
  if (ownPolicy) fs.writeFileSync(policy, '#!/bin/sh\n# written by the pipeline-supervisor stack during apt-get install\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const logPath = installLog(name);
    try {
      await run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { env, logPath, timeoutMs: 15 * 60_000 });
    } catch {
      log.info('apt-get install failed; running apt-get update once and retrying');
      await run('apt-get', ['update', '-q'], { env, logPath, timeoutMs: 10 * 60_000 });
      await run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { env, logPath, timeoutMs: 15 * 60_000 });
    }
  } finally {
    if (ownPolicy) fs.rmSync(policy, { force: true });
  }
}
