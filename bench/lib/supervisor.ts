/** Runs the supervisor in-process (createDaemon) or as its CLI process for the scenarios. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createDaemon, type Daemon } from '../../src/daemon';
import { silentLogger } from '../../src/shared/logger';

export const REPO = path.resolve(__dirname, '..', '..');

/** Writes a config file (YAML text) and returns its path; the store lives beside it. */
export function writeConfig(dir: string, name: string, yaml: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.yaml`);
  for (const ext of ['', '-wal', '-shm']) fs.rmSync(path.join(dir, `${name}.db${ext}`), { force: true });
  fs.writeFileSync(file, yaml.replace(/__STORE__/g, `./${name}.db`));
  return file;
}

export async function startDaemon(configFile: string): Promise<Daemon> {
  const d = await createDaemon({ configFile, port: 0, logger: silentLogger, env: { ...process.env } });
  await d.start();
  return d;
}

/** A three-task chain of `true` subprocesses: the DAG shape of scenario 1 (bench_chain in Airflow). */
export function chainConfig(schedule: string): string {
  return `server:
  port: 0
store:
  path: __STORE__
logging:
  level: warn
pipelines:
  bench_chain:
    schedule: "${schedule}"
    timezone: UTC
    catchup: false
    overlap: skip
    tasks:
      - id: t1
        operator: command
        params: { command: ["true"] }
      - id: t2
        operator: command
        upstream: [t1]
        params: { command: ["true"] }
      - id: t3
        operator: command
        upstream: [t2]
        params: { command: ["true"] }
alerts:
  sinks:
    log: { type: log }
  route:
    sinks: [log]
`;
}
