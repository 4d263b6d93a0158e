import {
  defineQuery,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { RunbookStepKey } from '../../src/common/search-attributes';

/**
 * The yardstick for `npm run bench -- sleepers`: a workflow of the backstop's outward shape (an
 * input, a status query, the step search attribute, one long timer) and nothing else. What our programme costs beyond it is
 * what our own code costs.
 */
export const minimalStatusQuery = defineQuery<{ storyId: string; step: string }>('status');

export async function minimalSleeper(input: { storyId: string; untilMs: number }): Promise<string> {
  let step = 'waiting_T+30';
  setHandler(minimalStatusQuery, () => ({ storyId: input.storyId, step }));
  upsertSearchAttributes([{ key: RunbookStepKey, value: step }]);
  await sleep(Math.max(1, input.untilMs - Date.now()));
  step = 'done';
  return workflowInfo().workflowId;
}

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10s' });

/** The yardstick for `npm run bench -- overhead`: `count` no-op activities, one after another. */
export async function noopActivities(count: number): Promise<string> {
  for (let i = 0; i < count; i++) await noop();
  return workflowInfo().workflowId;
}
