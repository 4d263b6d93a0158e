import {
  ActivityFailure,
  ApplicationFailure,
  defaultPayloadConverter,
  workflowInfo,
  type ActivateInput,
  type ActivityInput,
  type LocalActivityInput,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';
import { RetryState, type ActivitySerializationContext } from '@temporalio/common';
import { RUN_LOG_CONTEXT_HEADER } from '../common/log-context';
import {
  ABSENT_PAYLOAD_ENCODING,
  UNSEALED_ACTIVITY_PAYLOAD,
  whyNotTaken,
  type UnsealedActivityPayload,
} from '../common/unsealed-payload';
import { setUnsealedResultHandler } from '../common/unsealed-result-handler';
import { fitResult } from './shared/fit-result';
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
 *   fail-safe pages and waits for a human) instead of the value. The payload converter asks
 *   (src/codec/payload-converter.ts); the activity's promise is the SDK's own, untouched. A
 *   result with no payload at all is refused the same way (since 0.22.0);
 * - a run's result, or a query's answer, over RESULT_MAX_BYTES is trimmed (shared/fit-result.ts,
 *   since 0.26.0).
 */
function withRunLogContext<T extends ActivityInput | LocalActivityInput>(input: T): T {
  const context = runLogContext();
  if (!context) return input;
  return {
    ...input,
    headers: { ...input.headers, [RUN_LOG_CONTEXT_HEADER]: defaultPayloadConverter.toPayload(context) },
  };
}

/**
 * What the activity's promise receives for an unsealed result: the value as it came in a history
 * from before encryption, else a thenable that rejects it with the activity's failure (the SDK
 * resolves the promise with it, so the promise takes its rejection).
 */
function unsealedResult(
  unsealed: UnsealedActivityPayload,
  context: ActivitySerializationContext,
  activityType: string | undefined,
): unknown {
  // Asked here, only by a run that meets such a result (no fold holds it: the run records its own
  // marker). A history from before encryption (0.1.0–0.3.0) met its results unsealed and took them;
  // one recorded before 0.22.0 took a completion without a payload as undefined (its workflow task
  // then failed on it, again and again).
  const absent = unsealed.encoding === ABSENT_PAYLOAD_ENCODING;
  if (
    !isPatched(
      absent
        ? PATCHES.absentActivityResultsRefused
        : unsealed.sealedFor
          ? PATCHES.transplantedActivityResultsRefused
          : PATCHES.sealedActivityResults,
    )
  )
    return absent
      ? undefined
      : defaultPayloadConverter.fromPayload({
          metadata: { encoding: new TextEncoder().encode(unsealed.encoding) },
          data: new TextEncoder().encode(unsealed.text),
        });
  const type = activityType ?? `activity ${context.activityId ?? '?'}`;
  recordUnsealedActivityResult(workflowInfo().workflowType, type);
  const cause = ApplicationFailure.create({
    type: 'UnsealedActivityResult',
    nonRetryable: true,
    message:
      `the result of ${type} ${whyNotTaken(unsealed)}: ` +
      `it was completed through Temporal's API by something else, and is not taken. Check who can call the namespace's API`,
  });
  // A local activity's failure reaches the workflow as its cause (as the SDK gives it).
  const failure = context.isLocal
    ? cause
    : new ActivityFailure(
        'Activity task failed',
        type,
        context.activityId,
        RetryState.NON_RETRYABLE_FAILURE,
        undefined,
        cause,
      );
  return { then: (_: unknown, reject: (error: unknown) => void) => reject(failure) };
}

/**
 * A completed activity whose result has no payload at all is given one that says so, wrapped as an
 * unsealed payload is: the SDK then asks the payload converter, and the handler refuses it at the
 * same moment it would have taken the value (no command moves). Without it the run took
 * `undefined` for the step's answer and its workflow task failed on it, again and again.
 */
function markAbsentResults(activation: ActivateInput['activation']): void {
  for (const job of activation.jobs ?? []) {
    const completed = job.resolveActivity?.result?.completed;
    // Built only here: this module is evaluated again for every run, and almost none meets one.
    if (completed && !completed.result)
      completed.result = defaultPayloadConverter.toPayload({
        [UNSEALED_ACTIVITY_PAYLOAD]: { encoding: ABSENT_PAYLOAD_ENCODING, text: '' },
      });
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => {
  // Each scheduled activity's type by its id (the SDK's default id is its sequence number), for
  // the refusal's message: one short entry per activity the run schedules.
  const types = new Map<string, string>();
  const scheduled = <T extends ActivityInput | LocalActivityInput>(input: T): T => {
    const { activityId } = input.options as ActivityInput['options'];
    types.set(activityId ?? String(input.seq), input.activityType);
    return withRunLogContext(input);
  };
  setUnsealedResultHandler((unsealed, context) =>
    unsealedResult(
      unsealed,
      context,
      context.activityId === undefined ? undefined : types.get(context.activityId),
    ),
  );
  return {
    // A result Temporal would refuse (over 2 MB) leaves the run unable to complete, and a query's
    // answer over it fails ("Blob data size exceeds limit"): both are trimmed instead.
    inbound: [
      {
        execute: (input, next) => next(input).then(fitResult),
        handleQuery: (input, next) => next(input).then(fitResult),
      },
    ],
    internals: [
      {
        activate: (input, next) => {
          markAbsentResults(input.activation);
          return next(input);
        },
      },
    ],
    outbound: [
      {
        scheduleActivity: (input, next) => next(scheduled(input)),
        scheduleLocalActivity: (input, next) => next(scheduled(input)),
      },
    ],
  };
};
