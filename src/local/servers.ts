/**
 * Starts the real servers the local stack and the tests use: the Temporal CLI dev server, the
 * Temporal time-skipping test server and an embedded PostgreSQL. Everything listens on 127.0.0.1.
 */
export * from './processes';
export * from './temporal';
export * from './postgres';
