/**
 * Jest global setup: when integration or e2e tests are selected, bring up the local stack's
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

interface JestGlobalConfigLike {
  selectProjects?: string[] | null;
  testPathPatterns?: { patterns?: string[] } | string[];
  testPathPattern?: string;
  rootDir?: string;
}

export const SESSION_FILE = () => path.join(dirs.run, 'jest-session.json');

/** Whether this jest run can reach integration or e2e test files at all. */
export function needsStack(config: JestGlobalConfigLike): boolean {
  const projects = config.selectProjects ?? undefined;
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
  log.info(
    `global setup: stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (started: ${res.started.join(', ') || 'none'}; reused: ${res.reused.join(', ') || 'none'})`,
  );
}
