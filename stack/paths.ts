/**
 * Where the local stack keeps its state: installs, downloads, data, logs and pid records.
 * Everything sits under one git-ignored folder (`.stack/` at the repository root, or
 * `STACK_HOME`), so deleting it resets the stack.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..');

export const STACK_HOME = path.resolve(process.env.STACK_HOME ?? path.join(REPO_ROOT, '.stack'));

export const dirs = {
  home: STACK_HOME,
  /** installed software, one folder per service and version */
  opt: path.join(STACK_HOME, 'opt'),
  /** download caches (Maven repository, ivy, pip) — a warm `up` never needs the network */
  cache: path.join(STACK_HOME, 'cache'),
  /** service data (Kafka log dirs, S3 objects, TSDB, mail) */
  data: path.join(STACK_HOME, 'data'),
  /** generated configuration files */
  conf: path.join(STACK_HOME, 'conf'),
  logs: path.join(STACK_HOME, 'logs'),
  /** one JSON record per running service: pid, start time, owner */
  run: path.join(STACK_HOME, 'run'),
  /** Python virtual environment with pyspark, delta-spark and deltalake */
  venv: path.join(STACK_HOME, 'venv'),
} as const;

export function ensureDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export function logFile(service: string): string {
  return path.join(dirs.logs, `${service}.log`);
}
