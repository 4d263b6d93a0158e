import { Context } from '@temporalio/activity';

/** How often an activity that waits on a program says it is alive (well inside each preset's heartbeat timeout). */
export const HEARTBEAT_EVERY_MS = 5_000;

/** A heartbeat when called inside an activity (a no-op elsewhere). */
export function heartbeatIfInActivity(): void {
  try {
    Context.current().heartbeat();
  } catch {
    // not in an activity (a unit test or the CLI): nothing to report to
  }
}
