/**
 * Issue 13 item 15: one broker reachability loop for the whole daemon, however many probes
 * wait on the kicks: one TCP connect per broker per interval, one log line per transition.
 */
import net from 'node:net';
import { createSignals$ } from '../../../streams/check-scheduler';
import { createReachability$, type ReachabilityParams } from '../../../streams/reachability';
import { createBrokerKicks } from '../../../src/wiring/broker-kicks';
import { configSchema } from '../../../src/config/schema';
import type { CheckProbe, Signal } from '../../../src/protocol';
import { recordingLogger } from '../../helpers/recording-logger';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('broker kicks', () => {
  it('seven Kafka probes share one reachability loop: one subscription, connects of one loop, one log line per transition', async () => {
    let connects = 0;
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      connects += 1;
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const broker = `127.0.0.1:${port}`;
    const checks: Record<string, unknown> = {};
    for (let i = 1; i <= 7; i += 1) checks[`kafka${i}`] = { kind: 'kafka_cluster', interval: '1s', expected_brokers: 1 };
    const config = configSchema.parse({ connections: { kafka: { brokers: broker } }, checks });
    const logger = recordingLogger();
    let loops = 0;
    const kicks = createBrokerKicks({
      config,
      logger,
      reachability$: (params: ReachabilityParams) => {
        loops += 1;
        return createReachability$({ ...params, intervalMs: 100 });
      },
    });
    const probed: string[] = [];
    const probes: CheckProbe[] = Object.keys(checks).map((name) => ({
      name,
      kind: 'kafka_cluster',
      intervalMs: 60_000,
      timeoutMs: 1000,
      probe: async (): Promise<Signal[]> => {
        probed.push(name);
        return [{ check: name, kind: 'kafka_cluster', target: broker, labels: {}, status: 'ok', observedAt: 0, durationMs: 0, summary: 'ok' }];
      },
    }));
    const sub = createSignals$({ probes, kicks$: kicks.kicks$ }).subscribe();
    kicks.start();
    try {
      await sleep(1_000);
      expect(loops).toBe(1);
      // one loop of one target every 100 ms: about 10 connects in 1 s (7 loops made about 70)
      expect(connects).toBeGreaterThan(0);
      expect(connects).toBeLessThanOrEqual(15);
      // the broker goes away: one line, and every Kafka probe is run once more
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => server.close(r));
      probed.length = 0;
      await sleep(1_000);
      const transitions = logger.lines.filter((l) => l.msg.includes('refuses connections'));
      expect(transitions).toHaveLength(1);
      expect([...probed].sort()).toEqual(Object.keys(checks).sort());
    } finally {
      sub.unsubscribe();
      kicks.stop();
      server.close();
    }
  });
});
