import type { FastifyInstance } from 'fastify';
import { SupervisorError, type Component, type Logger } from '../protocol';

/** The HTTP server as a lifecycle Component named `http`: fastify's listen and close. */
export interface HttpListener extends Component {
  readonly name: 'http';
  /** Base URL once listening ('' before). */
  url(): string;
}

export interface HttpListenerParams {
  app: FastifyInstance;
  host: string;
  port: number;
  /** Where the port came from, for the error (`--port`, `<file>: server.port`). */
  where: string;
  logger: Logger;
}

/**
 * start() listens (fastify logs "Server listening at …" itself); a refused address becomes
 * SUP_ERR_CONFIG_INVALID naming the cause, and nothing is left listening. stop() closes the
 * server once (idempotent) and never rejects.
 */
export function createHttpListener(params: HttpListenerParams): HttpListener {
  let listeningUrl = '';
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  const listen = async (): Promise<void> => {
    const { host, port } = params;
    try {
      listeningUrl = await params.app.listen({ host, port });
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      const why =
        code === 'EADDRINUSE'
          ? 'the address is in use by another process'
          : code === 'EACCES'
            ? 'permission denied (ports below 1024 need privileges)'
            : code === 'EADDRNOTAVAIL'
              ? 'the address is not one of this host'
              : (cause as Error).message;
      throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `cannot listen on ${host}:${port}: ${why}`, { where: params.where, cause });
    }
  };
  return {
    name: 'http',
    url: () => listeningUrl,
    start() {
      if (stopping) return Promise.resolve();
      starting ??= listen();
      return starting;
    },
    stop() {
      stopping ??= params.app.close().then(
        () => undefined,
        (err: unknown) => params.logger.error({ component: 'http', err }, 'closing the HTTP server failed'),
      );
      return stopping;
    },
  };
}
