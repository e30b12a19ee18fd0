/**
 * undici's request API and Agent, loaded without undici's index. The index also loads fetch,
 * WebSocket, EventSource, the cache stores and the mock agents (≈ 9 MB of resident memory in
 * a process that uses none of them), so the two modules are required by path. The paths are
 * those of the undici version pinned in package-lock.json; test/unit/foundation/http-client.test.ts
 * fails if an upgrade moves them.
 */
import type { Agent as UndiciAgent, Dispatcher } from 'undici';

/* eslint-disable @typescript-eslint/no-require-imports */
const Agent = require('undici/lib/dispatcher/agent') as typeof UndiciAgent;
const apiRequest = require('undici/lib/api/api-request') as (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
/* eslint-enable @typescript-eslint/no-require-imports */

export type HttpAgent = UndiciAgent;
export type HttpAgentOptions = UndiciAgent.Options;
export type HttpResponse = Dispatcher.ResponseData;
export type HttpRequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method?: Dispatcher.HttpMethod; dispatcher?: Dispatcher };

/** A connection pool per origin (undici Agent); close it when its owner closes. */
export function createHttpAgent(options: HttpAgentOptions = {}): HttpAgent {
  return new Agent(options);
}

let shared: HttpAgent | undefined;

/** undici's `request(url, options)`: on `options.dispatcher`, else on one process-wide Agent. */
export function httpRequest(url: string | URL, options: HttpRequestOptions = {}): Promise<HttpResponse> {
  const target = new URL(url);
  const { dispatcher, ...rest } = options;
  return apiRequest.call(dispatcher ?? (shared ??= new Agent()), {
    ...rest,
    origin: target.origin,
    path: `${target.pathname}${target.search}`,
    method: options.method ?? 'GET',
  });
}
