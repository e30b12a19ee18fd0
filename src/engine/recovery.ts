/**
 * Crash recovery. When a process starts scheduling (the sole daemon at start, a replica that
 * just became the leader), runs left `running` by a process that is gone are resolved: the
 * process groups their tasks started are killed (an ingestion orphaned by a SIGKILLed daemon
 * must not finish behind our back), the interrupted attempt is closed as failed
 * (SUP_ERR_ORPHANED) and the task is retried per its policy when the run resumes — the run is
 * queued again under the same id, so no second run is created for its logical date.
 *
 * **Who owns a run, across hosts.** A running run records its owner, the claiming process's id
 * `host:pid:random` (a replica's lease holder id, src/wiring/leadership.ts). The owner is alive
 * when it is this process and the run executes here; when it holds the leader lease now; or when
 * it is on this host and its pid is a live process other than ours (a deposed replica of this
 * host still finishes its runs). An owner on another host that does not hold the lease is gone:
 * its term ended (we lead, or it would), and a pid means nothing on another host. Runs claimed
 * by an older version (no owner, only `owner_pid`) are judged by the pid on this host.
 *
 * **Adopted, not re-run.** A task whose try was handed to a task worker (its row is in
 * task_queue, `canAdopt`) keeps running: the worker is still heartbeating, or will be declared
 * lost by the runner that adopts the try (src/engine/executor.ts), so the try runs once.
 *
 * **Another host's processes.** Process groups, exit-status files and containers are local to
 * the owner's host: they are only killed, read or removed when the owner ran on this host. On
 * another host the task wrapper (task-wrapper.cjs) ends the task itself when its supervisor
 * dies (the IPC channel disconnects), and `supervisor worker` tries end with their worker.
 *
 * **Fenced.** Each run's writes are one transaction through `fence` (the leader's epoch,
 * src/wiring/leadership.ts): a deposed leader that wakes in the middle writes nothing, and
 * SUP_ERR_NOT_LEADER ends the recovery.
 *
 * Containers (the ingestion's docker mode) are removed too: the container of an interrupted
 * attempt from its record beside the attempt's status file, then every container labelled by a
 * supervisor of this host that is gone (a sweep through each CLI seen, plus `containerClis`).
 */
import fs from 'node:fs';
import os from 'node:os';
import type { Logger } from '../protocol';
import type { RunRecord, RunStore } from '../store/runs';
import { containerRecordFile, readContainerRecord, stopAndRemoveContainer, sweepOrphanedContainers } from './operators/container';
import { attemptStatusFile, isProcessGroupAlive, killProcessGroup, readAttemptStatus } from './subprocess';

export interface RecoveryParams {
  store: RunStore;
  logger: Logger;
  now: () => number;
  /** Our owner id (`host:pid:random`): a run it owns that does not execute here is stale. */
  selfId?: string;
  /** Our pid: runs owned by it are stale too (a previous process with the same pid). */
  selfPid?: number;
  /** This host's name (default os.hostname()): pids and process groups mean something only here. */
  host?: string;
  /** Whether a pid belongs to a live process (a live owner keeps its runs). */
  isAlive?: (pid: number) => boolean;
  /** Runs executing in this process (kept whatever the store says). */
  executing?: (runId: string) => boolean;
  /** The leader lease's holder now (it is alive); default unknown. */
  leaseHolder?: string | null;
  /** Whether a try was handed to a task worker and can be adopted (its task_queue row). */
  canAdopt?: (runId: string, taskId: string, tryNumber: number) => boolean;
  /**
   * Only runs owned on this host (the periodic pass while leading): a pid here is known alive or
   * dead at any time, while another host's owner is judged gone only when a term changed.
   */
  onlyThisHost?: boolean;
  /** Runs a run's writes in one transaction fenced by the leader's epoch (default: as they are). */
  fence?: <T>(write: () => T) => T;
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
  /** The owner id it had (null: a run of an older version). */
  owner: string | null;
  killedGroups: number[];
  retriedTasks: string[];
  failedTasks: string[];
  /** Tasks whose interrupted attempt had finished successfully (recorded by the wrapper). */
  completedTasks: string[];
  /** Tasks whose try runs on a task worker: kept running, the runner waits for it again. */
  adoptedTasks: string[];
  /** Names of the interrupted attempts' containers that were removed. */
  removedContainers: string[];
}

/** `host:pid:random` → its parts (a host name has no colon; null when it is not such an id). */
export function parseOwner(owner: string): { host: string; pid: number } | null {
  const parts = owner.split(':');
  if (parts.length < 3) return null;
  const pid = Number(parts[parts.length - 2]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return { host: parts.slice(0, -2).join(':'), pid };
}

export interface OwnerLiveness {
  selfId?: string;
  selfPid?: number;
  host?: string;
  isAlive?: (pid: number) => boolean;
  executing?: (runId: string) => boolean;
  leaseHolder?: string | null;
}

/** Whether the process that owns a running run is alive (the rules in this file's comment). */
export function isRunOwnerAlive(run: Pick<RunRecord, 'id' | 'owner' | 'ownerPid'>, o: OwnerLiveness = {}): boolean {
  const selfPid = o.selfPid ?? process.pid;
  const isAlive = o.isAlive ?? isPidAlive;
  if (o.executing?.(run.id)) return true;
  if (run.owner === null) return run.ownerPid !== null && run.ownerPid !== selfPid && isAlive(run.ownerPid);
  if (o.selfId !== undefined && run.owner === o.selfId) return false; // ours, and it does not execute here
  if (o.leaseHolder && run.owner === o.leaseHolder) return true; // the leader now
  const parsed = parseOwner(run.owner);
  if (!parsed || parsed.host !== (o.host ?? os.hostname())) return false; // another host, not leading: its term ended
  return parsed.pid !== selfPid && isAlive(parsed.pid);
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
  const host = params.host ?? os.hostname();
  const isAlive = params.isAlive ?? isPidAlive;
  const fence = params.fence ?? (<T>(write: () => T): T => write());
  const graceMs = params.killGraceMs ?? 5_000;
  const out: RecoveredRun[] = [];
  const clis = new Map<string, readonly string[]>((params.containerClis ?? []).map((c) => [JSON.stringify(c), c]));
  const liveness: OwnerLiveness = {
    selfPid,
    host,
    isAlive,
    ...(params.selfId !== undefined ? { selfId: params.selfId } : {}),
    ...(params.executing ? { executing: params.executing } : {}),
    ...(params.leaseHolder !== undefined ? { leaseHolder: params.leaseHolder } : {}),
  };
  for (const run of store.listRuns({ state: 'running', limit: 10_000 })) {
    // an older version's run (no owner id) ran on this host, as every process did then
    const ownerHost = run.owner === null ? host : (parseOwner(run.owner)?.host ?? null);
    const local = ownerHost === host;
    if (params.onlyThisHost && !local) continue;
    if (isRunOwnerAlive(run, liveness)) continue;
    const rec: RecoveredRun = {
      runId: run.id,
      pipeline: run.pipeline,
      ownerPid: run.ownerPid,
      owner: run.owner,
      killedGroups: [],
      retriedTasks: [],
      failedTasks: [],
      completedTasks: [],
      adoptedTasks: [],
      removedContainers: [],
    };
    const who = run.owner ?? (run.ownerPid ? `process ${run.ownerPid}` : 'its process');
    const reason = `orphaned (SUP_ERR_ORPHANED): the supervisor ${run.owner ? run.owner : `process${run.ownerPid ? ` ${run.ownerPid}` : ''}`} died while the task was running`;
    /** The store writes of this run, done in one fenced transaction once the processes are dealt with. */
    const writes: Array<() => void> = [];
    for (const ti of store.listTasks(run.id)) {
      if (ti.state !== 'running') continue; // a queued task (cleared by an operator) has not started its next try
      if (ti.tryNumber > 0 && params.canAdopt?.(run.id, ti.taskId, ti.tryNumber)) {
        // on a task worker: the try goes on, the runner that resumes the run waits for it
        rec.adoptedTasks.push(ti.taskId);
        continue;
      }
      if (local && ti.pid !== null && isProcessGroupAlive(ti.pid)) {
        await killProcessGroup(ti.pid, graceMs);
        rec.killedGroups.push(ti.pid);
        logger.warn({ run: run.id, task: ti.taskId, pgid: ti.pid }, 'killed an orphaned process group');
      }
      // (another host: its task wrapper ended the task when the owner died; nothing to kill from here)
      const container = local && params.statusDir && ti.tryNumber > 0 ? readContainerRecord(containerRecordFile(params.statusDir, run.id, ti.taskId, ti.tryNumber)) : null;
      if (container) {
        clis.set(JSON.stringify(container.cli), container.cli);
        const r = await stopAndRemoveContainer(container.cli, container.name, graceMs / 1000);
        if (r.existed) {
          rec.removedContainers.push(container.name);
          logger.warn({ run: run.id, task: ti.taskId, container: container.name }, 'removed an orphaned task container');
        }
        if (r.error) logger.error({ run: run.id, task: ti.taskId, container: container.name, error: r.error }, 'could not remove an orphaned task container');
        else fs.rmSync(containerRecordFile(params.statusDir!, run.id, ti.taskId, ti.tryNumber), { force: true });
      }
      const status = local && params.statusDir && ti.tryNumber > 0 ? readAttemptStatus(attemptStatusFile(params.statusDir, run.id, ti.taskId, ti.tryNumber)) : null;
      if (status && status.code === 0) {
        // The attempt finished successfully while nobody was watching: keep its result, do not run it again.
        writes.push(() => {
          store.updateAttempt(run.id, ti.taskId, ti.tryNumber, { state: 'success', endedAt: status.endedAt, exitCode: 0 });
          store.updateTask(run.id, ti.taskId, {
            state: 'success',
            endedAt: status.endedAt,
            pid: null,
            result: status.lastJson ?? { exitCode: 0 },
            reason: 'completed while the supervisor was down',
          });
        });
        rec.completedTasks.push(ti.taskId);
        continue;
      }
      const how = status ? ` (the attempt ended with ${status.signal ? `signal ${status.signal}` : `exit code ${status.code}`})` : '';
      const at = now();
      writes.push(() => {
        if (ti.tryNumber > 0)
          store.updateAttempt(run.id, ti.taskId, ti.tryNumber, { state: 'failed', endedAt: status?.endedAt ?? at, error: reason + how, exitCode: status?.code ?? null });
        if (ti.tryNumber < ti.maxTries) store.updateTask(run.id, ti.taskId, { state: 'retrying', nextTryAt: at, pid: null, reason });
        else store.updateTask(run.id, ti.taskId, { state: 'failed', endedAt: at, pid: null, reason });
      });
      (ti.tryNumber < ti.maxTries ? rec.retriedTasks : rec.failedTasks).push(ti.taskId);
    }
    const requeued = fence(() => {
      // still the dead owner's running run (an operator may have ended it, a dispatcher claimed it again meanwhile): queued again, its tasks resolved
      const moved = store.transitionRun(run.id, ['running'], { state: 'queued', ownerPid: null, reason: `recovered after a crash of ${who}` }, run.owner);
      if (moved) for (const w of writes) w();
      return moved;
    });
    if (!requeued) continue;
    logger.warn(
      { run: run.id, pipeline: run.pipeline, owner: run.owner, retried: rec.retriedTasks, failed: rec.failedTasks, completed: rec.completedTasks, adopted: rec.adoptedTasks },
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
