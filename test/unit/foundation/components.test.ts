/**
 * The lifecycle contract (src/protocol/lifecycle.ts) of every component the daemon starts:
 * starting twice starts once, stop is idempotent and never rejects even when a step throws,
 * and a failed start undoes what it started.
 */
import net from 'node:net';
import Fastify from 'fastify';
import { Observable, Subject } from 'rxjs';
import type Database from 'better-sqlite3';
import { alertsConfigSchema, resolveAlertRules } from '../../../alerts/config';
import { createAlertEngine } from '../../../alerts/alert-engine';
import { createOutboxWorker } from '../../../alerts/outbox-worker';
import { configSchema } from '../../../src/config/schema';
import type { AlertSink, AlertStateStore, OutboxStore, Signal, SilenceStore } from '../../../src/protocol';
import { createHttpListener } from '../../../src/server/listener';
import { silentLogger } from '../../../src/shared/logger';
import { resolveKafkaConnection } from '../../../src/shared/kafka-connection';
import { createSqliteAlertStateStore } from '../../../src/store/alert-state';
import { createSqliteOutboxStore } from '../../../src/store/outbox';
import { createSqliteSilenceStore } from '../../../src/store/silences';
import { kafkaConnectionSettings } from '../../../src/wiring/check-options';
import { createSignalSource } from '../../../src/wiring/signal-source';
import { createStateView } from '../../../src/wiring/state-view';
import { openAlertDb, tempDbPath } from '../../helpers/alert-db';
import { recordingLogger } from '../../helpers/recording-logger';
import { FakeClock } from '../alerts/fakes';

/** An Observable that counts its subscriptions (all, and those still live). */
function counted<T>(source$: Observable<T>): { source$: Observable<T>; live: () => number; total: () => number } {
  let live = 0;
  let total = 0;
  const wrapped = new Observable<T>((subscriber) => {
    live += 1;
    total += 1;
    const s = source$.subscribe(subscriber);
    return () => {
      live -= 1;
      s.unsubscribe();
    };
  });
  return { source$: wrapped, live: () => live, total: () => total };
}

/** Every method of the store throws. */
function brokenStore<T extends object>(): T {
  return new Proxy({} as T, {
    get: () => () => {
      throw new Error('store is broken');
    },
  });
}

let tmp: ReturnType<typeof tempDbPath>;
let db: Database.Database;
beforeEach(() => {
  tmp = tempDbPath('components-');
  db = openAlertDb(tmp.file);
});
afterEach(() => {
  db.close();
  tmp.cleanup();
});

describe('outbox worker (Component "outbox")', () => {
  it('starts once, stops idempotently, closes its sinks once', async () => {
    let closes = 0;
    const sink: AlertSink = { name: 'hook', type: 'webhook', deliver: async () => undefined, close: async () => void (closes += 1) };
    const w = createOutboxWorker({ outbox: createSqliteOutboxStore(db), sinks: [sink], clock: new FakeClock(), logger: silentLogger, closeSinksOnStop: true });
    expect(w.name).toBe('outbox');
    await w.start();
    await w.start();
    const first = w.stop();
    expect(w.stop()).toBe(first);
    await first;
    expect(closes).toBe(1);
  });

  it('stop never rejects when the store and a sink throw', async () => {
    const sink: AlertSink = {
      name: 'hook',
      type: 'webhook',
      deliver: async () => undefined,
      close: async () => {
        throw new Error('sink close failed');
      },
    };
    const w = createOutboxWorker({ outbox: brokenStore<OutboxStore>(), sinks: [sink], clock: new FakeClock(), logger: silentLogger, closeSinksOnStop: true });
    await w.start();
    await expect(w.stop()).resolves.toBeUndefined();
  });
});

describe('alert engine (Component "alerts")', () => {
  const config = alertsConfigSchema.parse({ sinks: { hook: { type: 'webhook', url: 'http://127.0.0.1:1/x' } }, route: { sinks: ['hook'] }, default_rules: false });
  const { rules, inhibit } = resolveAlertRules(config);
  const make = (signals$: Observable<Signal>, alertStore: AlertStateStore, silenceStore: SilenceStore) =>
    createAlertEngine({
      rules,
      inhibit,
      route: config.route,
      signals$,
      alertStore,
      silenceStore,
      outbox: createSqliteOutboxStore(db),
      clock: new FakeClock(),
      logger: silentLogger,
    });

  it('starting twice subscribes once; stop is idempotent', async () => {
    const input = counted(new Subject<Signal>());
    const e = make(input.source$, createSqliteAlertStateStore(db), createSqliteSilenceStore(db));
    expect(e.name).toBe('alerts');
    await e.start();
    await e.start();
    expect(input.total()).toBe(1);
    const first = e.stop();
    expect(e.stop()).toBe(first);
    await first;
    expect(input.live()).toBe(0);
  });

  it('a failed start undoes itself (the silence watch is released) and rejects', async () => {
    let unwatched = 0;
    const silences = createSqliteSilenceStore(db);
    const watching: SilenceStore = new Proxy(silences, {
      get: (target, prop, receiver) => (prop === 'onChange' ? () => () => void (unwatched += 1) : (Reflect.get(target, prop, receiver) as unknown)),
    });
    const input = counted(new Subject<Signal>());
    const e = make(input.source$, brokenStore<AlertStateStore>(), watching);
    await expect(e.start()).rejects.toThrow('store is broken');
    expect(unwatched).toBe(1);
    expect(input.live()).toBe(0);
    await expect(e.stop()).resolves.toBeUndefined();
  });
});

describe('HTTP listener (Component "http")', () => {
  it('listens once, stops idempotently', async () => {
    const app = Fastify();
    const http = createHttpListener({ app, host: '127.0.0.1', port: 0, where: 'test', logger: silentLogger });
    await http.start();
    const url = http.url();
    await http.start();
    expect(http.url()).toBe(url);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const first = http.stop();
    expect(http.stop()).toBe(first);
    await first;
  });

  it('a refused address rejects naming the cause and leaves nothing listening; stop still resolves', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const app = Fastify();
      const http = createHttpListener({ app, host: '127.0.0.1', port, where: '--port', logger: silentLogger });
      await expect(http.start()).rejects.toMatchObject({ code: 'SUP_ERR_CONFIG_INVALID', message: expect.stringContaining('in use') });
      expect(app.server.listening).toBe(false);
      await expect(http.stop()).resolves.toBeUndefined();
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('stop never rejects when close fails', async () => {
    const app = Fastify();
    const http = createHttpListener({ app, host: '127.0.0.1', port: 0, where: 'test', logger: silentLogger });
    await http.start();
    const close = app.close.bind(app);
    (app as unknown as { close: () => Promise<void> }).close = () => close().then(() => Promise.reject(new Error('close failed')));
    await expect(http.stop()).resolves.toBeUndefined();
  });
});

describe('state view (Component)', () => {
  it('subscribes once, keeps the latest value after stop, stops idempotently', async () => {
    const source = new Subject<number>();
    const input = counted(source.asObservable());
    const view = createStateView({ name: 'v', state$: input.source$, logger: silentLogger });
    expect(view.current()).toBeUndefined();
    await view.start();
    await view.start();
    expect(input.total()).toBe(1);
    source.next(1);
    source.next(2);
    expect(view.current()).toBe(2);
    await view.stop();
    await view.stop();
    expect(input.live()).toBe(0);
    source.next(3);
    expect(view.current()).toBe(2);
  });
});

describe('checks (Component "checks")', () => {
  const config = configSchema.parse({
    connections: { spark: { master_ui: 'http://127.0.0.1:1' } },
    checks: { spark: { kind: 'spark', interval: '1h', timeout: '2s', expected_workers: 0 } },
  });
  const kafkaConnection = resolveKafkaConnection(kafkaConnectionSettings(config.connections));

  it('starts the probes once, serves the latest signals from state$, stops idempotently', async () => {
    const logger = recordingLogger();
    const checks = createSignalSource({
      config,
      logger,
      clock: {
        now: () => Date.now(),
        sleep: (ms, signal) =>
          new Promise((resolve, reject) => {
            const t = setTimeout(resolve, ms);
            signal?.addEventListener(
              'abort',
              () => {
                clearTimeout(t);
                reject(new Error('aborted'));
              },
              { once: true },
            );
          }),
      },
      kafkaConnection,
    });
    expect(checks.name).toBe('checks');
    expect(checks.signals()).toEqual([]);
    await checks.start();
    await checks.start();
    expect(logger.lines.filter((l) => l.msg === 'checks scheduled')).toHaveLength(1);
    const end = Date.now() + 5_000;
    while (checks.signals().length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(checks.signals().map((s) => s.check)).toEqual(['spark']);
    const first = checks.stop();
    expect(checks.stop()).toBe(first);
    await first;
  });

  it('stop before start resolves (closes the probes) and a later start does nothing', async () => {
    const logger = recordingLogger();
    const checks = createSignalSource({ config, logger, clock: { now: () => Date.now(), sleep: () => new Promise(() => undefined) }, kafkaConnection });
    await expect(checks.stop()).resolves.toBeUndefined();
    await checks.start();
    expect(logger.lines.filter((l) => l.msg === 'checks scheduled')).toHaveLength(0);
  });
});
