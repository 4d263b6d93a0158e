import {
  ApplicationFailure,
  DefaultFailureConverter,
  type PayloadConverter,
  type ProtoFailure,
  type SerializationContext,
} from '@temporalio/common';

/**
 * Failures of these types keep their message in clear: a refused decision's answer is written for
 * the approver in the Web UI's Update dialog (which does not decode failures) and holds only the
 * reason and hashes, never data. Same value as DECISION_REFUSED in workflows/shared/messages.ts.
 */
const MESSAGES_FOR_THE_UI = new Set(['DecisionRefused']);

/**
 * Failures with their message and stack trace sealed too (moved into an encoded payload the codec
 * encrypts): a failure can quote what failed. Loaded by path (`failureConverterPath`) because the
 * workflow sandbox needs its own copy; it imports nothing but the SDK's common package.
 */
class RunbookFailureConverter extends DefaultFailureConverter {
  private readonly inClear = new DefaultFailureConverter({ encodeCommonAttributes: false });

  constructor() {
    super({ encodeCommonAttributes: true });
  }

  override errorToFailure(
    err: unknown,
    payloadConverter: PayloadConverter,
    context?: SerializationContext,
  ): ProtoFailure {
    if (err instanceof ApplicationFailure && err.type && MESSAGES_FOR_THE_UI.has(err.type))
      return this.inClear.errorToFailure(err, payloadConverter, context);
    return super.errorToFailure(err, payloadConverter, context);
  }
}

export const failureConverter = new RunbookFailureConverter();
