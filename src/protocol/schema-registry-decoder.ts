/**
 * The decoder interface for Confluent wire-format values. The implementation (connection, auth,
 * TLS, lazy loading of @kafkajs/confluent-schema-registry) lives in
 * src/shared/schema-registry-decoder.ts.
 */
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';

export type SchemaRegistryDecoder = Pick<SchemaRegistry, 'decode'>;

/**
 * Transitional re-export for streams/offsets-trigger.ts, which still imports the decoder from
 * src/protocol: import it from src/shared/schema-registry-decoder instead (protocol may not
 * import shared, so this line goes once nothing imports it from here).
 */
// eslint-disable-next-line boundaries/element-types
export { lazySchemaRegistryDecoder } from '../shared/schema-registry-decoder';
