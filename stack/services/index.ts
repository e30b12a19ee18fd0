/**
 * The services of the local stack, in start order. To add one, write `stack/services/<name>.ts`
 * exporting a `ServiceDef` and list it here (dependencies are started first; `optional`
 * services start only when named).
 */
import type { ServiceDef } from './types';
import { kafka } from './kafka';
import { schemaRegistry } from './schema-registry';
import { s3 } from './s3';
import { smtp } from './smtp';
import { alertmanager } from './alertmanager';
import { prometheus } from './prometheus';
import { sparkMaster } from './spark-master';
import { sparkWorker } from './spark-worker';
import { pipeline } from './pipeline';
import { oidc } from './oidc';
import { edge } from './edge';
import { postgres } from './postgres';

export const services: readonly ServiceDef[] = [kafka, schemaRegistry, s3, smtp, alertmanager, prometheus, sparkMaster, sparkWorker, oidc, edge, postgres, pipeline];

export function serviceByName(name: string): ServiceDef | undefined {
  return services.find((s) => s.name === name);
}

export type { ServiceDef } from './types';
