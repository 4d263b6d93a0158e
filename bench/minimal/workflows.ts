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
  return sleepOnce(input, 'waiting_T+30');
}

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10s' });

/**
 * The second yardstick: the minimal sleeper with one no-op activity before its timer, the
 * programme's structure (a programme claims its story in one activity before it sleeps) without
 * any of its work: two workflow tasks and one activity to asleep instead of one task.
 */
export async function minimalActivitySleeper(input: { storyId: string; untilMs: number }): Promise<string> {
  return sleepOnce(input, 'opening', noop);
}

async function sleepOnce(
  input: { storyId: string; untilMs: number },
  firstStep: string,
  before?: () => Promise<void>,
): Promise<string> {
  let step = firstStep;
  setHandler(minimalStatusQuery, () => ({ storyId: input.storyId, step }));
  if (before) await before();
  step = 'waiting_T+30';
  upsertSearchAttributes([{ key: RunbookStepKey, value: step }]);
  await sleep(Math.max(1, input.untilMs - Date.now()));
  step = 'done';
  return workflowInfo().workflowId;
}

/** The yardstick for `npm run bench -- overhead`: `count` no-op activities, one after another. */
export async function noopActivities(count: number): Promise<string> {
  for (let i = 0; i < count; i++) await noop();
  return workflowInfo().workflowId;
}
