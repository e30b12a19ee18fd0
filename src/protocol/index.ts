/**
 * The protocol: the vocabulary every part of the supervisor shares — types, interfaces, the error
 * catalogue and the lifecycle contract. It imports nothing of the project, and it holds no
 * runtime behaviour, so depending on it costs nothing and drags in no library.
 *
 * What a file here may contain (test/unit/shared/protocol-types-only.test.ts holds this):
 * - `interface` and `type` declarations, and type-only imports and re-exports;
 * - constant vocabularies: `const` bound to a literal (string, number, array or object of literals,
 *   `as const`), such as STATUSES, TERMINAL_RUN_STATES, TRIGGER_KINDS, ERROR_CATALOGUE;
 * - the error types: classes extending Error (SupervisorError, SinkError);
 * - a short, named list of pure functions over that vocabulary: the status helpers (statusRank,
 *   worstStatus, isAtLeast, isStatus) and the error helpers (isSupervisorError, describeError).
 * Anything else — a client, a reader, a clock, a logger, a value import — belongs in src/shared/
 * (which imports only this folder): e.g. `systemClock` is src/shared/clock.ts, `silentLogger`
 * src/shared/logger.ts, the HTTP client src/shared/http-client.ts, the Kafka wire reader
 * src/shared/kafka-wire.ts, the schema registry decoder src/shared/schema-registry-decoder.ts.
 */
export * from './status';
export * from './signal';
export * from './trigger';
export * from './run';
export * from './clock';
export * from './logger';
export * from './errors';
export * from './alert';
export * from './metric-facts';
export * from './stores';
export * from './lag';
export * from './lifecycle';
export * from './schema-registry-decoder';
