import { proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities, RunbookEnd } from '../../activities';
import { runbookFollow } from '../activity-options';
import { describeFailure } from '../shared/notices';
import { isPatched, PATCHES } from '../shared/patches';
import type { IncidentDetail, IncidentRunbook } from './definitions';

/** The runbooks an incident starts (as children, left running when it ends): their ends, followed. */

const { awaitRunbookEnd } = proxyActivities<RunbookActivities>(runbookFollow);

/**
 * Followed, not awaited: the incident goes on (and may end) while its runbooks run. `lost`: what
 * the entry says when its end could not be read (it is not a runbook that failed).
 */
export function follow(
  entry: IncidentRunbook,
  ended: Promise<RunbookEnd>,
  lost?: (error: unknown) => string,
): void {
  void ended.then(
    (end) => {
      // Its state, outcome and message as the end says them; a message about following it goes.
      delete entry.message;
      Object.assign(entry, end);
    },
    (error: unknown) =>
      lost
        ? (entry.message = lost(error))
        : Object.assign(entry, { state: 'failed', message: describeFailure(error) }),
  );
}

/**
 * A continued run: the runbooks an earlier run started and followed until it handed over are
 * followed again, by an activity that waits for each one's end (the run that started one had its
 * result; this one is not its parent). Before, each stayed `running` in the incident for good.
 */
export function followCarried(detail: IncidentDetail): void {
  const carried = detail.runbooks.filter((entry) => entry.state === 'running' && entry.runId);
  if (carried.length === 0 || !isPatched(PATCHES.incidentFollowsCarriedRunbooks)) return;
  for (const entry of carried) {
    entry.message = 'followed by this run of the incident (an earlier run started it)';
    follow(
      entry,
      awaitRunbookEnd({ workflowId: entry.workflowId, runId: entry.runId! }),
      (error) => `its end could not be read (${describeFailure(error)}): it is in ${entry.workflowId}`,
    );
  }
}
