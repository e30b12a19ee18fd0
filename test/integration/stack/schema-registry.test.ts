/**
 * The stack's schema registry (Apicurio, Confluent API) against @kafkajs/confluent-schema-registry:
 * register, encode, decode (Avro), plus the id round trip through a second client (no cache).
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { freshName } from '../../helpers/names';
import { STACK_TIMEOUT_MS, endpoints, ensureServices } from '../../helpers/stack';

jest.setTimeout(60_000);

describe('local stack: schema registry', () => {
  beforeAll(() => ensureServices(['schema-registry']), STACK_TIMEOUT_MS);

  it('registers an Avro schema, encodes and decodes a record', async () => {
    const name = freshName('stack_sr').replace(/-/g, '_');
    const subject = `${name}-value`;
    const schema = {
      type: 'record',
      name: `DomainEvent_${name}`,
      namespace: 'test.stack',
      fields: [
        { name: 'domain', type: 'string' },
        { name: 'score', type: 'double' },
        { name: 'seenAt', type: { type: 'long', logicalType: 'timestamp-millis' } },
      ],
    };
    const registry = new SchemaRegistry({ host: endpoints.schemaRegistryUrl });
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject });
    expect(Number.isInteger(id)).toBe(true);
    expect(await registry.getLatestSchemaId(subject)).toBe(id);

    const record = { domain: 'example.test', score: 0.75, seenAt: 1700000000000 };
    const encoded = await registry.encode(id, record);
    // Confluent wire format: magic byte 0, then the schema id big-endian.
    expect(encoded[0]).toBe(0);
    expect(encoded.readInt32BE(1)).toBe(id);

    const fresh = new SchemaRegistry({ host: endpoints.schemaRegistryUrl });
    expect(await fresh.decode(encoded)).toEqual(record);

    const res = await fetch(`${endpoints.schemaRegistryUrl}/subjects`);
    expect(await res.json()).toContain(subject);
  });
});
