import type { Command } from 'commander';
import { runOnce } from '../../../streams/check-scheduler';
import { formatDuration } from '../../config/duration';
import { SupervisorError, worstStatus, type Signal } from '../../protocol';
import { createCheckProbes, resolvedChecks } from '../../wiring/probes';
import { systemClock } from '../../shared/clock';
import type { CliContext } from '../context';
import { table } from './pipelines';

/** `supervisor checks list | run [NAME…]` — the continuous checks, on demand. */
export function registerCheckCommands(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  const checks = program.command('checks').description('the continuous health checks');

  checks
    .command('list')
    .description('configured checks with their kind and schedule')
    .action(() => {
      const rows = resolvedChecks(ctx.loadConfig().config);
      if (ctx.json) return ctx.stdout(JSON.stringify(rows.map((c) => ({ name: c.name, kind: c.kind, enabled: c.enabled, intervalMs: c.intervalMs, timeoutMs: c.timeoutMs }))));
      ctx.stdout(
        table(
          ['NAME', 'KIND', 'INTERVAL', 'TIMEOUT', 'ENABLED'],
          rows.map((c) => [c.name, c.kind, formatDuration(c.intervalMs), formatDuration(c.timeoutMs), String(c.enabled)]),
        ),
      );
    });

  checks
    .command('run [names...]')
    .description('run checks once and print their signals; exit 1 if any is crit')
    .action(async (names: string[]) => {
      const { config } = ctx.loadConfig();
      const known = resolvedChecks(config).map((c) => c.name);
      const unknown = names.filter((n) => !known.includes(n));
      if (unknown.length > 0)
        throw new SupervisorError('SUP_ERR_NOT_FOUND', `no check named ${unknown.map((n) => `"${n}"`).join(', ')} (configured: ${known.join(', ') || 'none'})`);
      const probes = createCheckProbes({ config, logger: ctx.logger, clock: systemClock, ...(names.length ? { only: names } : {}) });
      try {
        const signals: Signal[] = (await Promise.all(probes.map((p) => runOnce(p, { logger: ctx.logger })))).flat();
        if (ctx.json) ctx.stdout(JSON.stringify(signals));
        else
          ctx.stdout(
            table(
              ['CHECK', 'STATUS', 'TARGET', 'SUMMARY'],
              signals.map((s) => [s.check, s.status.toUpperCase(), s.target, s.summary]),
            ),
          );
        if (worstStatus(signals.map((s) => s.status)) === 'crit') setExit(1);
      } finally {
        await Promise.allSettled(probes.map((p) => p.close?.() ?? Promise.resolve()));
      }
    });
}
