import type { UpdateDefinition } from '@temporalio/common';
import { ApplicationFailure, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { DECISION_REFUSED, RUN_HANDING_OVER, type DecisionAnswer } from '../workflows/shared/messages';

export interface DecideOptions {
  /** How long to keep sending an Update the run could not take in (it was handing over). */
  retryForMs?: number;
  /** Told of each such attempt (the run's words), before it is sent again. */
  onNotTaken?: (message: string) => void;
}

/** A hand-over waits for the notices in flight: seconds, longer when a channel is slow. */
const HANDING_OVER_RETRY_MS = 60_000;
const HANDING_OVER_PAUSE_MS = 500;

/**
 * Sends a decision as an Update and returns the run's answer. A refusal comes back as the answer
 * (`accepted: false`, the reason) whether the run answered it as a result (runs started before
 * `decision-refusal-fails-update-v1`) or by failing the Update with it (runs since). An Update the
 * run did not take in because it was handing over to its next run (RUN_HANDING_OVER: nothing
 * recorded) is sent again, to the workflow id's latest run, for up to `retryForMs`. Any other
 * failure (a malformed payload, an unknown Update) is thrown as it came.
 */
export async function decide<Payload>(
  handle: WorkflowHandle,
  update: UpdateDefinition<DecisionAnswer, [Payload]> | string,
  payload: Payload,
  { retryForMs = HANDING_OVER_RETRY_MS, onNotTaken }: DecideOptions = {},
): Promise<DecisionAnswer> {
  const latest = handle.client.getHandle(handle.workflowId);
  const giveUpAt = Date.now() + retryForMs;
  for (let target = handle; ; target = latest) {
    try {
      return await target.executeUpdate<DecisionAnswer, [Payload]>(update, { args: [payload] });
    } catch (error) {
      const refusal = refusalOf(error);
      if (refusal) return refusal;
      const notTaken = notTakenOf(error);
      if (notTaken === undefined || Date.now() >= giveUpAt) throw error;
      onNotTaken?.(notTaken);
      await new Promise((resolve) => setTimeout(resolve, HANDING_OVER_PAUSE_MS));
    }
  }
}

/** The run's words when it did not take an Update in because it was handing over. */
export function notTakenOf(error: unknown): string | undefined {
  if (!(error instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = error.cause;
  return cause instanceof ApplicationFailure && cause.type === RUN_HANDING_OVER ? cause.message : undefined;
}

/** The answer carried by a refused decision's Update failure, if that is what `error` is. */
export function refusalOf(error: unknown): DecisionAnswer | undefined {
  if (!(error instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = error.cause;
  if (!(cause instanceof ApplicationFailure) || cause.type !== DECISION_REFUSED) return undefined;
  const answer = cause.details?.[0] as DecisionAnswer | undefined;
  return answer && answer.accepted === false ? answer : undefined;
}
