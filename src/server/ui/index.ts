/**
 * The web UI, wired from the daemon's streams and store: sessions, the live hub (one
 * subscription per stream), the shared log followers, the lag history, and the route plugins
 * they serve through. The daemon passes `api` to buildApp's /api/v1 plugins, `root` to its root
 * plugins and `sessions` to its auth; the hub starts when the server is ready and everything
 * here ends before the server closes (its SSE streams would otherwise hold the close).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Observable } from 'rxjs';
import type { AlertView } from '../../../alerts';
import type { Engine } from '../../engine/engine';
import type { Logger, RunEvent, Signal } from '../../protocol';
import type { SqliteDatabase } from '../../store/database';
import { createTaskLogReader } from '../../store/task-log-pages';
import type { SignalState } from '../../../streams/signal-state';
import { liveRoutes } from '../routes/live';
import { uiDataRoutes } from '../routes/ui-data';
import { uiRoutes } from '../routes/ui';
import { createLagHistory } from './lag-history';
import { createLiveHub, type LiveHub } from './live-hub';
import { createLogFollow, type LogFollow } from './log-follow';
import { createSessionStore, type SessionStore } from './sessions';

export interface WebUiParams {
  engine: Engine;
  db: SqliteDatabase;
  state$: Observable<SignalState>;
  runEvents$: Observable<RunEvent>;
  alerts: { alerts$: Observable<readonly AlertView[]>; snapshot(): AlertView[] };
  signals: () => readonly Signal[];
  logger: Logger;
  now: () => number;
  sessionTtlMs?: number;
}

export interface WebUi {
  sessions: SessionStore;
  hub: LiveHub;
  follow: LogFollow;
  api: FastifyPluginAsync[];
  root: Array<(ctx: { signIn: (request: FastifyRequest, reply: FastifyReply) => Promise<void> }) => FastifyPluginAsync>;
}

export function createWebUi(p: WebUiParams): WebUi {
  const sessions = createSessionStore(p.sessionTtlMs !== undefined ? { ttlMs: p.sessionTtlMs } : {});
  const lagHistory = createLagHistory();
  const logs = createTaskLogReader(p.db);
  const hub = createLiveHub({
    state$: p.state$,
    runEvents$: p.runEvents$,
    alerts$: p.alerts.alerts$,
    currentSignals: p.signals,
    currentAlerts: () => p.alerts.snapshot(),
    onState: (s) => lagHistory.record(s),
    logger: p.logger,
  });
  const follow = createLogFollow({ reader: logs, logger: p.logger });
  const pages = uiRoutes({ sessions });
  const lifecycle = (ctx: { signIn: (request: FastifyRequest, reply: FastifyReply) => Promise<void> }): FastifyPluginAsync => {
    const plugin = pages(ctx);
    return async (app) => {
      app.addHook('onReady', async () => hub.start());
      app.addHook('preClose', async () => {
        hub.stop();
        follow.stop();
      });
      await plugin(app, {});
    };
  };
  return {
    sessions,
    hub,
    follow,
    api: [uiDataRoutes({ engine: p.engine, db: p.db, logs, lagHistory, now: p.now }), liveRoutes({ hub, follow, logs, engine: p.engine })],
    root: [lifecycle],
  };
}
