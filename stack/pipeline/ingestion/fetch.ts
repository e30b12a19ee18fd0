/**
 * Reads a feed's text from a local file or an http(s) URL. Failures become `FeedError`s that
 * name the feed and the cause (missing file, HTTP status, timeout, too large).
 */
import { readFile, stat } from 'node:fs/promises';
import { FeedError } from './feeds';
import type { SourceConfig } from './sources';

export const MAX_FEED_BYTES = 64 * 1024 * 1024;

export async function fetchFeed(source: Pick<SourceConfig, 'kind' | 'location' | 'timeoutMs'>, signal?: AbortSignal): Promise<string> {
  if (source.kind === 'file') {
    try {
      const st = await stat(source.location);
      if (!st.isFile()) throw new FeedError('is not a regular file', source.location);
      if (st.size > MAX_FEED_BYTES) throw new FeedError(`is ${st.size} bytes, more than the ${MAX_FEED_BYTES} allowed`, source.location);
      return await readFile(source.location, { encoding: 'utf8', ...(signal ? { signal } : {}) });
    } catch (err) {
      if (err instanceof FeedError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new FeedError('feed file does not exist', source.location);
      if (code === 'EACCES') throw new FeedError('feed file is not readable (permission denied)', source.location);
      throw new FeedError(`cannot read feed file: ${(err as Error).message}`, source.location);
    }
  }
  const timeout = AbortSignal.timeout(source.timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetch(source.location, { signal: combined, redirect: 'follow' });
  } catch (err) {
    if (timeout.aborted) throw new FeedError(`no answer within ${source.timeoutMs} ms`, source.location);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new FeedError(`cannot fetch feed: ${cause?.code ?? cause?.message ?? (err as Error).message}`, source.location);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new FeedError(`HTTP ${res.status} ${res.statusText}`.trim(), source.location);
  }
  const length = Number(res.headers.get('content-length') ?? '0');
  if (length > MAX_FEED_BYTES) {
    await res.body?.cancel().catch(() => undefined);
    throw new FeedError(`is ${length} bytes, more than the ${MAX_FEED_BYTES} allowed`, source.location);
  }
  const buf = Buffer.from(await res.arrayBuffer());
  if (buf.length > MAX_FEED_BYTES) throw new FeedError(`is more than the ${MAX_FEED_BYTES} bytes allowed`, source.location);
  return buf.toString('utf8');
}
