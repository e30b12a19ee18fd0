import { SupervisorError, type Component, type Logger } from './protocol';

export type { Component } from './protocol';

/**
 * Starts components in order and stops them in reverse. If one fails to start, the ones
 * already started are stopped before the error is rethrown. `stop` is idempotent (keeps its
 * promise) and runs every component's stop even if one throws. A `stop` that arrives while
 * `start` is still running (SIGTERM during start-up) lets the component being started finish
 * its start, starts no further one, and stops every started one; `start` then rejects.
 */
export function createLifecycle(components: readonly Component[], logger: Logger) {
  const started: Component[] = [];
  let stopping: Promise<void> | undefined;
  let starting: Promise<void> | undefined;
  let stopRequested = false;
  const ready = new Set<string>();

  async function stopAll(): Promise<void> {
    for (const c of [...started].reverse()) {
      try {
        await c.stop();
        logger.debug({ component: c.name }, 'stopped');
      } catch (err) {
        logger.error({ component: c.name, err }, 'stop failed; continuing with the others');
      }
      ready.delete(c.name);
    }
    started.length = 0;
  }

  async function startAll(): Promise<void> {
    for (const c of components) {
      if (stopRequested) throw new SupervisorError('SUP_ERR_CONFLICT', `stopped while starting (before ${c.name})`);
      try {
        await c.start();
      } catch (err) {
        logger.error({ component: c.name, err }, 'start failed; stopping what was started');
        await stopAll();
        throw err;
      }
      started.push(c);
      ready.add(c.name);
      logger.debug({ component: c.name }, 'started');
    }
  }

  return {
    start(): Promise<void> {
      if (stopRequested) return Promise.reject(new SupervisorError('SUP_ERR_CONFLICT', 'the daemon is stopped'));
      starting ??= startAll();
      return starting;
    },
    stop(): Promise<void> {
      stopRequested = true;
      // a start in progress ends first (the component being started finishes its start), so
      // nothing is started after the stop ran
      stopping ??= (starting ?? Promise.resolve()).then(
        () => stopAll(),
        () => stopAll(),
      );
      return stopping;
    },
    isStarted: (name: string): boolean => ready.has(name),
    names: (): string[] => components.map((c) => c.name),
  };
}
