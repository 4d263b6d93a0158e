import {
  ActivityFailure,
  ApplicationFailure,
  defaultPayloadConverter,
  workflowInfo,
  type ActivityInput,
  type LocalActivityInput,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import { RUN_LOG_CONTEXT_HEADER } from '../common/log-context';
import { unsealedActivityPayload } from '../common/unsealed-payload';
import { runLogContext } from './shared/log-context';
import { recordUnsealedActivityResult } from './shared/metrics';
import { isPatched, PATCHES } from './shared/patches';

/**
 * The workflow interceptors of every bundle of our workflow code (src/worker/paths.ts):
 * - each activity, local or not, carries the run's runbook, incident and step in a header, for
 *   the activity's log lines. A header is not part of what a replay compares, so histories
 *   recorded without it replay unchanged;
 * - an activity's result that is not sealed under the payload keys is refused as the activity
 *   failing for good (src/common/unsealed-payload.ts), so the run takes its failure path (the
 *   fail-safe pages and waits for a human) instead of the value.
 */
function withRunLogContext<T extends ActivityInput | LocalActivityInput>(input: T): T {
  const context = runLogContext();
  if (!context) return input;
  return {
    ...input,
    headers: { ...input.headers, [RUN_LOG_CONTEXT_HEADER]: defaultPayloadConverter.toPayload(context) },
  };
}

/** The result as the activity's code returned it, or the activity's failure when it is unsealed. */
function sealedResult(result: unknown, input: ActivityInput | LocalActivityInput, local: boolean): unknown {
  const unsealed = unsealedActivityPayload(result);
  if (!unsealed) return result;
  // Asked here, only by a run that meets such a result (no fold holds it: the run records its own
  // marker). A history from before encryption (0.1.0–0.3.0) met its results unsealed and took them.
  if (!isPatched(PATCHES.sealedActivityResults))
    return defaultPayloadConverter.fromPayload({
      metadata: { encoding: new TextEncoder().encode(unsealed.encoding) },
      data: new TextEncoder().encode(unsealed.text),
    });
  recordUnsealedActivityResult(workflowInfo().workflowType, input.activityType);
  const cause = ApplicationFailure.create({
    type: 'UnsealedActivityResult',
    nonRetryable: true,
    message:
      `the result of ${input.activityType} is not sealed under the payload keys, so no runbooks worker wrote it: ` +
      `it was completed through Temporal's API by something else, and is not taken. Check who can call the namespace's API`,
  });
  // A local activity's failure reaches the workflow as its cause (as the SDK gives it).
  if (local) throw cause;
  const { activityId } = input.options as ActivityInput['options'];
  throw new ActivityFailure(
    'Activity task failed',
    input.activityType,
    activityId ?? String(input.seq),
    RetryState.NON_RETRYABLE_FAILURE,
    undefined,
    cause,
  );
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      scheduleActivity: (input, next) =>
        next(withRunLogContext(input)).then((result) => sealedResult(result, input, false)),
      scheduleLocalActivity: (input, next) =>
        next(withRunLogContext(input)).then((result) => sealedResult(result, input, true)),
    },
  ],
});
