import type { Logger } from './protocol';

/**
 * A part of the daemon with a start/stop contract (after Burrow): `start` connects and returns
 * promptly, undoing what it started if it fails half-way; `stop` cleans up and never throws.
 */
export interface Component {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts components in order and stops them in reverse. If one fails to start, the ones
 * already started are stopped before the error is rethrown. `stop` is idempotent (keeps its
 * promise) and runs every component's stop even if one throws.
 */
export function createLifecycle(components: readonly Component[], logger: Logger) {
  const started: Component[] = [];
  let stopping: Promise<void> | undefined;
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

  return {
    async start(): Promise<void> {
      for (const c of components) {
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
    },
    stop(): Promise<void> {
      stopping ??= stopAll();
      return stopping;
    },
    isStarted: (name: string): boolean => ready.has(name),
    names: (): string[] => components.map((c) => c.name),
  };
}
