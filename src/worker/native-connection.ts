import { NativeConnection } from '@temporalio/worker';
import { withReadableError, type TemporalTarget } from './connection';

/**
 * The worker's connection (the SDK's Rust core). Apart from ./connection.ts so that a client, the
 * CLI above all, does not load the SDK's worker package (its native library, rxjs, the bundler:
 * ~400 modules) to make a call.
 */
export function connectWorker(target: TemporalTarget): Promise<NativeConnection> {
  return withReadableError(target, () => NativeConnection.connect(target.connectionOptions));
}
