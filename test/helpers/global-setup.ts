/**
 * Jest global setup: first, rebuild dist/ when a source is newer (test/helpers/fresh-build.ts).
 * Then, when integration or e2e tests are selected, bring up the local stack's
 * services (installing them on first use — a cold machine takes minutes, progress is printed)
 * or reuse the ones already running. Which services: STACK_SERVICES (comma list, `none` to
 * skip), default every non-optional service. What this run starts is recorded with a session
 * owner, so the global teardown stops exactly those and leaves a developer's own stack alone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { consoleLog } from '../../stack/log';
import { down, up } from '../../stack/manager';
import { dirs, ensureDir } from '../../stack/paths';
import { ensureFreshBuild } from './fresh-build';

interface JestGlobalConfigLike {
  selectProjects?: string[] | null;
  testPathPatterns?: { patterns?: string[] } | string[];
  testPathPattern?: string;
  rootDir?: string;
}

export const SESSION_FILE = () => path.join(dirs.run, 'jest-session.json');

/**
 * The projects named with `--selectProjects` on jest's command line. Jest 30 leaves them out of
 * the global config a global setup receives, so they are read from the arguments themselves.
 */
export function selectedProjectsFromArgv(argv: readonly string[]): string[] | undefined {
  const out: string[] = [];
  let seen = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--selectProjects=')) {
      seen = true;
      out.push(...arg.slice('--selectProjects='.length).split(',').filter(Boolean));
    } else if (arg === '--selectProjects') {
      seen = true;
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith('-')) out.push(argv[++i]!);
    }
  }
  return seen ? out : undefined;
}

/** Whether this jest run can reach integration or e2e test files at all. */
export function needsStack(config: JestGlobalConfigLike, argv: readonly string[] = process.argv): boolean {
  const projects = config.selectProjects ?? selectedProjectsFromArgv(argv);
  if (projects && projects.length > 0 && !projects.some((p) => p === 'integration' || p === 'e2e')) return false;
  const tp = config.testPathPatterns;
  const patterns = Array.isArray(tp) ? tp : (tp?.patterns ?? (config.testPathPattern ? [config.testPathPattern] : []));
  if (patterns.length > 0 && patterns.every((p) => /(^|\/)(test\/)?unit(\/|$)/.test(p))) return false;
  return true;
}

export function selectedServices(): string[] | undefined {
  const raw = process.env.STACK_SERVICES?.trim();
  if (!raw) return undefined; // every non-optional service
  if (raw === 'none') return [];
  return raw.split(/[\s,]+/).filter(Boolean);
}

export default async function globalSetup(globalConfig: JestGlobalConfigLike): Promise<void> {
  // tests that spawn bin/supervisor.js run dist/: never against an older build than the sources
  ensureFreshBuild((m) => consoleLog('build').info(m));
  if (!needsStack(globalConfig)) return;
  const services = selectedServices();
  if (services && services.length === 0) return;

  const owner = `jest:${process.pid}:${Date.now()}`;
  // Inherited by the test workers: processes they start through ensureServices() get this owner too.
  process.env.STACK_OWNER = owner;
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  ensureDir(dirs.run);
  fs.writeFileSync(SESSION_FILE(), JSON.stringify({ owner, pid: process.pid, startedAt: new Date().toISOString() }) + '\n');

  const log = consoleLog('stack');
  log.info(`global setup: bringing up ${services ? services.join(', ') : 'the local stack'} (reusing running services)…`);
  const t0 = Date.now();
  let res;
  try {
    res = await up(services, { owner, log });
  } catch (err) {
    // Jest skips the teardown when the setup throws: stop what this session started first.
    await down(undefined, { owner, log }).catch(() => undefined);
    throw err;
  }
  log.info(`global setup: stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (started: ${res.started.join(', ') || 'none'}; reused: ${res.reused.join(', ') || 'none'})`);
}
