import type { Command } from 'commander';
import type { CliContext } from './context';

/**
 * Command groups contributed by the engine, checks and alerts. Listed here so main.ts stays
 * a fixed list of the foundation's commands.
 */
export function registerExtraCommands(_program: Command, _ctx: CliContext, _setExit: (code: number) => void): void {
  // engine: pipelines, dags, tasks, runs, logs; checks: checks list|run — registered as they land
}
