/**
 * Integration harness for the alerting path: a local HTTP receiver that can be down, answer
 * 429 with Retry-After, or accept; and a "supervisor" made of the real engine, outbox worker,
 * sinks and SQLite stores on one file, which can be closed and reopened (a restart).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Subject } from 'rxjs';
import type Database from 'better-sqlite3';
import { alertsConfigSchema, resolveAlertRules, type AlertsConfigInput } from '../../../alerts/config';
import { createAlertEngine, resendIntervalsOf, type AlertEngine } from '../../../alerts/alert-engine';
import { createOutboxWorker, wakeOnEnqueue, type OutboxWorker } from '../../../alerts/outbox-worker';
import { closeSinks, createSinks } from '../../../alerts/sinks';
import type { AlertSink, OutboxStore, RunEvent, Signal, Status } from '../../../src/protocol';
import { systemClock } from '../../../src/shared/clock';
import { silentLogger } from '../../../src/shared/logger';
import { createSqliteAlertStateStore } from '../../../src/store/alert-state';
import { createSqliteOutboxStore } from '../../../src/store/outbox';
import { createSqliteSilenceStore } from '../../../src/store/silences';
import { openAlertDb } from '../../helpers/alert-db';

export type Mode = 'down' | 'ok' | 'reject' | { status: 429; retryAfter: string };

export interface Received {
  at: number;
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  json: Record<string, unknown>;
}

/** An HTTP receiver on 127.0.0.1:0. `script` answers the next requests, then `mode`. */
export class Receiver {
  readonly requests: Received[] = [];
  mode: Mode = 'ok';
  script: Mode[] = [];
  private server: Server;
  url = '';

  constructor(readonly path = '/hook') {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${this.path}`;
    return this;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const mode = this.script.shift() ?? this.mode;
      let status = 200;
      if (mode === 'down') status = 503;
      else if (mode === 'reject') status = 400;
      else if (mode !== 'ok') {
        status = 429;
        res.setHeader('retry-after', mode.retryAfter);
      }
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        // kept as text
      }
      this.requests.push({ at: Date.now(), status, headers: req.headers, body, json });
      res.statusCode = status;
      res.end(status === 200 ? 'ok' : status === 429 ? 'rate_limited' : status === 400 ? 'invalid_payload' : 'unavailable');
    });
  }

  accepted(): Received[] {
    return this.requests.filter((r) => r.status === 200);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface Supervisor {
  signals: Subject<Signal>;
  runs: Subject<RunEvent>;
  engine: AlertEngine;
  worker: OutboxWorker;
  outbox: OutboxStore;
  sinks: AlertSink[];
  db: Database.Database;
  close(): Promise<void>;
}

/** Starts the alerting path on `file` the way the composition root wires it. */
export function startSupervisor(file: string, config: AlertsConfigInput, worker: Partial<Parameters<typeof createOutboxWorker>[0]> = {}): Supervisor {
  const cfg = alertsConfigSchema.parse(config);
  const { rules, inhibit } = resolveAlertRules(cfg);
  const db = openAlertDb(file);
  const sinks = createSinks(cfg.sinks, silentLogger);
  const store = createSqliteOutboxStore(db);
  const w = createOutboxWorker({ outbox: store, sinks, clock: systemClock, logger: silentLogger, baseDelayMs: 100, maxDelayMs: 1000, ...worker });
  const outbox = wakeOnEnqueue(store, () => w.wake());
  const signals = new Subject<Signal>();
  const runs = new Subject<RunEvent>();
  const engine = createAlertEngine({
    rules,
    inhibit,
    route: cfg.route,
    signals$: signals,
    runEvents$: runs,
    alertStore: createSqliteAlertStateStore(db),
    silenceStore: createSqliteSilenceStore(db),
    outbox,
    clock: systemClock,
    logger: silentLogger,
    publicUrl: 'http://127.0.0.1:8090',
    resendIntervals: resendIntervalsOf(cfg.sinks),
    evaluationIntervalMs: 100,
  });
  void w.start();
  void engine.start();
  let closing: Promise<void> | null = null;
  return {
    signals,
    runs,
    engine,
    worker: w,
    outbox: store,
    sinks,
    db,
    close() {
      closing ??= (async () => {
        await engine.stop();
        await w.stop();
        await closeSinks(sinks);
        db.close();
      })();
      return closing;
    },
  };
}

export function signal(check: string, status: Status, extra: Partial<Signal> = {}): Signal {
  return {
    check,
    kind: 'delta_freshness',
    target: `s3://delta-lake/${check}`,
    labels: {},
    status,
    value: status === 'ok' ? 120 : 9000,
    unit: 'seconds',
    threshold: 7200,
    observedAt: Date.now(),
    durationMs: 3,
    summary: status === 'ok' ? `${check} is fresh` : `${check} last changed 2h30m ago`,
    ...extra,
  };
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
