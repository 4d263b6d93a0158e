import {
  defaultPayloadConverter,
  type Payload,
  type PayloadConverter,
  type SerializationContext,
} from '@temporalio/common';
import { unsealedActivityPayload } from '../common/unsealed-payload';
import { unsealedResultHandler } from '../common/unsealed-result-handler';

/**
 * The SDK's JSON payload converter, except for an activity payload the codec handed on as not
 * sealed (src/common/unsealed-payload.ts): in workflow code, the run's handler decides what the
 * activity's promise receives (src/workflows/interceptors.ts). It answers while the SDK applies
 * the activity's resolution, so every other result reaches the workflow at the same moment as
 * before (a `.then()` on each activity's promise would have moved every activity's continuation
 * after a timer's fired in the same activation: another command order for histories recorded
 * earlier). Loaded by path (`payloadConverterPath`): the workflow sandbox needs its own copy.
 * Outside workflow code (an activity's input, on the worker) no handler is set and the value is
 * passed on as it came, for the activity interceptor to refuse.
 */
class RunbookPayloadConverter implements PayloadConverter {
  toPayload<T>(value: T, context?: SerializationContext): Payload {
    return defaultPayloadConverter.toPayload(value, context);
  }

  fromPayload<T>(payload: Payload, context?: SerializationContext): T {
    const value = defaultPayloadConverter.fromPayload<T>(payload, context);
    // Every payload passes here: the common case returns after one property read.
    const unsealed = unsealedActivityPayload(value);
    if (!unsealed || context?.type !== 'activity') return value;
    const handle = unsealedResultHandler();
    return handle ? (handle(unsealed, context) as T) : value;
  }
}

export const payloadConverter = new RunbookPayloadConverter();
