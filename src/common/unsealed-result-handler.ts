import type { ActivitySerializationContext } from '@temporalio/common';
import type { UnsealedActivityPayload } from './unsealed-payload';

/**
 * Who decides what an unsealed activity result becomes: set by the workflow interceptors of each
 * run (src/workflows/interceptors.ts), read by the payload converter (src/codec/payload-converter.ts).
 * Both are evaluated once per run in the workflow sandbox, so this module's state is the run's own;
 * in the worker's own thread nothing sets it.
 */
export type UnsealedResultHandler = (
  unsealed: UnsealedActivityPayload,
  context: ActivitySerializationContext,
) => unknown;

let handler: UnsealedResultHandler | undefined;

export function setUnsealedResultHandler(next: UnsealedResultHandler): void {
  handler = next;
}

export function unsealedResultHandler(): UnsealedResultHandler | undefined {
  return handler;
}
