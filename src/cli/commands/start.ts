import { InvalidArgumentError, type Command } from 'commander';
import { createDaemon, type Daemon } from '../../daemon';
import { isSupervisorError } from '../../protocol';
import { armKillBackstop, createShutdownController } from '../../shutdown';
import type { CliContext } from '../context';
import { dryRunStart } from '../dry-run';

/** `--port`: an integer 0–65535 (0 = any free port); anything else is a usage error (exit 2). */
export function parsePortOption(value: string): number {
  const text = value.trim();
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a port; give an integer from 0 to 65535 (0 = any free port).`);
  }
  return port;
}

/** `supervisor start` — the daemon: schedules, checks, metrics, API and alerts in one process. */
export function registerStartCommand(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('start')
    .description('run the supervisor daemon until SIGTERM/SIGINT (a stop is bounded: the process exits within 10 s of the first signal, at once on a second one)')
    .option('--port <port>', 'listen on this port instead of server.port', parsePortOption)
    .option('--dry-run', 'load and validate everything start would, then exit 0 (or 2) without listening or connecting')
    .action(async (opts: { port?: number; dryRun?: boolean }) => {
      if (opts.dryRun) return dryRunStart(ctx, opts);
      // createDaemon takes the store's exclusive lock before anything else: a second daemon on
      // the same store stops here with SUP_ERR_STORE_LOCKED (exit 2), nothing of it started.
      let daemon: Daemon;
      try {
        daemon = await createDaemon({ configFile: ctx.configFile(), ...(opts.port !== undefined ? { port: opts.port } : {}) });
      } catch (err) {
        if (!(isSupervisorError(err) && err.code === 'SUP_ERR_STORE_LOCKED')) throw err;
        // a setup problem of this process, not a failure of the daemon: exit 2 like a config error
        ctx.stderr(err.format());
        setExit(2);
        return;
      }
      const shutdown = createShutdownController({
        stop: () => daemon.stop(),
        logger: daemon.logger,
        exit: (code) => process.exit(code),
        armBackstop: armKillBackstop,
      });
      let signalled = false;
      const onSignal = (signal: NodeJS.Signals): void => {
        signalled = true;
        shutdown.onSignal(signal);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      try {
        await daemon.start();
      } catch (err) {
        await daemon.stop();
        // SIGTERM during start-up: the stop it began is the answer, not the interrupted start
        if (signalled) {
          setExit(await shutdown.stopped);
          return;
        }
        throw err;
      }
      daemon.logger.info({ url: daemon.url(), config: ctx.configFile() }, 'supervisor started');
      setExit(await shutdown.stopped);
    });
}
