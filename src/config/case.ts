/**
 * The YAML is snake_case throughout; check modules take camelCase options (as their zod
 * schemas and TypeScript types are written). These convert keys (deeply) and error paths.
 */
export const snakeToCamel = (key: string): string => key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
export const camelToSnake = (key: string): string => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

export function camelizeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelizeKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [/^[a-z][a-z0-9_]*$/.test(k) ? snakeToCamel(k) : k, camelizeKeys(v)]));
  }
  return value;
}

export function snakePath(path: readonly PropertyKey[]): PropertyKey[] {
  return path.map((p) => (typeof p === 'string' && /^[a-z][A-Za-z0-9]*$/.test(p) ? camelToSnake(p) : p));
}
