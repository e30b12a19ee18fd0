/**
 * Live log follow for the UI, shared: however many browsers follow one task attempt's log,
 * ONE watcher reads what was appended since its last read (the runner flushes a running
 * attempt's log to the store every second; there is no other source of a task's output) and
 * sends it to every follower over SSE. A watcher exists only while someone follows, and ends
 * (sending `end`) once the attempt has ended and its last bytes were sent. Reads are
 * byte-addressed (src/store/task-log-pages.ts), so each one costs what was appended, not the
 * log's size. Each follower's unsent output is bounded: a slow one is disconnected.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../../protocol';
import type { TaskLogReader } from '../../store/task-log-pages';

export interface LogFollowParams {
  reader: TaskLogReader;
  logger: Logger;
  intervalMs?: number;
  maxClientBufferBytes?: number;
  /** Most bytes sent per read (a follower far behind catches up over several reads). */
  chunkBytes?: number;
  heartbeatMs?: number;
}

interface Follower {
  res: ServerResponse;
  cursor: number;
}

interface Watcher {
  key: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  followers: Set<Follower>;
  timer: NodeJS.Timeout;
  ticks: number;
}

export interface LogFollow {
  /** Streams the log from absolute byte `from` (default: its current end) and then live. */
  follow(res: ServerResponse, target: { runId: string; taskId: string; tryNumber: number; from?: number }): void;
  watchers(): number;
  stop(): void;
}

export function createLogFollow(params: LogFollowParams): LogFollow {
  const { reader } = params;
  const log = params.logger.child({ component: 'ui-logs' });
  const maxBuffer = params.maxClientBufferBytes ?? 2_097_152;
  const chunk = params.chunkBytes ?? 262_144;
  const heartbeatEvery = Math.max(1, Math.round((params.heartbeatMs ?? 15_000) / (params.intervalMs ?? 250)));
  const watchers = new Map<string, Watcher>();

  const sse = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

  const close = (w: Watcher, f: Follower, final?: string): void => {
    if (final && !f.res.writableEnded) f.res.write(final);
    if (!f.res.writableEnded) f.res.end();
    w.followers.delete(f);
    if (w.followers.size === 0) {
      clearInterval(w.timer);
      watchers.delete(w.key);
    }
  };

  const tick = (w: Watcher): void => {
    try {
      w.ticks += 1;
      const ended = reader.attemptEnded(w.runId, w.taskId, w.tryNumber);
      const m = reader.meta(w.runId, w.taskId, w.tryNumber);
      for (const f of [...w.followers]) {
        if (f.res.destroyed) {
          close(w, f);
          continue;
        }
        if (f.res.writableLength > maxBuffer) {
          f.res.destroy();
          close(w, f);
          continue;
        }
        let sent = false;
        if (m && f.cursor < m.size) {
          if (f.cursor < m.start) {
            f.res.write(sse('gap', { from: f.cursor, to: m.start }));
            f.cursor = m.start;
          }
          const page = reader.pageAfter(w.runId, w.taskId, m, f.cursor, chunk);
          if (page.end > page.start) {
            f.res.write(sse('append', page));
            f.cursor = page.end;
            sent = true;
          }
        }
        const caughtUp = !m || f.cursor >= m.size;
        if (ended && caughtUp) close(w, f, sse('end', { size: m?.size ?? 0 }));
        else if (!sent && w.ticks % heartbeatEvery === 0) f.res.write(': heartbeat\n\n');
      }
    } catch (err) {
      log.error({ err, run: w.runId, task: w.taskId }, 'following a log failed');
      for (const f of [...w.followers]) close(w, f, sse('error', { message: 'reading the log failed (the supervisor logged why)' }));
    }
  };

  return {
    follow(res, target) {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-content-type-options': 'nosniff',
      });
      res.write('retry: 2000\n\n');
      const key = `${target.runId}\u0000${target.taskId}\u0000${target.tryNumber}`;
      let w = watchers.get(key);
      if (!w) {
        const created: Watcher = { key, runId: target.runId, taskId: target.taskId, tryNumber: target.tryNumber, followers: new Set(), ticks: 0, timer: undefined as never };
        created.timer = setInterval(() => tick(created), params.intervalMs ?? 250);
        created.timer.unref();
        watchers.set(key, created);
        w = created;
      }
      const m = reader.meta(target.runId, target.taskId, target.tryNumber);
      const follower: Follower = { res, cursor: target.from ?? m?.size ?? 0 };
      w.followers.add(follower);
      const watcher = w;
      res.on('close', () => {
        if (watcher.followers.has(follower)) close(watcher, follower);
      });
      tick(watcher);
    },
    watchers: () => watchers.size,
    stop() {
      for (const w of [...watchers.values()]) for (const f of [...w.followers]) close(w, f);
    },
  };
}
