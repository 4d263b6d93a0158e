import type { UpdateDefinition } from '@temporalio/common';
import { ApplicationFailure, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { DECISION_REFUSED, type DecisionAnswer } from '../workflows/shared/messages';

/**
 * Sends a decision as an Update and returns the run's answer. A refusal comes back as the answer
 * (`accepted: false`, the reason) whether the run answered it as a result (runs started before
 * `decision-refusal-fails-update-v1`) or by failing the Update with it (runs since). Any other
 * failure (a malformed payload, an unknown Update) is thrown as it came.
 */
export async function decide<Payload>(
  handle: WorkflowHandle,
  update: UpdateDefinition<DecisionAnswer, [Payload]> | string,
  payload: Payload,
): Promise<DecisionAnswer> {
  try {
    return await handle.executeUpdate<DecisionAnswer, [Payload]>(update, { args: [payload] });
  } catch (error) {
    const refusal = refusalOf(error);
    if (refusal) return refusal;
    throw error;
  }
}

/** The answer carried by a refused decision's Update failure, if that is what `error` is. */
export function refusalOf(error: unknown): DecisionAnswer | undefined {
  if (!(error instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = error.cause;
  if (!(cause instanceof ApplicationFailure) || cause.type !== DECISION_REFUSED) return undefined;
  const answer = cause.details?.[0] as DecisionAnswer | undefined;
  return answer && answer.accepted === false ? answer : undefined;
}
