import { createLifecycle, type Component } from '../../../src/lifecycle';
import { silentLogger } from '../../../src/shared/logger';

function component(name: string, log: string[], startImpl?: () => Promise<void>): Component {
  return {
    name,
    start: async () => {
      log.push(`start ${name}`);
      await startImpl?.();
    },
    stop: async () => void log.push(`stop ${name}`),
  };
}

describe('lifecycle', () => {
  it('a failing start stops what was started, in reverse', async () => {
    const log: string[] = [];
    const lc = createLifecycle(
      [component('checks', log), component('alerts', log), component('http', log, async () => Promise.reject(new Error('EADDRINUSE'))), component('engine', log)],
      silentLogger,
    );
    await expect(lc.start()).rejects.toThrow('EADDRINUSE');
    expect(log).toEqual(['start checks', 'start alerts', 'start http', 'stop alerts', 'stop checks']);
  });

  it('a stop during start (SIGTERM while starting) lets the current start finish, starts nothing more, stops everything started', async () => {
    const log: string[] = [];
    let release: () => void = () => undefined;
    const lc = createLifecycle([component('a', log), component('b', log, () => new Promise<void>((r) => (release = r))), component('c', log)], silentLogger);
    const starting = lc.start();
    await new Promise((r) => setImmediate(r));
    const stopping = lc.stop();
    release();
    await expect(starting).rejects.toThrow('stopped while starting');
    await stopping;
    expect(log).toEqual(['start a', 'start b', 'stop b', 'stop a']);
    expect(lc.isStarted('a')).toBe(false);
  });
});
