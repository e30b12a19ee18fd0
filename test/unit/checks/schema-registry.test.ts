import { createSchemaRegistryCheck, readPath, schemaRegistryOptionsSchema, toEpochMs } from '../../../checks/schema-registry';
import type { ProbeContext } from '../../../src/protocol';

const ctx = (): ProbeContext => ({ signal: new AbortController().signal, now: () => 1_700_000_000_000 });
const json = (status: number, body: unknown) => new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });

function fakeFetch(routes: Record<string, () => Response>): typeof fetch {
  return async (url: string | URL | Request) => {
    const path = (typeof url === 'string' ? url : url instanceof URL ? url.href : url.url).replace('http://reg/api', '');
    const route = routes[path];
    return route ? route() : json(404, { error_code: 40401 });
  };
}

describe('schema registry check (fake HTTP)', () => {
  it('validates options', () => {
    expect(schemaRegistryOptionsSchema.parse({ url: 'http://reg/api' })).toMatchObject({ topics: [], subjectSuffix: '-value', subjects: [] });
    expect(() => createSchemaRegistryCheck({ name: 'sr', options: { url: 'not a url' } })).toThrow(/invalid schema_registry options/);
    expect(schemaRegistryOptionsSchema.safeParse({ url: 'http://x', topic: ['a'] }).success).toBe(false);
  });

  it('reports versions and ids, and missing subjects as crit', async () => {
    const check = createSchemaRegistryCheck({
      name: 'sr',
      options: { url: 'http://reg/api/', topics: ['a', 'b'], subjects: ['c-key'] },
      fetch: fakeFetch({
        '/subjects': () => json(200, ['a-value', 'c-key']),
        '/subjects/a-value/versions/latest': () => json(200, { subject: 'a-value', version: 3, id: 42, schema: '{}' }),
        '/subjects/c-key/versions/latest': () => json(200, { subject: 'c-key', version: 1, id: 7, schema: '{}' }),
      }),
    });
    const [s] = await check.probe(ctx());
    expect(s).toMatchObject({ status: 'crit', target: 'http://reg/api' });
    expect(s!.facts).toEqual({
      kind: 'schema_registry',
      reachable: true,
      subjects: [
        { subject: 'a-value', exists: true, latestVersion: 3, schemaId: 42 },
        { subject: 'b-value', exists: false, latestVersion: null, schemaId: null },
        { subject: 'c-key', exists: true, latestVersion: 1, schemaId: 7 },
      ],
    });
    expect(s!.summary).toBe('schema registry: missing subjects: b-value');
  });

  it('names HTTP errors and odd JSON', async () => {
    const http500 = createSchemaRegistryCheck({ name: 'sr', options: { url: 'http://reg/api' }, fetch: fakeFetch({ '/subjects': () => json(500, 'boom') }) });
    const [a] = await http500.probe(ctx());
    expect(a).toMatchObject({ status: 'crit', error: { code: 'SUP_ERR_SCHEMA_REGISTRY' } });
    expect(a!.error!.message).toContain('HTTP 500 (at http://reg/api/subjects)');
    const odd = createSchemaRegistryCheck({ name: 'sr', options: { url: 'http://reg/api' }, fetch: fakeFetch({ '/subjects': () => json(200, '<html>') }) });
    const [b] = await odd.probe(ctx());
    expect(b!.error!.message).toContain('non-JSON');
    const notList = createSchemaRegistryCheck({ name: 'sr', options: { url: 'http://reg/api' }, fetch: fakeFetch({ '/subjects': () => json(200, { a: 1 }) }) });
    const [c] = await notList.probe(ctx());
    expect(c!.error!.message).toContain('did not return a list');
  });

  it('reads event times in every usual shape', () => {
    expect(toEpochMs(new Date(5000))).toBe(5000);
    expect(toEpochMs(1_700_000_000)).toBe(1_700_000_000_000);
    expect(toEpochMs(1_700_000_000_123)).toBe(1_700_000_000_123);
    expect(toEpochMs(1_700_000_000_123_456)).toBe(1_700_000_000_123);
    expect(toEpochMs('2023-11-14T22:13:20Z')).toBe(1_700_000_000_000);
    expect(toEpochMs('nope')).toBeNull();
    expect(toEpochMs(undefined)).toBeNull();
    expect(readPath({ meta: { ts: { long: 5 } } }, 'meta.ts')).toBe(5);
    expect(readPath({ a: 1 }, 'a.b')).toBeUndefined();
  });
});
