import net from 'node:net';
import { Subject } from 'rxjs';
import { evaluateGate, gateTriggers } from '../../../streams/gate';
import type { Signal, Trigger } from '../../../src/protocol';

const probes = (over: Partial<Parameters<typeof evaluateGate>[1]> = {}) => ({ kafkaHealth: async () => null, lag: async () => 0, ...over });

describe('gate', () => {
  it('is open when Kafka is healthy and the lag is within the threshold', async () => {
    expect(await evaluateGate({ kafkaHealthy: true, maxLag: { group: 'g', topic: 't', maxLag: 5 } }, probes({ lag: async () => 5 }))).toBeNull();
  });
  it('closes on lag above the threshold, naming group, topic and values', async () => {
    expect(await evaluateGate({ kafkaHealthy: false, maxLag: { group: 'g', topic: 't', maxLag: 5 } }, probes({ lag: async () => 6 }))).toBe(
      'gate: consumer group g lags 6 messages on t (above 5)',
    );
  });
  it('closes when Kafka is unhealthy, from the probe or from a crit kafka_cluster signal', async () => {
    expect(await evaluateGate({ kafkaHealthy: true }, probes({ kafkaHealth: async () => 'no active controller' }))).toBe('gate: Kafka is unhealthy (no active controller)');
    const crit = { check: 'kafka', kind: 'kafka_cluster', status: 'crit', summary: '0/1 brokers' } as Signal;
    expect(await evaluateGate({ kafkaHealthy: true }, probes({ latestSignals: () => [crit] }))).toBe('gate: Kafka is unhealthy (kafka: crit, 0/1 brokers)');
  });
  it('as an operator: a failing evaluation skips the trigger instead of killing the stream; order is kept', async () => {
    const input = new Subject<Trigger>();
    const out: Trigger[] = [];
    let n = 0;
    input
      .pipe(
        gateTriggers(() => async () => {
          n += 1;
          if (n === 1) throw new Error('ECONNREFUSED');
          return n === 2 ? 'gate: closed' : null;
        }),
      )
      .subscribe((t) => out.push(t));
    const t = (d: number, kind: Trigger['kind'] = 'cron'): Trigger => ({ pipeline: 'p', logicalDate: d, kind, params: {}, firedAt: d });
    input.next(t(1));
    input.next(t(2));
    input.next(t(3));
    input.next(t(4, 'manual'));
    await new Promise((r) => setTimeout(r, 10));
    expect(out.map((x) => [x.logicalDate, x.skipReason ?? null])).toEqual([
      [1, 'gate: Kafka is unhealthy (ECONNREFUSED)'],
      [2, 'gate: closed'],
      [3, null],
      [4, null],
    ]);
  });

  it('a gate that never answers delays only its own pipeline, and times out as a recorded skip', async () => {
    const input = new Subject<Trigger>();
    const out: Array<{ at: number; pipeline: string; skipReason: string | null }> = [];
    const t0 = Date.now();
    input
      .pipe(gateTriggers((trigger) => (trigger.pipeline === 'stuck' ? () => new Promise<string | null>(() => undefined) : async () => null), { timeoutMs: 200 }))
      .subscribe((t) => out.push({ at: Date.now() - t0, pipeline: t.pipeline, skipReason: t.skipReason ?? null }));
    const t = (pipeline: string, d: number): Trigger => ({ pipeline, logicalDate: d, kind: 'cron', params: {}, firedAt: d });
    input.next(t('stuck', 1));
    input.next(t('other', 1));
    input.next(t('stuck', 2));
    input.next(t('other', 2));
    await new Promise((r) => setTimeout(r, 20));
    // the other pipeline's triggers went through while the stuck gate was still pending
    expect(out).toEqual([
      { at: expect.any(Number), pipeline: 'other', skipReason: null },
      { at: expect.any(Number), pipeline: 'other', skipReason: null },
    ]);
    await new Promise((r) => setTimeout(r, 600));
    const stuck = out.filter((o) => o.pipeline === 'stuck');
    // each stuck evaluation is bounded and ends as a skip naming the bound; order is kept
    expect(stuck.map((o) => o.skipReason)).toEqual([
      "gate: Kafka is unhealthy (the gate's probe did not answer within 200 ms)",
      "gate: Kafka is unhealthy (the gate's probe did not answer within 200 ms)",
    ]);
  });

  it('the engine records a timed-out gate as a skipped run with the reason; other pipelines run', async () => {
    const { createEngine } = await import('../../../src/engine/engine');
    const { configSchema } = await import('../../../src/config/schema');
    const { openDatabase } = await import('../../../src/store/database');
    const { silentLogger } = await import('../../../src/shared/logger');
    // a "broker" that accepts connections and never answers: the gate's Kafka probe hangs
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const broker = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const db = openDatabase({ file: ':memory:' });
    const config = configSchema.parse({
      pipelines: {
        gated: { gate: { kafka_healthy: true }, tasks: [{ id: 'a', operator: 'command' }] },
        free: { tasks: [{ id: 'a', operator: 'command' }] },
      },
    });
    const triggers = new Subject<Trigger>();
    const engine = createEngine({
      config: { file: '/tmp/supervisor.yaml', config, variables: {} },
      db,
      logger: silentLogger,
      operators: { command: async () => ({}) },
      triggers$: [triggers],
      kafka: { brokers: [broker], clientId: 'gate-test' },
      gateTimeoutMs: 300,
      pollIntervalMs: 60_000,
    });
    await engine.start();
    try {
      const now = Date.now();
      triggers.next({ pipeline: 'gated', logicalDate: now, kind: 'cron', params: {}, firedAt: now });
      triggers.next({ pipeline: 'free', logicalDate: now, kind: 'cron', params: {}, firedAt: now });
      const end = Date.now() + 10_000;
      while (engine.store.listRuns({ pipeline: 'gated' }).length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      const [run] = engine.store.listRuns({ pipeline: 'gated' });
      expect(run?.state).toBe('skipped');
      expect(run?.reason).toBe("gate: Kafka is unhealthy (the gate's probe did not answer within 300 ms)");
      expect(engine.store.listRuns({ pipeline: 'free' }).map((r) => r.state)).toEqual(['success']);
    } finally {
      await engine.close();
      db.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
