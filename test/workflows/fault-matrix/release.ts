import { releaseRollback } from '../../../src/workflows';
import { type ReleaseRollbackMechanism } from '../../../src/workflows/release-rollback/definitions';
import { IC, type Scenario } from '../../fixtures/fault-matrix';
import { FakeCluster } from '../../fixtures/kubectl';
import { deployImage, releaseCluster, releaseOnGitHub, releaseShas } from '../../fixtures/release';
import type { MatrixWorld } from './world';

/**
 * Seed 001 §5's release rollback. `helm_pin_then_merge_revert`: the pin to the merge's parent,
 * verified; a fault there falls back to the merge revert (paged), which the driver merges and
 * deploys. `merge_revert`: the revert PR, its merge and the deployment read until the old code runs.
 * Either way the world ends with the old code running, which is what is compared across runs.
 */

const MINUTE = 60_000;

export function releaseRollbackScenario(world: MatrixWorld, mechanism: ReleaseRollbackMechanism): Scenario {
  let cluster: FakeCluster | undefined;
  let shas = releaseShas(0);
  let seed = mechanism === 'merge_revert' ? 5_000 : 1_000;
  const revertPull = () => world.sinks.gitHub.pulls.find((pull) => pull.reverts !== undefined);
  return {
    runbook: 'releaseRollback',
    reset() {
      world.sinks.reset();
      seed += 1;
      shas = releaseShas(seed);
      cluster = FakeCluster.create(world.tmp, releaseCluster(shas));
      cluster.install();
      releaseOnGitHub(world.sinks.gitHub, shas);
      return Promise.resolve();
    },
    start(taskQueue, runId) {
      return world.suite.env.client.workflow.start(releaseRollback, {
        taskQueue,
        workflowId: `release-rollback-${runId}`,
        args: [
          {
            storyId: 'CVN-N001-EE-S17',
            mergeSha: shas.merge,
            requestedBy: IC,
            reason: 'fault matrix',
            incidentId: runId,
            mechanism,
          },
        ],
      });
    },
    // CI merges the revert PR and deploys it, once the run waits for that.
    drive(_handle, status) {
      const pull = revertPull();
      if (status.step !== 'awaiting_revert' || !pull || pull.mergedAt) return Promise.resolve(false);
      world.sinks.gitHub.mergePull(pull.number, shas.revert);
      cluster!.update((state) => deployImage(state, shas.revert));
      return Promise.resolve(true);
    },
    tick: () => MINUTE,
    // A rollback's failures leave the release as it was or rolled back; nothing to undo.
    unsafe: () => Promise.resolve(undefined),
    mutations() {
      const image = cluster!.read().namespaces.cvntrade!.deployments!.scheduler!.image ?? '';
      const tag = image.slice(image.lastIndexOf(':') + 1);
      return Promise.resolve([tag === shas.merge ? 'runs the merge' : 'runs the old code']);
    },
    success: mechanism === 'merge_revert' ? 'reverted_by_merge' : 'pinned',
  };
}
