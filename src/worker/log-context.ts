import { defaultPayloadConverter } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { z } from 'zod';
import { RUN_LOG_CONTEXT_HEADER, type RunLogContext } from '../common/log-context';

/** The header as the workflow interceptor writes it; anything else is left out of the log. */
const runLogContextSchema = z.object({
  runbook: z.string().max(100),
  incidentId: z.string().max(200),
  step: z.string().max(100),
});

/**
 * Adds the scheduling run's runbook, incident and step (its header, src/common/log-context.ts) to
 * each of the activity's log lines, ours and the SDK's ("Activity completed", "Activity failed"),
 * and names its run id `runId` as the workflow's lines do (the SDK says `workflowRunId`). An
 * activity scheduled by a run of an older build has no header; its lines are as before.
 */
export const runLogContextInterceptor: ActivityInterceptorsFactory = () => {
  let context: RunLogContext | undefined;
  return {
    inbound: {
      execute: (input, next) => {
        const header = input.headers[RUN_LOG_CONTEXT_HEADER];
        if (header) {
          try {
            const parsed = runLogContextSchema.safeParse(defaultPayloadConverter.fromPayload(header));
            if (parsed.success) context = parsed.data;
          } catch {
            // Not JSON: a header someone else wrote; the lines go without it.
          }
        }
        return next(input);
      },
    },
    outbound: {
      getLogAttributes: (attributes, next) =>
        next({
          ...attributes,
          ...(typeof attributes.workflowRunId === 'string' ? { runId: attributes.workflowRunId } : {}),
          ...context,
        }),
    },
  };
};
