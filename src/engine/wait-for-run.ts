/**
 * Waiting for a run: resolves once the run reached a final state, seen either through the
 * engine's run events (runs executed here) or through the store (runs executed by another
 * process), and rejects when the run does not exist or the wait is aborted.
 */
import type { Observable } from 'rxjs';
import { SupervisorError, TERMINAL_RUN_STATES, type RunEvent, type RunState } from '../protocol';
import type { RunStore } from '../store/runs';
import { summarizeRun, type RunSummary } from './run-summary';

const TERMINAL: ReadonlySet<RunState> = new Set(TERMINAL_RUN_STATES);
/** How often the store is read for runs executed by another process, ms. */
export const STORE_POLL_MS = 250;

export function waitForRun(store: RunStore, events$: Observable<RunEvent>, runId: string, signal?: AbortSignal): Promise<RunSummary> {
  return new Promise<RunSummary>((resolve, reject) => {
    const check = (): boolean => {
      const run = store.getRun(runId);
      if (!run) {
        cleanup();
        reject(new SupervisorError('SUP_ERR_NOT_FOUND', `run "${runId}" does not exist`));
        return true;
      }
      if (TERMINAL.has(run.state)) {
        cleanup();
        resolve(summarizeRun(store, run));
        return true;
      }
      return false;
    };
    const sub = events$.subscribe((e) => {
      if (e.type === 'run' && e.runId === runId && TERMINAL.has(e.state)) check();
    });
    const timer = setInterval(() => {
      try {
        check();
      } catch (err) {
        cleanup();
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    }, STORE_POLL_MS);
    timer.unref();
    const onAbort = (): void => {
      cleanup();
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    function cleanup(): void {
      sub.unsubscribe();
      clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    check();
  });
}
