/**
 * The web UI's live updates: ONE subscription to each of the daemon's streams (signal state,
 * run events, alert state), fanned out to every connected browser over Server-Sent Events.
 *
 * - Every event gets the next sequence number as its SSE `id`; the last `ringSize` events are
 *   kept, so a browser that reconnects with `Last-Event-ID` gets exactly what it missed. One
 *   whose gap is older than the ring (or a first connection) gets a `snapshot` (every current
 *   signal and alert) and refetches the rest itself: it never reloads the page.
 * - Each client's unsent output is bounded (`maxClientBufferBytes`): a browser that stops
 *   reading is disconnected (it reconnects and resumes), never buffered without limit.
 * - One heartbeat timer for all clients (an SSE comment) keeps proxies from closing idle streams.
 * - Nothing here reads the database: the snapshot comes from the streams' current values.
 */
import type { ServerResponse } from 'node:http';
import { distinctUntilChanged, map, type Observable, type Subscription } from 'rxjs';
import type { AlertView } from '../../../alerts';
import type { Logger, RunEvent, Signal } from '../../protocol';
import { signalKey, type SignalState } from '../../../streams/signal-state';

export interface LiveHubParams {
  state$: Observable<SignalState>;
  runEvents$: Observable<RunEvent>;
  alerts$: Observable<readonly AlertView[]>;
  /** Current values, for a snapshot (the streams' views: `daemon.signals()`, `alerts.snapshot()`). */
  currentSignals: () => readonly Signal[];
  currentAlerts: () => readonly AlertView[];
  /** Called with every signal state (the lag history is fed from the same subscription). */
  onState?: (state: SignalState) => void;
  logger: Logger;
  ringSize?: number;
  maxClientBufferBytes?: number;
  heartbeatMs?: number;
  maxClients?: number;
}

export interface LiveEvent {
  id: number;
  type: 'signals' | 'run' | 'alerts';
  data: string;
}

export interface LiveHub {
  start(): void;
  /** Ends every client stream and unsubscribes (idempotent). */
  stop(): void;
  /** Streams to `res` (headers included); false when the hub is full or stopped (the caller answers 503). */
  attach(res: ServerResponse, lastEventId: number | null): boolean;
  clients(): number;
  /** Sequence number of the newest event. */
  seq(): number;
}

interface Client {
  res: ServerResponse;
}

export function createLiveHub(params: LiveHubParams): LiveHub {
  const log = params.logger.child({ component: 'ui-live' });
  const ringSize = params.ringSize ?? 1000;
  const maxBuffer = params.maxClientBufferBytes ?? 1_048_576;
  const maxClients = params.maxClients ?? 500;
  const ring: LiveEvent[] = [];
  const clients = new Set<Client>();
  let seq = 0;
  let subs: Subscription[] = [];
  let heartbeat: NodeJS.Timeout | undefined;
  let running = false;

  const frame = (e: LiveEvent): string => `id: ${e.id}\nevent: ${e.type}\ndata: ${e.data}\n\n`;

  const send = (client: Client, text: string): void => {
    const { res } = client;
    if (res.destroyed || res.writableEnded) return drop(client);
    // bounded per client: a reader this far behind is cut off; it reconnects with Last-Event-ID
    if (res.writableLength > maxBuffer) {
      log.debug({ buffered: res.writableLength }, 'live client too slow: disconnected');
      res.destroy();
      return drop(client);
    }
    res.write(text);
  };
  const drop = (client: Client): void => {
    clients.delete(client);
  };

  const publish = (type: LiveEvent['type'], payload: unknown): void => {
    const event: LiveEvent = { id: ++seq, type, data: JSON.stringify(payload) };
    ring.push(event);
    if (ring.length > ringSize) ring.splice(0, ring.length - ringSize);
    if (clients.size === 0) return;
    const text = frame(event);
    for (const c of clients) send(c, text);
  };

  const snapshot = (): string => `id: ${seq}\nevent: snapshot\ndata: ${JSON.stringify({ signals: params.currentSignals(), alerts: params.currentAlerts(), seq })}\n\n`;

  return {
    start() {
      if (running) return;
      running = true;
      let previous: ReadonlyMap<string, Signal> | null = null;
      subs.push(
        params.state$.subscribe({
          next: (state) => {
            params.onState?.(state);
            // the replayed current state is the baseline: clients get it in their snapshot
            if (previous !== null) {
              const removed: string[] = [];
              for (const k of previous.keys()) if (!state.signals.has(k)) removed.push(k);
              const changed = state.changed.filter((s) => state.signals.get(signalKey(s)) === s);
              if (changed.length > 0 || removed.length > 0) publish('signals', { changed: changed.map((s) => ({ key: signalKey(s), signal: s })), removed });
            }
            previous = state.signals;
          },
          error: (err: unknown) => log.error({ err }, 'signal state stream failed: live signal updates stopped'),
        }),
        params.runEvents$.subscribe({
          next: (e) => publish('run', e),
          error: (err: unknown) => log.error({ err }, 'run events stream failed: live run updates stopped'),
        }),
        params.alerts$
          .pipe(
            map((alerts) => JSON.stringify(alerts)),
            distinctUntilChanged(),
          )
          .subscribe({
            next: (json) => publish('alerts', { alerts: JSON.parse(json) as unknown }),
            error: (err: unknown) => log.error({ err }, 'alert state stream failed: live alert updates stopped'),
          }),
      );
      heartbeat = setInterval(() => {
        for (const c of clients) send(c, `: heartbeat ${Date.now()}\n\n`);
      }, params.heartbeatMs ?? 15_000);
      heartbeat.unref();
    },
    stop() {
      running = false;
      for (const s of subs) s.unsubscribe();
      subs = [];
      if (heartbeat) clearInterval(heartbeat);
      heartbeat = undefined;
      for (const c of clients) c.res.end();
      clients.clear();
      ring.length = 0;
    },
    attach(res, lastEventId) {
      if (!running || clients.size >= maxClients) return false;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-content-type-options': 'nosniff',
      });
      const client: Client = { res };
      clients.add(client);
      res.on('close', () => drop(client));
      res.write('retry: 2000\n\n');
      const oldest = ring.length > 0 ? ring[0]!.id : seq + 1;
      if (lastEventId !== null && lastEventId <= seq && lastEventId >= oldest - 1) {
        // resume: exactly the events missed
        for (const e of ring) if (e.id > lastEventId) send(client, frame(e));
      } else {
        send(client, snapshot());
      }
      return true;
    },
    clients: () => clients.size,
    seq: () => seq,
  };
}
