/**
 * The decoder interface for Confluent wire-format values. The implementation (connection, auth,
 * TLS, lazy loading of @kafkajs/confluent-schema-registry) lives in
 * src/shared/schema-registry-decoder.ts.
 */
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';

export type SchemaRegistryDecoder = Pick<SchemaRegistry, 'decode'>;
