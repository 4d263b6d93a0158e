import type { UpdateDefinition } from '@temporalio/common';
import { ApplicationFailure, setHandler, type SignalDefinition } from '@temporalio/workflow';
import type { z } from 'zod';
import { describeIssuesInline } from '../../common/validation';
import { DECISION_REFUSED, RUN_HANDING_OVER, type DecisionAnswer } from './messages';
import { isPatched, PATCHES } from './patches';
import type { RefusedAttempt, RunRecord } from './run-record';

/** What a handler may return: its refusal, null when the decision counted, or nothing. */
type Verdict = RefusedAttempt | null | undefined | void;

/**
 * Every human decision a run accepts (approve, reject, abort, pause, …) arrives two ways with the
 * same semantics: as a signal (fire and forget; the Web UI's "Send a Signal", older clients) and
 * as an Update of the same name that answers the caller at once. A malformed Update is refused by
 * its validator (nothing recorded, the caller sees each bad field); a well-formed attempt that is
 * refused is recorded in the run's audit trail like a refused signal, and answered
 * `accepted: false` with the reason: by failing the Update with that answer (runs since
 * `decision-refusal-fails-update-v1`: the Web UI shows an Update's failure in its dialog but
 * only "Update successful" for a result), or as its result (runs started before).
 */
export interface DecisionMessage<Args extends unknown[]> {
  signal: SignalDefinition<Args>;
  update: UpdateDefinition<DecisionAnswer, Args>;
  /** The payload's schema, for the Update's validator (absent: any payload). */
  schema?: z.ZodType;
}

export function handleDecision<Args extends unknown[]>(
  record: RunRecord<unknown>,
  message: DecisionMessage<Args>,
  /**
   * Records the decision. It may return its verdict (the refusal, or null when it counted); one
   * that awaits (a signature check) must, since other messages may be handled meanwhile.
   */
  handler: (raw: unknown) => Verdict | Promise<RefusedAttempt | null>,
  /**
   * Why the run cannot take a decision in now (it hands over to its next run), or undefined. A
   * signal then goes to the handler (which holds it); an Update is rejected by its validator, with
   * nothing recorded, rather than answered before anything has checked it.
   */
  busy?: () => string | undefined,
): void {
  // A synchronous handler stays synchronous for signals (as before Updates existed).
  setHandler(message.signal, (...args: Args) => {
    const verdict = handler(args[0]);
    return verdict instanceof Promise ? verdict.then(() => undefined) : undefined;
  });
  // Decided once per run, at registration: a run keeps the answer form it started with.
  const refusalFails = isPatched(PATCHES.decisionRefusalFailsUpdate);
  setHandler(
    message.update,
    async (...args: Args) => {
      const answer = await answerOf(record, () => handler(args[0]));
      if (answer.accepted || !refusalFails) return answer;
      throw withoutStack(
        ApplicationFailure.create({
          type: DECISION_REFUSED,
          nonRetryable: true,
          message: `REFUSED (${answer.reason}): ${answer.detail ?? ''} — ${message.update.name} did not count`,
          details: [answer],
        }),
      );
    },
    {
      validator: (...args: Args) => {
        const parsed = message.schema?.safeParse(args[0]);
        if (parsed && !parsed.success)
          throw withoutStack(
            ApplicationFailure.create({
              type: 'InvalidPayload',
              nonRetryable: true,
              message: describeIssuesInline(parsed.error, `${message.update.name} payload`),
            }),
          );
        const why = busy?.();
        if (why)
          throw withoutStack(
            ApplicationFailure.create({
              type: RUN_HANDING_OVER,
              nonRetryable: true,
              message: `NOT TAKEN (${why}): ${message.update.name} was not recorded; send it again`,
            }),
          );
      },
    },
  );
}

/** A person reads this failure (the UI's dialog, the CLI): the message, not our call stack. */
function withoutStack(failure: ApplicationFailure): ApplicationFailure {
  failure.stack = '';
  return failure;
}

/** Runs the handler; a refusal it recorded becomes the answer, else the decision was accepted. */
async function answerOf(
  record: RunRecord<unknown>,
  handle: () => Verdict | Promise<RefusedAttempt | null>,
): Promise<DecisionAnswer> {
  const before = record.status.refusedTotal ?? 0;
  const verdict = await handle();
  // Without a verdict (a synchronous handler), the refusal it recorded, if any, is the answer.
  const refused =
    verdict !== undefined
      ? (verdict ?? undefined)
      : (record.status.refusedTotal ?? 0) > before
        ? record.status.refusedAttempts.at(-1)
        : undefined;
  if (!refused) return { accepted: true, step: record.status.step };
  return { accepted: false, reason: refused.reason, detail: refused.detail, step: record.status.step };
}
