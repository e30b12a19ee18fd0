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

function env(_ctx: ScenarioContext, home: string, port: number, controllerPort: number): NodeJS.ProcessEnv {
  fs.mkdirSync(home, { recursive: true });
  const main = process.env.STACK_HOME ?? path.join(REPO, '.stack');
  for (const d of ['opt', 'installed', 'cache']) {
    const link = path.join(home, d);
    if (!fs.existsSync(link)) fs.symlinkSync(path.join(main, d), link);
  }
  // the secured listeners move with the broker (next to its controller port), off the shared broker's 9095/9096
  return {
    ...process.env,
    STACK_HOME: home,
    STACK_KAFKA_PORT: String(port),
    STACK_KAFKA_CONTROLLER_PORT: String(controllerPort),
    STACK_KAFKA_SASL_SSL_PORT: String(controllerPort + 1),
    STACK_KAFKA_MTLS_PORT: String(controllerPort + 2),
    STACK_OWNER: 'bench',
    STACK_KAFKA_HEAP: '384m',
  };
}

export interface PrivateKafka {
  brokers: string;
  up(ctx: ScenarioContext): Promise<void>;
  down(ctx: ScenarioContext): Promise<void>;
  listening(): Promise<boolean>;
}

/** One bench broker: its own STACK_HOME folder under bench/.work and its own ports. */
export function createPrivateKafka(name: string, port: number, controllerPort: number): PrivateKafka {
  const cli = async (ctx: ScenarioContext, args: string[]): Promise<string> => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(REPO, 'stack', 'cli.ts'), ...args], {
      cwd: REPO,
      env: env(ctx, path.join(ctx.work, name), port, controllerPort),
      maxBuffer: 10e6,
    });
    return stdout;
  };
  return {
    brokers: `127.0.0.1:${port}`,
    up: async (ctx) => void (await cli(ctx, ['up', 'kafka'])),
    down: async (ctx) => void (await cli(ctx, ['down', 'kafka'])),
    listening: () => listening(port),
  };
}

/** Scenarios 3 and 5. */
export const privateKafka = createPrivateKafka('stack', PRIVATE_KAFKA_PORT, CONTROLLER_PORT);
const SOAK_PORT = Number(process.env.BENCH_SOAK_KAFKA_PORT ?? 29192);
/** Scenario 7 (the soak stops it while others may use the first one); its data directory is named after its port (a broker's storage is formatted for one controller address). */
export const soakKafka = createPrivateKafka(`stack-soak-${SOAK_PORT}`, SOAK_PORT, Number(process.env.BENCH_SOAK_KAFKA_CONTROLLER_PORT ?? SOAK_PORT + 2));

const SCALE_PORT = Number(process.env.BENCH_SCALE_KAFKA_PORT ?? 29292);
/** Scenario 8 (10,000 groups): a broker of its own, so scenario 3's groups and the __consumer_offsets it reads stay as they are. */
export const scaleKafka = createPrivateKafka(`stack-scale-${SCALE_PORT}`, SCALE_PORT, Number(process.env.BENCH_SCALE_KAFKA_CONTROLLER_PORT ?? SCALE_PORT + 2));

function listening(port: number): Promise<boolean> {
  {
    return new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
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
  }
}
