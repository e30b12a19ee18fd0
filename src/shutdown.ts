/**
 * How `supervisor start` ends: SIGTERM always wins.
 *
 * - The first SIGTERM/SIGINT starts the daemon's ordered stop and arms a hard timer at once.
 *   Nothing clears that timer: when it expires the process exits (code 1), whatever a
 *   component is still doing.
 * - A second SIGTERM/SIGINT exits at once (code 1).
 * - Once the stop has finished, the process exits (0, or 1 if a stop step failed) after a short
 *   linger for the last log lines, instead of waiting for the event loop to drain: a library
 *   timer nobody can cancel (kafkajs schedules its connect retries with plain `setTimeout`)
 *   must not stretch a stop.
 * - The hard timer runs on the main thread, so a component that blocks the main thread (a busy
 *   loop in its stop) would keep it from firing. A backstop therefore runs on a worker thread,
 *   started at the first signal: it kills the process (SIGKILL) shortly after the hard timer
 *   should have fired. The worker is started only when a stop begins, so a running daemon pays
 *   nothing for it. What no in-process timer can do is run a handler while the main thread is
 *   already blocked when the signal arrives; the supervisor's own code has no such loop (user
 *   regular expressions run on a linear-time engine), and the service manager's stop timeout
 *   (systemd's TimeoutStopSec) is the last resort for that.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from './protocol';

/** Hard bound of a stop, from the first signal. */
export const SHUTDOWN_HARD_MS = 9_000;
/** How much later the worker-thread backstop kills the process. */
export const SHUTDOWN_BACKSTOP_MS = 500;
/** Longest wait for the backstop thread to come up before the stop begins anyway. */
export const BACKSTOP_START_WAIT_MS = 1_000;
/** Wait after a finished stop before exiting, for log lines still being written. */
export const SHUTDOWN_LINGER_MS = 100;

export interface ShutdownTimers {
  /** Calls `fn` after `ms`; the timer must not keep the process alive (unref). */
  setTimer(fn: () => void, ms: number): void;
}

export interface ShutdownControllerParams {
  /** The daemon's ordered stop. */
  stop: () => Promise<void>;
  logger: Logger;
  /** Ends the process (process.exit in the daemon). */
  exit: (code: number) => void;
  timers?: ShutdownTimers;
  /** Arms the backstop that ends the process from outside the main thread after `ms`. */
  armBackstop?: (ms: number) => Promise<void>;
  hardMs?: number;
  backstopMs?: number;
  lingerMs?: number;
}

export interface ShutdownController {
  /** Call on every SIGTERM/SIGINT. */
  onSignal(signal: string): void;
  /** Resolves with the exit code once the stop has finished (not on the hard timer). */
  readonly stopped: Promise<number>;
}

const unrefTimers: ShutdownTimers = {
  setTimer(fn, ms) {
    setTimeout(fn, ms).unref();
  },
};

export function createShutdownController(params: ShutdownControllerParams): ShutdownController {
  const timers = params.timers ?? unrefTimers;
  const hardMs = params.hardMs ?? SHUTDOWN_HARD_MS;
  const backstopMs = params.backstopMs ?? SHUTDOWN_BACKSTOP_MS;
  const lingerMs = params.lingerMs ?? SHUTDOWN_LINGER_MS;
  let first: string | null = null;
  let exited = false;
  const exit = (code: number): void => {
    if (exited) return;
    exited = true;
    params.exit(code);
  };
  let resolveStopped: (code: number) => void = () => undefined;
  const stopped = new Promise<number>((resolve) => (resolveStopped = resolve));

  return {
    stopped,
    onSignal(signal) {
      if (first !== null) {
        params.logger.warn({ signal, first }, `second ${signal}: exiting now, without finishing the stop`);
        exit(1);
        return;
      }
      first = signal;
      params.logger.info({ signal, hardMs }, 'shutting down');
      // armed before anything else runs, and never cleared
      timers.setTimer(() => {
        params.logger.error({ hardMs }, `the stop did not finish within ${hardMs} ms of ${signal}; exiting`);
        exit(1);
      }, hardMs);
      // the stop waits for the backstop thread to run, but not for long: a thread that does not
      // come up must not delay the stop itself
      const backstop = params.armBackstop
        ? Promise.race([
            params.armBackstop(hardMs + backstopMs).catch((err: unknown) => {
              params.logger.warn({ err }, 'could not start the shutdown backstop thread; the hard timer alone bounds the stop');
            }),
            new Promise<void>((resolve) => timers.setTimer(resolve, BACKSTOP_START_WAIT_MS)),
          ])
        : Promise.resolve();
      // the backstop is running (or failed) before the first component's stop may block the thread
      void backstop
        .then(() => params.stop())
        .then(
          () => 0,
          (err: unknown) => {
            params.logger.error({ err }, 'shutdown failed');
            return 1;
          },
        )
        .then((code) => {
          params.logger.info({ code }, 'stopped');
          resolveStopped(code);
          timers.setTimer(() => exit(code), lingerMs);
        });
    },
  };
}

/**
 * Starts a worker thread that sends SIGKILL to this process after `ms`, unless the process has
 * exited by then. Resolves once the thread runs (its timer is armed), so the caller may block
 * the main thread afterwards. The thread does not keep the process alive.
 */
export function armKillBackstop(ms: number): Promise<void> {
  const source = `
    const { workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    setTimeout(() => {
      try { fs.writeSync(2, JSON.stringify({ level: 60, time: new Date().toISOString(), pid: workerData.pid, msg: 'the stop did not finish in time and the main thread is blocked; killing the process' }) + '\\n'); } catch {}
      process.kill(workerData.pid, 'SIGKILL');
    }, workerData.ms);
  `;
  return new Promise<void>((resolve, reject) => {
    const worker = new Worker(source, {
      eval: true,
      workerData: { pid: process.pid, ms },
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 },
      stdout: false,
      stderr: false,
    });
    worker.unref();
    worker.once('online', () => resolve());
    worker.once('error', reject);
  });
}
