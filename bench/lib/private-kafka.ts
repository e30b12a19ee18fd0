/**
 * A Kafka broker of the bench's own (scenarios 5 and 7 stop and start it): the stack's Kafka
 * service run with STACK_HOME=bench/.work/stack and other ports, sharing the installed jars
 * (opt/, installed/ and cache/ are symlinks to the main .stack/). The shared broker other work
 * relies on is never stopped.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { REPO } from './supervisor';
import type { ScenarioContext } from './types';

const run = promisify(execFile);
export const PRIVATE_KAFKA_PORT = Number(process.env.BENCH_KAFKA_PORT ?? 29092);
const CONTROLLER_PORT = Number(process.env.BENCH_KAFKA_CONTROLLER_PORT ?? 29094);

function env(ctx: ScenarioContext): NodeJS.ProcessEnv {
  const home = path.join(ctx.work, 'stack');
  fs.mkdirSync(home, { recursive: true });
  const main = process.env.STACK_HOME ?? path.join(REPO, '.stack');
  for (const d of ['opt', 'installed', 'cache']) {
    const link = path.join(home, d);
    if (!fs.existsSync(link)) fs.symlinkSync(path.join(main, d), link);
  }
  return { ...process.env, STACK_HOME: home, STACK_KAFKA_PORT: String(PRIVATE_KAFKA_PORT), STACK_KAFKA_CONTROLLER_PORT: String(CONTROLLER_PORT), STACK_OWNER: 'bench', STACK_KAFKA_HEAP: '384m' };
}

async function stackCli(ctx: ScenarioContext, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(REPO, 'stack', 'cli.ts'), ...args], { cwd: REPO, env: env(ctx), maxBuffer: 10e6 });
  return stdout;
}

export const privateKafka = {
  brokers: `127.0.0.1:${PRIVATE_KAFKA_PORT}`,
  async up(ctx: ScenarioContext): Promise<void> {
    await stackCli(ctx, ['up', 'kafka']);
  },
  async down(ctx: ScenarioContext): Promise<void> {
    await stackCli(ctx, ['down', 'kafka']);
  },
  /** true while the broker port accepts connections */
  listening(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: PRIVATE_KAFKA_PORT });
      s.setTimeout(500);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
    });
  },
};
