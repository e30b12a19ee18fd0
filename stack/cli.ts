/**
 * `npm run stack -- up [service…] | down [service…] | status | logs SERVICE`
 * The local stack's command line; see stack/README.md.
 */
// The AWS SDK warns about Node 20 on every run; the stack only uses it to create the bucket.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import * as fs from 'node:fs';
import { Command, Option } from 'commander';
import { down, formatEndpoints, status, up, StackError } from './manager';
import { logFile, STACK_HOME } from './paths';
import { services, serviceByName } from './services';
import { tailFile } from './install';

const program = new Command('stack').description(`Local stack for the pipeline supervisor (state in ${STACK_HOME})`).showHelpAfterError();

program
  .command('up')
  .description('install (first time) and start services with their dependencies; reuses running ones')
  .argument('[services...]', `services to start (default: all but optional ones): ${services.map((s) => s.name).join(', ')}`)
  .addOption(new Option('--timeout-factor <n>', 'multiply every readiness timeout (default: STACK_TIMEOUT_FACTOR or 1)'))
  .action(async (names: string[], opts: { timeoutFactor?: string }) => {
    const t0 = Date.now();
    const res = await up(names, { timeoutFactor: opts.timeoutFactor === undefined ? undefined : Number(opts.timeoutFactor) });
    process.stdout.write(`\nstack up in ${((Date.now() - t0) / 1000).toFixed(1)} s (started: ${res.started.join(', ') || 'none'}; reused: ${res.reused.join(', ') || 'none'})\n`);
    for (const name of [...res.started, ...res.reused]) {
      const svc = serviceByName(name)!;
      process.stdout.write(`  ${name.padEnd(16)} ${formatEndpoints(svc)}\n`);
    }
  });

program
  .command('down')
  .description('stop the services this stack started (by their recorded pids)')
  .argument('[services...]', 'services to stop (default: all)')
  .option('--owner <owner>', 'stop only processes started by this owner (e.g. a jest session)')
  .action(async (names: string[], opts: { owner?: string }) => {
    const stopped = await down(names, { owner: opts.owner });
    process.stdout.write(stopped.length > 0 ? `stopped: ${stopped.join(', ')}\n` : 'nothing to stop\n');
  });

program
  .command('status')
  .description('show each service: up / starting / down / port held by another process')
  .argument('[services...]')
  .option('--json', 'machine-readable output')
  .action(async (names: string[], opts: { json?: boolean }) => {
    const list = await status(names);
    if (opts.json) {
      process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      return;
    }
    let total = 0;
    for (const s of list) {
      total += s.rssBytes ?? 0;
      const pid = s.pid ? `pid ${s.pid}` : '';
      const rss = s.rssBytes ? `${(s.rssBytes / 2 ** 20).toFixed(0)} MiB` : '';
      const eps = Object.entries(s.endpoints)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      process.stdout.write(`${s.name.padEnd(16)} ${s.state.padEnd(8)} ${pid.padEnd(10)} ${rss.padStart(8)}  ${s.detail ?? eps}\n`);
    }
    process.stdout.write(`total RSS of running services: ${(total / 2 ** 20).toFixed(0)} MiB\n`);
    if (list.some((s) => s.state !== 'up' && s.state !== 'down')) process.exitCode = 3;
  });

program
  .command('logs')
  .description("print the tail of a service's log file")
  .argument('<service>')
  .option('-n, --lines <n>', 'lines to print', '100')
  .action((name: string, opts: { lines: string }) => {
    if (!serviceByName(name) && !fs.existsSync(logFile(name))) throw new StackError(`unknown service "${name}"`);
    const file = logFile(name);
    if (!fs.existsSync(file)) throw new StackError(`${name} has no log yet (${file})`);
    process.stdout.write(`==> ${file} <==\n${tailFile(file, Number(opts.lines))}\n`);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`stack: ${msg}\n`);
  process.exit(1);
});
