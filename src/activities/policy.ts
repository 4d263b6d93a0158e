import type { Policy, RunbookName } from '../common/policy-schema';

/**
 * What a workflow reads from the worker's policy at its start. The snapshot lands in the run's
 * history, so the run keeps the rules it started with even if the worker's file changes later.
 */
export interface RunbookPolicySnapshot<K extends RunbookName> {
  story: string;
  seedingChangeReason: string;
  postMortemTarget: string;
  testOnlyShortDurations: boolean;
  runbook: Policy['runbooks'][K];
}

export function createPolicyActivities(deps: { policy: Policy }) {
  return {
    loadRunbookPolicy: <K extends RunbookName>(input: { runbook: K }): Promise<RunbookPolicySnapshot<K>> => {
      const { policy } = deps;
      return Promise.resolve({
        story: policy.story,
        seedingChangeReason: policy.seedingChangeReason,
        postMortemTarget: policy.postMortemTarget,
        testOnlyShortDurations: policy.testOnlyShortDurations,
        runbook: policy.runbooks[input.runbook],
      });
    },
  };
}
