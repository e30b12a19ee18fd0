import type { Command } from 'commander';
import { createDaemon } from '../../daemon';
import type { CliContext } from '../context';
import { dryRunStart, parsePortFlag } from '../dry-run';

const SHUTDOWN_GRACE_MS = 10_000;

/** `supervisor start` — the daemon: schedules, checks, metrics, API and alerts in one process. */
export function registerStartCommand(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('start')
    .description('run the supervisor daemon until SIGTERM/SIGINT')
    .option('--port <port>', 'listen on this port instead of server.port', parsePortFlag)
    .option('--dry-run', 'load and validate everything start would, then exit 0 (or 2) without listening or connecting')
    .action(async (opts: { port?: number; dryRun?: boolean }) => {
      if (opts.dryRun) return dryRunStart(ctx, opts);
      const daemon = await createDaemon({ configFile: ctx.configFile(), ...(opts.port !== undefined ? { port: opts.port } : {}) });
      const done = new Promise<void>((resolve) => {
        const shutdown = (signal: string): void => {
          daemon.logger.info({ signal }, 'shutting down');
          const force = setTimeout(() => {
            daemon.logger.error({ graceMs: SHUTDOWN_GRACE_MS }, 'shutdown took too long; exiting');
            process.exit(1);
          }, SHUTDOWN_GRACE_MS);
          force.unref();
          daemon.stop().then(
            () => {
              clearTimeout(force);
              resolve();
            },
            (err: unknown) => {
              daemon.logger.error({ err }, 'shutdown failed');
              setExit(1);
              resolve();
            },
          );
        };
        process.once('SIGTERM', () => shutdown('SIGTERM'));
        process.once('SIGINT', () => shutdown('SIGINT'));
      });
      try {
        await daemon.start();
      } catch (err) {
        await daemon.stop();
        throw err;
      }
      daemon.logger.info({ url: daemon.url(), config: ctx.configFile() }, 'supervisor started');
      await done;
    });
}
