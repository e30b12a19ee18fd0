/**
 * Executes one run of a pipeline: tasks in dependency order under their trigger rules, each
 * with retries (exponential backoff, jitter, max delay) and an execution timeout, the whole
 * run under its run timeout. Every state change is written to the store first and then
 * published as a RunEvent. A run can be resumed: tasks already finished are kept, tasks left
 * `retrying` by a crash or shutdown continue with their next try, and a task left `running` by
 * crash recovery (its try runs on a worker: src/engine/recovery.ts) is adopted — the runner
 * waits for that try's outcome through the executor instead of starting another.
 *
 * An abort with the reason `abandoned` (another process owns the run now) stops the run here
 * without writing anything more: its new owner goes on with it.
 */
import { SupervisorError, describeError, type Clock, type Logger, type RunEvent, type RunEventAudit, type RunState, type TaskState } from '../protocol';
import type { FirstWrites, OperatorEndState, RunRecord, RunStore, TaskInstanceRecord } from '../store/runs';
import { evaluateTriggerRule, isTaskDone, isTaskFailed, retryDelay, type PipelineSpec, type TaskSpec } from './dag';
import { createLogBuffer } from './log-buffer';
import { localExecutor, type TaskExecutor } from './executor';
import type { OperatorRegistry, TaskContext, TaskOutcome, UpstreamResult } from './operator';

export interface RunnerParams {
  store: RunStore;
  operators: OperatorRegistry;
  clock: Clock;
  logger: Logger;
  emit: (event: RunEvent) => void;
  configDir: string;
  /** Folder for task exit-status files (see task-wrapper.cjs); null disables the wrapper. */
  statusDir?: string | null;
  /** Random source for retry jitter (tests pass a constant). */
  random?: () => number;
  /** Per-attempt log cap in bytes (tail kept). Default 1 MiB. */
  maxLogBytes?: number;
  /** How long an aborted operator may take to wind down before the runner stops waiting. */
  abortGraceMs?: number;
  /** Where a try runs: in this process (default) or on task workers (src/engine/executor.ts). */
  executor?: TaskExecutor;
}

export interface ExecuteRunOptions {
  /** Run only these tasks, ignoring their upstream (`tasks test`). */
  only?: readonly string[];
  /** The run as scheduleFirst wrote it with planRun's rows in the transaction that claimed it: its rows are not read again, its begun tries go on. */
  begun?: BegunRun;
}

/** What the claiming transaction wrote (planRun's rows): the run (claimed), all its task instances, and the tasks whose first try is recorded running. */
export interface BegunRun {
  run: RunRecord;
  tasks: TaskInstanceRecord[];
  started: ReadonlySet<string>;
}

/** A run's first writes as planRun plans them, and the tasks whose first try they begin. */
export interface RunPlan extends FirstWrites {
  tasks: TaskInstanceRecord[];
  started: ReadonlySet<string>;
}

/**
 * The first writes of run `runId`, planned before it exists, for the store to write beside the
 * run it creates claimed (RunStore.scheduleFirst, in the transaction that claims it:
 * src/engine/submit.ts): every task instance, and for each task its trigger rule lets start at
 * once (as executeRun's first pass would: no upstream, or rule `always`) its first try begun
 * (state running, try 1, the attempt row). It writes nothing, and nothing runs until
 * executeRun({ begun }) after the commit. A crash in between leaves a running run with running
 * tries and no process: crash recovery fails those tries and retries them per policy, as for a
 * crash right after a try is recorded.
 */
export function planRun(pipeline: PipelineSpec, runId: string, now: number): RunPlan {
  const states = new Map<string, TaskInstanceRecord>();
  for (const t of pipeline.tasks) states.set(t.id, newTaskInstance(runId, t, 'none', null, null));
  const started = new Set<string>();
  for (const t of pipeline.tasks) {
    const rule = evaluateTriggerRule(
      t.triggerRule,
      t.upstream.map((u) => states.get(u)?.state ?? 'none'),
    );
    if (rule !== 'run') continue;
    states.set(t.id, { ...states.get(t.id)!, state: 'running', tryNumber: 1, startedAt: now });
    started.add(t.id);
  }
  return { tasks: [...states.values()], started, attempts: [...started].map((taskId) => ({ taskId, tryNumber: 1, startedAt: now })) };
}

/** Reason attached to an AbortSignal so the runner knows why a task was stopped. */
export class AbortReason extends Error {
  constructor(
    readonly kind: 'execution_timeout' | 'run_timeout' | 'shutdown' | 'handover' | 'cancelled' | 'abandoned',
    message: string,
    /** An operator's request (kind `cancelled`): the state the run ends in, and who asked. */
    readonly request?: { endState: OperatorEndState; audit: RunEventAudit },
  ) {
    super(message);
    this.name = 'AbortError';
  }
}

/** The operator's request an abort carries, if it is one (cancel, mark a running run). */
function operatorRequest(reason: unknown): { endState: OperatorEndState; audit: RunEventAudit } | null {
  return reason instanceof AbortReason && reason.kind === 'cancelled' ? (reason.request ?? { endState: 'cancelled', audit: { actor: 'unknown', action: 'cancel' } }) : null;
}

/** The state an unfinished task ends in when an operator ends its run. */
function taskEndState(end: OperatorEndState): TaskState {
  return end;
}

const DEFAULT_MAX_LOG_BYTES = 1024 * 1024;

/** A task instance that has not run yet (no try), in `state`: the runner's `none`, or what an operator set. */
export function newTaskInstance(runId: string, task: TaskSpec, state: TaskState, endedAt: number | null, reason: string | null): TaskInstanceRecord {
  return { runId, taskId: task.id, state, tryNumber: 0, maxTries: task.retry.retries + 1, startedAt: null, endedAt, nextTryAt: null, pid: null, result: null, reason };
}

/** Runs (or resumes) the run `runId`, which must already be claimed (`running`). Never throws for task failures. */
export async function executeRun(p: RunnerParams, pipeline: PipelineSpec, runId: string, signal: AbortSignal, options: ExecuteRunOptions = {}): Promise<RunRecord> {
  const { store, clock } = p;
  const begun = options.begun?.run.id === runId ? options.begun : undefined;
  const run = begun?.run ?? store.getRun(runId);
  if (!run) throw new SupervisorError('SUP_ERR_NOT_FOUND', `run "${runId}" does not exist`);
  const logger = p.logger.child({ run: run.id });
  const selected = options.only ? new Set(options.only) : null;
  const tasks = pipeline.tasks.filter((t) => !selected || selected.has(t.id));

  // Task instances: existing ones kept (resume), missing ones created (in one transaction).
  const states = new Map<string, TaskInstanceRecord>();
  for (const ti of begun?.tasks ?? store.listTasks(run.id)) states.set(ti.taskId, ti);
  const missing = tasks.filter((t) => !states.has(t.id));
  if (missing.length > 0)
    store.atomically(() => {
      for (const t of missing) {
        const ti = newTaskInstance(run.id, t, 'none', null, null);
        store.upsertTask(ti);
        states.set(t.id, ti);
      }
    });

  const runStartedAt = run.startedAt ?? clock.now();
  const runAc = new AbortController();
  const onOuterAbort = (): void => runAc.abort(signal.reason instanceof AbortReason ? signal.reason : new AbortReason('shutdown', 'the supervisor is shutting down'));
  if (signal.aborted) onOuterAbort();
  else signal.addEventListener('abort', onOuterAbort, { once: true });

  const timerAc = new AbortController();
  if (pipeline.runTimeoutMs !== null) {
    const remaining = runStartedAt + pipeline.runTimeoutMs - clock.now();
    clock.sleep(Math.max(0, remaining), timerAc.signal).then(
      () => runAc.abort(new AbortReason('run_timeout', `the run exceeded its run timeout of ${pipeline.runTimeoutMs} ms`)),
      () => undefined,
    );
  }

  p.emit({ type: 'run', runId: run.id, pipeline: run.pipeline, logicalDate: run.logicalDate, trigger: run.kind, state: 'running', at: clock.now(), firedAt: run.firedAt });
  logger.info({ pipeline: run.pipeline, logicalDate: new Date(run.logicalDate).toISOString(), kind: run.kind }, 'run started');

  const setTask = (taskId: string, patch: Partial<TaskInstanceRecord>): TaskInstanceRecord => {
    const next = { ...states.get(taskId)!, ...patch };
    states.set(taskId, next);
    store.updateTask(run.id, taskId, patch);
    return next;
  };
  const emitTask = (taskId: string, state: TaskState, attempt: number, reason?: string, durationMs?: number): void => {
    const ev: RunEvent = { type: 'task', runId: run.id, pipeline: run.pipeline, logicalDate: run.logicalDate, taskId, attempt, state, at: clock.now() };
    if (reason !== undefined) ev.reason = reason;
    if (durationMs !== undefined) ev.durationMs = durationMs;
    p.emit(ev);
  };
  const finishTask = (taskId: string, state: TaskState, reason: string | null): void => {
    const ti = setTask(taskId, { state, reason, endedAt: clock.now(), nextTryAt: null, pid: null });
    emitTask(taskId, state, ti.tryNumber, reason ?? undefined);
  };

  const running = new Map<string, Promise<void>>();
  const startTask = (task: TaskSpec): void => {
    const promise = runTask(p, { pipeline, run, task, states, setTask, emitTask, signal: runAc.signal, logger, begun: begun?.started.has(task.id) === true }).finally(() =>
      running.delete(task.id),
    );
    running.set(task.id, promise);
  };

  try {
    for (;;) {
      let progressed = false;
      for (const task of tasks) {
        const ti = states.get(task.id)!;
        if (running.has(task.id) || isTaskDone(ti.state)) continue;
        if (runAc.signal.aborted) {
          // On shutdown, tasks not started stay as they are for the next start to run; abandoned, for the new owner.
          if (isShutdown(runAc.signal.reason) || isAbandoned(runAc.signal.reason)) continue;
          const request = operatorRequest(runAc.signal.reason);
          finishTask(task.id, request ? taskEndState(request.endState) : 'skipped', describeAbort(runAc.signal.reason));
          progressed = true;
          continue;
        }
        // A task left retrying/running by a previous process (or begun in its claim's transaction) resumes without
        // re-checking its rule; a `queued` one (cleared by an operator) waits for its trigger rule like a new one.
        const resume = ti.state === 'retrying' || ti.state === 'running';
        const decision =
          selected || resume
            ? 'run'
            : evaluateTriggerRule(
                task.triggerRule,
                task.upstream.map((u) => states.get(u)?.state ?? 'none'),
              );
        if (decision === 'wait') continue;
        progressed = true;
        if (decision === 'run') startTask(task);
        else if (decision === 'skip') finishTask(task.id, 'skipped', `trigger rule ${task.triggerRule} not met`);
        else finishTask(task.id, 'upstream_failed', `an upstream task failed (trigger rule ${task.triggerRule})`);
      }
      if (progressed) continue;
      if (running.size === 0) break;
      await Promise.race(running.values());
    }
  } finally {
    timerAc.abort();
    signal.removeEventListener('abort', onOuterAbort);
  }

  const abortReason: unknown = runAc.signal.aborted ? runAc.signal.reason : null;
  if (isAbandoned(abortReason)) {
    logger.warn({ reason: (abortReason as Error).message }, 'run abandoned: another process owns it now');
    return store.getRun(run.id)!;
  }
  if (isShutdown(abortReason) && tasks.some((t) => !isTaskDone(states.get(t.id)!.state))) {
    // Interrupted by shutdown: queued again, resumed by the next start (unfinished tasks retried per policy);
    // handed over: resumed by the leader that schedules now
    const handover = (abortReason as AbortReason).kind === 'handover';
    const reason = handover ? (abortReason as AbortReason).message : 'interrupted by shutdown; resumes on the next start';
    store.updateRun(run.id, { state: 'queued', ownerPid: null, reason });
    logger.warn(handover ? 'run handed over: queued again for the leader' : 'run interrupted by shutdown; it resumes on the next start');
    return store.getRun(run.id)!;
  }

  const finalStates = tasks.map((t) => states.get(t.id)!.state);
  let state: RunState;
  let reason: string | null = null;
  const request = operatorRequest(abortReason);
  if (request) {
    state = request.endState;
    reason = (abortReason as AbortReason).message;
  } else if (abortReason instanceof AbortReason && abortReason.kind === 'run_timeout') {
    state = 'timed_out';
    reason = abortReason.message;
  } else if (finalStates.some(isTaskFailed)) {
    state = 'failed';
    const failed = tasks.filter((t) => isTaskFailed(states.get(t.id)!.state)).map((t) => t.id);
    reason = `failed tasks: ${failed.join(', ')}`;
  } else {
    state = 'success';
  }
  const endedAt = clock.now();
  store.updateRun(run.id, { state, reason, endedAt, requestedState: null, requestedBy: null });
  const ev: RunEvent = {
    type: 'run',
    runId: run.id,
    pipeline: run.pipeline,
    logicalDate: run.logicalDate,
    trigger: run.kind,
    state,
    at: endedAt,
    firedAt: run.firedAt,
    durationMs: endedAt - runStartedAt,
  };
  if (reason !== null) ev.reason = reason;
  if (request) ev.audit = request.audit;
  p.emit(ev);
  logger.info({ state, durationMs: endedAt - runStartedAt, ...(reason ? { reason } : {}) }, `run ${state}`);
  return store.getRun(run.id)!;
}

/** Shutdown, or a hand-over by a replica that no longer leads (src/engine/engine.ts handOver): the run is queued again for whoever schedules next. */
function isShutdown(reason: unknown): boolean {
  return reason instanceof AbortReason && (reason.kind === 'shutdown' || reason.kind === 'handover');
}

function isAbandoned(reason: unknown): boolean {
  return reason instanceof AbortReason && reason.kind === 'abandoned';
}

function describeAbort(reason: unknown): string {
  if (reason instanceof AbortReason) {
    if (reason.kind === 'run_timeout') return 'not started: the run timed out';
    if (reason.kind === 'shutdown') return 'not started: the supervisor is shutting down';
    if (reason.kind === 'cancelled') return reason.message;
    return `not started: ${reason.message}`;
  }
  return 'not started: the run was aborted';
}

interface TaskRunCtx {
  pipeline: PipelineSpec;
  run: RunRecord;
  task: TaskSpec;
  states: Map<string, TaskInstanceRecord>;
  setTask: (taskId: string, patch: Partial<TaskInstanceRecord>) => TaskInstanceRecord;
  emitTask: (taskId: string, state: TaskState, attempt: number, reason?: string, durationMs?: number) => void;
  signal: AbortSignal;
  logger: Logger;
  /** Its first try is recorded running already (planRun's rows, written with the claim): it starts without writing that again. */
  begun: boolean;
}

/** One task through all its tries. Resolves when the task reached a terminal state (or the run was aborted by shutdown). */
async function runTask(p: RunnerParams, c: TaskRunCtx): Promise<void> {
  const { store, clock } = p;
  const { run, task, setTask, emitTask } = c;
  const operator = p.operators[task.operator];
  const logger = c.logger.child({ task: task.id });
  let ti = c.states.get(task.id)!;
  // A new task gets the configured budget; a cleared one keeps the budget its clear gave it
  // (its earlier tries plus a full set of retries).
  if (ti.tryNumber === 0 && ti.maxTries !== task.retry.retries + 1) ti = setTask(task.id, { maxTries: task.retry.retries + 1 });
  const executor = p.executor ?? localExecutor;
  // left running by crash recovery: its try (on a worker) is adopted, not started again
  let adopting = !c.begun && ti.state === 'running' && ti.tryNumber > 0 && executor.adopt !== undefined;
  // begun in the claim's transaction (planRun's rows): the try's rows are written, it starts now
  let begun = c.begun && ti.state === 'running' && ti.tryNumber > 0;
  // The try about to run is always allowed, and no more than the budget after it. A begun or an
  // adopted try is already counted in tryNumber: counting it once more gave `retries: 0` a
  // second try (found by the dashboards test: a failing pipeline's runs never ended failed).
  const maxTries = Math.max(ti.maxTries, adopting || begun ? ti.tryNumber : ti.tryNumber + 1);

  for (;;) {
    // Wait for a scheduled retry.
    if (ti.state === 'retrying' && ti.nextTryAt !== null) {
      const wait = ti.nextTryAt - clock.now();
      if (wait > 0) {
        try {
          await clock.sleep(wait, c.signal);
        } catch {
          /* aborted: handled below */
        }
      }
    }
    if (c.signal.aborted) {
      // a begun try that never ran: its attempt ends here
      if (begun) store.updateAttempt(run.id, task.id, ti.tryNumber, { state: 'failed', endedAt: clock.now(), error: describeAbort(c.signal.reason) });
      return abortTask(p, c, ti, null);
    }

    const adopted = adopting;
    adopting = false;
    const wasBegun = begun;
    begun = false;
    const tryNumber = adopted || wasBegun ? ti.tryNumber : ti.tryNumber + 1;
    const startedAt = adopted
      ? (store.listAttempts(run.id, task.id).find((a) => a.tryNumber === tryNumber)?.startedAt ?? clock.now())
      : wasBegun
        ? (ti.startedAt ?? clock.now())
        : clock.now();
    if (!adopted && !wasBegun) {
      // the task's state and its attempt row in one transaction
      store.atomically(() => {
        ti = setTask(task.id, { state: 'running', tryNumber, startedAt: ti.startedAt ?? startedAt, endedAt: null, nextTryAt: null, reason: null });
        store.startAttempt({ runId: run.id, taskId: task.id, tryNumber, startedAt });
      });
    }
    emitTask(task.id, 'running', tryNumber);

    const logBuf = createLogBuffer(p.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES);
    let lastFlush = startedAt;
    const flush = (): void => store.saveLog({ runId: run.id, taskId: task.id, tryNumber, content: logBuf.content(), truncatedBytes: logBuf.truncatedBytes() });
    const attemptAc = new AbortController();
    const onRunAbort = (): void => attemptAc.abort(c.signal.reason);
    c.signal.addEventListener('abort', onRunAbort, { once: true });
    const timeoutAc = new AbortController();
    if (task.executionTimeoutMs !== null) {
      const ms = task.executionTimeoutMs;
      clock.sleep(ms, timeoutAc.signal).then(
        () => attemptAc.abort(new AbortReason('execution_timeout', `the task exceeded its execution timeout of ${ms} ms`)),
        () => undefined,
      );
    }

    const upstream: UpstreamResult[] = [...c.states.values()]
      .filter((s) => s.taskId !== task.id && isTaskDone(s.state))
      .map((s) => ({ taskId: s.taskId, state: s.state, result: s.result, reason: s.reason }));
    const ctx: TaskContext = {
      pipeline: run.pipeline,
      taskId: task.id,
      runId: run.id,
      logicalDate: run.logicalDate,
      tryNumber,
      maxTries,
      params: task.params,
      conf: run.params,
      upstream,
      signal: attemptAc.signal,
      log: (line) => {
        logBuf.append(line);
        const now = clock.now();
        if (now - lastFlush >= 1000) {
          lastFlush = now;
          flush();
        }
      },
      // the task's and the attempt's pid in one transaction (on PostgreSQL one request and one commit, not two)
      setPid: (pid) =>
        store.atomically(() => {
          setTask(task.id, { pid });
          store.updateAttempt(run.id, task.id, tryNumber, { pid });
        }),
      logger,
      configDir: p.configDir,
      statusDir: p.statusDir ?? null,
      now: () => clock.now(),
    };

    let outcome: TaskOutcome | null = null;
    let error: unknown = null;
    try {
      if (!operator) {
        throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `no operator "${task.operator}" is registered (registered: ${Object.keys(p.operators).join(', ') || 'none'})`, {
          where: `pipelines.${run.pipeline}.tasks.${task.id}.operator`,
          retryable: false,
        });
      }
      const work = adopted ? adoptTry(executor, task.operator, ctx) : executor.execute(task.operator, operator, ctx);
      outcome = await raceAbort(work, attemptAc.signal, clock, p.abortGraceMs ?? 30_000);
    } catch (err) {
      error = err;
    } finally {
      timeoutAc.abort();
      c.signal.removeEventListener('abort', onRunAbort);
    }

    const endedAt = clock.now();
    const durationMs = endedAt - startedAt;
    const abortReason: unknown = attemptAc.signal.aborted ? attemptAc.signal.reason : null;
    // another process owns the run now: the try's outcome is theirs to record
    if (isAbandoned(abortReason)) return;
    // handed over while its try runs on a task worker: the task stays running, the leader that
    // resumes the run adopts the try (a try run here was stopped: recorded below, retried there)
    if (abortReason instanceof AbortReason && abortReason.kind === 'handover' && executor.canAdopt?.(run.id, task.id, tryNumber) === true) return;
    if (error === null && outcome !== null && !(abortReason instanceof AbortReason)) {
      const state: TaskState = outcome.skipped !== undefined ? 'skipped' : 'success';
      logBuf.append(`[supervisor] try ${tryNumber}: ${state}${outcome.skipped ? ` (${outcome.skipped})` : ''}`);
      const result = outcome;
      // the log, the attempt and the task's state in one transaction
      store.atomically(() => {
        flush();
        store.updateAttempt(run.id, task.id, tryNumber, { state, endedAt, exitCode: result.exitCode ?? null });
        ti = setTask(task.id, { state, endedAt, result: result.result ?? null, reason: result.skipped ?? null, pid: null });
      });
      emitTask(task.id, state, tryNumber, outcome.skipped, durationMs);
      logger.info({ tryNumber, durationMs }, `task ${state}`);
      return;
    }

    // Failure, timeout or abort.
    const timedOut = abortReason instanceof AbortReason && abortReason.kind === 'execution_timeout';
    const message = abortReason instanceof AbortReason ? abortReason.message : describeError(error, 'SUP_ERR_TASK_FAILED').message;
    const exitCode = typeof (error as { exitCode?: unknown })?.exitCode === 'number' ? (error as { exitCode: number }).exitCode : null;
    logBuf.append(`[supervisor] try ${tryNumber} ${timedOut ? 'timed out' : 'failed'}: ${message}`);
    const attemptState: TaskState = timedOut ? 'timed_out' : operatorRequest(abortReason) ? 'cancelled' : 'failed';
    store.atomically(() => {
      flush();
      store.updateAttempt(run.id, task.id, tryNumber, { state: attemptState, endedAt, error: message, exitCode });
    });

    if (abortReason instanceof AbortReason && abortReason.kind !== 'execution_timeout') {
      ti = c.states.get(task.id)!;
      return abortTask(p, c, ti, message);
    }
    const retryable = timedOut || !(error instanceof SupervisorError) || error.retryable;
    if (retryable && tryNumber < maxTries) {
      const delay = retryDelay(task.retry, tryNumber + 1, p.random);
      ti = setTask(task.id, { state: 'retrying', nextTryAt: endedAt + delay, reason: message, pid: null });
      emitTask(task.id, 'retrying', tryNumber, message, durationMs);
      logger.warn({ tryNumber, maxTries, delayMs: delay, error: message }, 'task failed; retrying');
      continue;
    }
    const failedResult = (error as { result?: unknown } | null)?.result;
    ti = setTask(task.id, { state: attemptState, endedAt, reason: message, pid: null, ...(failedResult !== undefined ? { result: failedResult } : {}) });
    emitTask(task.id, attemptState, tryNumber, message, durationMs);
    logger.warn({ tryNumber, maxTries, error: message, retryable }, `task ${attemptState}`);
    return;
  }
}

/**
 * The run was aborted while this task was running or waiting: on run timeout the task ends
 * `timed_out`; on shutdown it is left `retrying` (or `failed` without tries left) for the next
 * start to resume.
 */
function abortTask(p: RunnerParams, c: TaskRunCtx, ti: TaskInstanceRecord, message: string | null): void {
  const reason: unknown = c.signal.reason;
  if (isAbandoned(reason)) return; // the new owner goes on with it
  const now = p.clock.now();
  const request = operatorRequest(reason);
  if (request) {
    const state = taskEndState(request.endState);
    const text = (reason as AbortReason).message;
    c.setTask(c.task.id, { state, endedAt: now, reason: text, pid: null, nextTryAt: null });
    c.emitTask(c.task.id, state, ti.tryNumber, text);
    return;
  }
  if (reason instanceof AbortReason && reason.kind === 'run_timeout') {
    const wasStarted = ti.tryNumber > 0;
    const state: TaskState = wasStarted ? 'timed_out' : 'skipped';
    const text = wasStarted ? reason.message : 'not started: the run timed out';
    c.setTask(c.task.id, { state, endedAt: now, reason: text, pid: null, nextTryAt: null });
    c.emitTask(c.task.id, state, ti.tryNumber, text);
    return;
  }
  const text = message ?? describeAbort(reason);
  if (ti.tryNumber < ti.maxTries) {
    c.setTask(c.task.id, { state: 'retrying', nextTryAt: now, reason: `interrupted: ${text}`, pid: null });
  } else {
    c.setTask(c.task.id, { state: 'failed', endedAt: now, reason: `interrupted: ${text}`, pid: null });
    c.emitTask(c.task.id, 'failed', ti.tryNumber, text);
  }
}

/**
 * The adopted try's outcome; when the executor has no such try any more (its row is gone), the
 * try failed as orphaned (retryable: retried per the task's policy).
 */
function adoptTry(executor: TaskExecutor, operatorName: string, ctx: TaskContext): Promise<TaskOutcome> {
  const waiting = executor.adopt?.(operatorName, ctx) ?? null;
  if (waiting) return waiting;
  return Promise.reject(
    new SupervisorError('SUP_ERR_ORPHANED', `try ${ctx.tryNumber} of ${ctx.taskId} was left running by a process that died, and no worker has it`, { retryable: true }),
  );
}

/** Waits for the operator; once `signal` aborts, waits at most `graceMs` more. */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal, clock: Clock, graceMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const graceAc = new AbortController();
    const done = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      graceAc.abort();
      signal.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = (): void => {
      clock.sleep(graceMs, graceAc.signal).then(
        () => done(() => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'))),
        () => undefined,
      );
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => done(() => resolve(v)),
      // the task's own error; an operator that throws a non-Error gets it wrapped (same message)
      (e: unknown) => done(() => reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}
