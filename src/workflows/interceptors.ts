import {
  defaultPayloadConverter,
  type ActivityInput,
  type LocalActivityInput,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';
import { RUN_LOG_CONTEXT_HEADER } from '../common/log-context';
import { runLogContext } from './shared/log-context';

/**
 * The workflow interceptors of every bundle of our workflow code (src/worker/paths.ts): each
 * activity, local or not, carries the run's runbook, incident and step in a header, for the
 * activity's log lines. A header is not part of what a replay compares, so histories recorded
 * without it replay unchanged.
 */
function withRunLogContext<T extends ActivityInput | LocalActivityInput>(input: T): T {
  const context = runLogContext();
  if (!context) return input;
  return {
    ...input,
    headers: { ...input.headers, [RUN_LOG_CONTEXT_HEADER]: defaultPayloadConverter.toPayload(context) },
  };
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      scheduleActivity: (input, next) => next(withRunLogContext(input)),
      scheduleLocalActivity: (input, next) => next(withRunLogContext(input)),
    },
  ],
});
