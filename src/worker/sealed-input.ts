import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { RUNBOOK_METRICS } from '../common/metrics';
import { unsealedActivityPayload, whyNotTaken } from '../common/unsealed-payload';

/**
 * An activity whose input is not sealed under the payload keys fails for good before its code
 * runs: no runbooks worker scheduled it (each seals what it schedules), so it came from something
 * answering a workflow task without the keys, through Temporal's API (src/common/unsealed-payload.ts).
 * Nothing it would read or write happens; the run's failure path takes over.
 */
export const sealedInputInterceptor: ActivityInterceptorsFactory = (context) => ({
  inbound: {
    execute: (input, next) => {
      const unsealed = input.args.map(unsealedActivityPayload).find((arg) => arg !== undefined);
      if (unsealed) {
        const { name, help } = RUNBOOK_METRICS.unsealedActivityPayloads;
        context.metricMeter.createCounter(name, '', help).add(1, {
          // No workflow type: a standalone activity, which no runbook schedules.
          runbook: context.info.workflowType ?? '(none)',
          activity: context.info.activityType,
          payload: 'input',
        });
        throw ApplicationFailure.create({
          type: 'UnsealedActivityInput',
          nonRetryable: true,
          message: `the input of ${context.info.activityType} ${whyNotTaken(unsealed, 'scheduled')}: it is not run. Check who can call the namespace's API`,
        });
      }
      return next(input);
    },
  },
});
