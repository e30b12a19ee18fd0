/**
 * Confluent wire-format decoding through @kafkajs/confluent-schema-registry, with the client
 * loaded on the first decode: it brings avsc, protobufjs and ajv (~7 MB of memory), which a
 * supervisor that never decodes a record should not pay for.
 */
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';

export type SchemaRegistryDecoder = Pick<SchemaRegistry, 'decode'>;

export function lazySchemaRegistryDecoder(host: string, auth?: { username: string; password: string }): SchemaRegistryDecoder {
  let client: SchemaRegistry | undefined;
  return {
    decode: async (buffer) => {
      if (!client) {
        const { SchemaRegistry: Client } = await import('@kafkajs/confluent-schema-registry');
        client ??= new Client({ host, ...(auth ? { auth } : {}) });
      }
      return client.decode(buffer);
    },
  };
}
