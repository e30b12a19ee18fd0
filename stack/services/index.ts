/**
 * The services of the local stack, in start order. To add one, write `stack/services/<name>.ts`
 * exporting a `ServiceDef` and list it here (dependencies are started first; `optional`
 * services start only when named).
 */
import type { ServiceDef } from './types';
import { kafka } from './kafka';

export const services: readonly ServiceDef[] = [kafka];

export function serviceByName(name: string): ServiceDef | undefined {
  return services.find((s) => s.name === name);
}

export type { ServiceDef } from './types';
