/**
 * One local-stack service. Each lives in its own file under `stack/services/` and is listed in
 * `stack/services/index.ts`; the manager (`stack/manager.ts`) installs, starts, probes and stops
 * them without knowing what they are.
 */
import type { SpawnSpec } from '../proc';
import type { StackLog } from '../log';

export interface ServiceContext {
  log: StackLog;
  /** aborted when the caller gives up (timeout, Ctrl-C) */
  signal: AbortSignal;
}

export interface ServicePort {
  /** what listens there, e.g. "broker" or "controller" */
  name: string;
  port: number;
}

export interface ServiceDef {
  name: string;
  description: string;
  /** services that must be ready before this one starts */
  dependsOn?: string[];
  /** TCP ports on 127.0.0.1 the service binds: each must be free (or ours) before it starts */
  ports(): ServicePort[];
  /** human-readable endpoints printed by `up` and `status` */
  endpoints(): Record<string, string>;
  /** installs the software once (cached, idempotent); generates config every time */
  install(ctx: ServiceContext): Promise<void>;
  /** the long-running process */
  command(ctx: ServiceContext): Promise<SpawnSpec> | SpawnSpec;
  /** true once the service answers like a working one */
  ready(ctx: ServiceContext): Promise<boolean>;
  /** runs after readiness on every `up` (e.g. create the bucket); idempotent */
  afterReady?(ctx: ServiceContext): Promise<void>;
  /** how long readiness may take after start (cold JVMs on 2 cores) */
  readyTimeoutMs: number;
  /** not started by a bare `up` (e.g. the reference pipeline, which needs the others first) */
  optional?: boolean;
  /** what `down` sends first (default SIGTERM; PostgreSQL's fast shutdown is SIGINT) */
  stopSignal?: NodeJS.Signals;
}
