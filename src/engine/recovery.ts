/**
 * Crash recovery. At start, runs left `running` by a process that is gone are resolved: the
 * process groups their tasks started are killed (an ingestion orphaned by a SIGKILLed daemon
 * must not finish behind our back), the interrupted attempt is closed as failed
 * (SUP_ERR_ORPHANED) and the task is retried per its policy when the run resumes — the run is
 * queued again under the same id, so no second run is created for its logical date.
 *
 * Containers (the ingestion's docker mode) are removed too: the container of an interrupted
 * attempt from its record beside the attempt's status file, then every container labelled by a
 * supervisor of this host that is gone (a sweep through each CLI seen, plus `containerClis`).
 */
import fs from 'node:fs';
import type { Logger } from '../protocol';
import type { RunStore } from '../store/runs';
import { containerRecordFile, readContainerRecord, stopAndRemoveContainer, sweepOrphanedContainers } from './operators/container';
import { attemptStatusFile, isProcessGroupAlive, killProcessGroup, readAttemptStatus } from './subprocess';

export interface RecoveryParams {
  store: RunStore;
  logger: Logger;
  now: () => number;
  /** Our pid: runs owned by it are stale too (a previous process with the same pid). */
  selfPid?: number;
  /** Whether a pid belongs to a live process (a live owner keeps its runs). */
  isAlive?: (pid: number) => boolean;
  killGraceMs?: number;
  /** Where task wrappers recorded exit statuses: an attempt that in fact succeeded is not re-run. */
  statusDir?: string | null;
  /** Docker-compatible CLIs (argv prefixes, e.g. ['podman', '--runtime', 'runc']) to sweep for containers of dead supervisors. */
  containerClis?: readonly (readonly string[])[];
}

export interface RecoveredRun {
  runId: string;
  pipeline: string;
  ownerPid: number | null;
  killedGroups: number[];
  retriedTasks: string[];
  failedTasks: string[];
  /** Tasks whose interrupted attempt had finished successfully (recorded by the wrapper). */
  completedTasks: string[];
  /** Names of the interrupted attempts' containers that were removed. */
  removedContainers: string[];
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function recoverOrphanedRuns(params: RecoveryParams): Promise<RecoveredRun[]> {
  const { store, now } = params;
  const logger = params.logger.child({ component: 'engine', name: 'recovery' });
  const selfPid = params.selfPid ?? process.pid;
  const isAlive = params.isAlive ?? isPidAlive;
  const out: RecoveredRun[] = [];
  const clis = new Map<string, readonly string[]>((params.containerClis ?? []).map((c) => [JSON.stringify(c), c]));
  for (const run of store.listRuns({ state: 'running', limit: 10_000 })) {
    if (run.ownerPid !== null && run.ownerPid !== selfPid && isAlive(run.ownerPid)) continue;
    const rec: RecoveredRun = {
      runId: run.id,
      pipeline: run.pipeline,
      ownerPid: run.ownerPid,
      killedGroups: [],
      retriedTasks: [],
      failedTasks: [],
      completedTasks: [],
      removedContainers: [],
    };
    const reason = `orphaned (SUP_ERR_ORPHANED): the supervisor process${run.ownerPid ? ` ${run.ownerPid}` : ''} died while the task was running`;
    for (const ti of store.listTasks(run.id)) {
      if (ti.state !== 'running') continue; // a queued task (cleared by an operator) has not started its next try
      if (ti.pid !== null && isProcessGroupAlive(ti.pid)) {
        await killProcessGroup(ti.pid, params.killGraceMs ?? 5_000);
        rec.killedGroups.push(ti.pid);
        logger.warn({ run: run.id, task: ti.taskId, pgid: ti.pid }, 'killed an orphaned process group');
      }
      const container = params.statusDir && ti.tryNumber > 0 ? readContainerRecord(containerRecordFile(params.statusDir, run.id, ti.taskId, ti.tryNumber)) : null;
      if (container) {
        clis.set(JSON.stringify(container.cli), container.cli);
        const r = await stopAndRemoveContainer(container.cli, container.name, (params.killGraceMs ?? 5_000) / 1000);
        if (r.existed) {
          rec.removedContainers.push(container.name);
          logger.warn({ run: run.id, task: ti.taskId, container: container.name }, 'removed an orphaned task container');
        }
        if (r.error) logger.error({ run: run.id, task: ti.taskId, container: container.name, error: r.error }, 'could not remove an orphaned task container');
        else fs.rmSync(containerRecordFile(params.statusDir!, run.id, ti.taskId, ti.tryNumber), { force: true });
      }
      const status = params.statusDir && ti.tryNumber > 0 ? readAttemptStatus(attemptStatusFile(params.statusDir, run.id, ti.taskId, ti.tryNumber)) : null;
      if (status && status.code === 0) {
        // The attempt finished successfully while nobody was watching: keep its result, do not run it again.
        store.updateAttempt(run.id, ti.taskId, ti.tryNumber, { state: 'success', endedAt: status.endedAt, exitCode: 0 });
        store.updateTask(run.id, ti.taskId, {
          state: 'success',
          endedAt: status.endedAt,
          pid: null,
          result: status.lastJson ?? { exitCode: 0 },
          reason: 'completed while the supervisor was down',
        });
        rec.completedTasks.push(ti.taskId);
        continue;
      }
      const how = status ? ` (the attempt ended with ${status.signal ? `signal ${status.signal}` : `exit code ${status.code}`})` : '';
      if (ti.tryNumber > 0)
        store.updateAttempt(run.id, ti.taskId, ti.tryNumber, { state: 'failed', endedAt: status?.endedAt ?? now(), error: reason + how, exitCode: status?.code ?? null });
      if (ti.tryNumber < ti.maxTries) {
        store.updateTask(run.id, ti.taskId, { state: 'retrying', nextTryAt: now(), pid: null, reason });
        rec.retriedTasks.push(ti.taskId);
      } else {
        store.updateTask(run.id, ti.taskId, { state: 'failed', endedAt: now(), pid: null, reason });
        rec.failedTasks.push(ti.taskId);
      }
    }
    store.updateRun(run.id, { state: 'queued', ownerPid: null, reason: `recovered after a crash of process ${run.ownerPid ?? '?'}` });
    logger.warn(
      { run: run.id, pipeline: run.pipeline, retried: rec.retriedTasks, failed: rec.failedTasks, completed: rec.completedTasks },
      'recovered a run left running by a dead process',
    );
    out.push(rec);
  }
  const runIds = new Set(out.map((r) => r.runId));
  for (const cli of clis.values()) {
    const swept = await sweepOrphanedContainers({ cli, logger, isAlive, selfPid, runIds, stopSeconds: (params.killGraceMs ?? 5_000) / 1000 });
    if (swept.error) logger.warn({ cli: cli[0], error: swept.error }, 'could not sweep for orphaned containers');
  }
  return out;
}
