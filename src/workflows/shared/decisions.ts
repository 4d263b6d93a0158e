import type { UpdateDefinition } from '@temporalio/common';
import { ApplicationFailure, setHandler, type SignalDefinition } from '@temporalio/workflow';
import type { z } from 'zod';
import { describeIssuesInline } from '../../common/validation';
import type { DecisionAnswer } from './messages';
import type { RunRecord } from './run-record';

/**
 * Every human decision a run accepts (approve, reject, abort, pause, …) arrives two ways with the
 * same semantics: as a signal (fire and forget; the Web UI's "Send a Signal", older clients) and
 * as an Update of the same name that answers the caller at once. A malformed Update is refused by
 * its validator (nothing recorded, the caller sees each bad field); a well-formed attempt that is
 * refused is recorded in the run's audit trail like a refused signal, and answered
 * `accepted: false` with the reason.
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
  handler: (raw: unknown) => void | Promise<void>,
): void {
  setHandler(message.signal, (...args: Args) => handler(args[0]));
  setHandler(message.update, (...args: Args) => answerOf(record, () => handler(args[0])), {
    validator: (...args: Args) => {
      const raw = args[0];
      if (!message.schema) return;
      const parsed = message.schema.safeParse(raw);
      if (!parsed.success)
        throw ApplicationFailure.create({
          type: 'InvalidPayload',
          nonRetryable: true,
          message: describeIssuesInline(parsed.error, `${message.update.name} payload`),
        });
    },
  });
}

/** Runs the handler; a refusal it recorded becomes the answer, else the decision was accepted. */
async function answerOf(
  record: RunRecord<unknown>,
  handle: () => void | Promise<void>,
): Promise<DecisionAnswer> {
  const before = record.status.refusedTotal ?? 0;
  await handle();
  const refused =
    (record.status.refusedTotal ?? 0) > before ? record.status.refusedAttempts.at(-1) : undefined;
  if (!refused) return { accepted: true, step: record.status.step };
  return { accepted: false, reason: refused.reason, detail: refused.detail, step: record.status.step };
}
