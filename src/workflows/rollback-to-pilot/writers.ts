import { proxyActivities, sleep } from '@temporalio/workflow';
import type { RunbookActivities, WriterFreezeState } from '../../activities';
import { formatDuration } from '../../common/duration';
import { kubectlMutation, kubectlRead } from '../activity-options';
import { StepFailed } from '../shared/fail-safe';
import { isPatched, PATCHES } from '../shared/patches';
import type { RollbackEnd } from './decision-gate';
import { runStep } from './guard';
import type { RollbackRun } from './run';

const { freezeWriters, unfreezeWriters } = proxyActivities<RunbookActivities>(kubectlMutation);
const k8s = proxyActivities<RunbookActivities>(kubectlRead);

/**
 * Seed 003's writer freeze around the rollback: "pause non-idempotent writers and queue consumers,
 * confirm fences are active" before anything is rolled back; "hold ten to fifteen minutes, confirm
 * targets are met, then unfreeze writers" after. Only when the policy names writers.
 */

/** Whether this run freezes writers: the policy names them, and the run's code knows how (patch). */
export function freezesWriters(run: RollbackRun): boolean {
  return run.policy.writerFreeze !== undefined && isPatched(PATCHES.rollbackWriterFreeze);
}

function described(state: WriterFreezeState): string {
  const writers = state.writers.map(
    (w) =>
      `${w.deployment} ${w.readyReplicas}/${w.replicas} ready${w.frozenFrom !== undefined ? ` (was ${w.frozenFrom})` : ''}`,
  );
  return `${writers.join(', ')}; fence ${state.fence ?? '(unset)'}`;
}

/** Before the first rollback mutation: frozen and confirmed, or a step failure (no skip: two writers during the flip). */
export function freezeWritersFirst(run: RollbackRun): Promise<RollbackEnd | undefined> {
  const freeze = run.policy.writerFreeze!;
  return runStep(run, 'freeze_writers', async () => {
    run.record.enterStep(
      'freeze_writers',
      `seed 003: scaling ${freeze.writers.join(', ')} to zero; fence ${freeze.fence.configMap}/${freeze.fence.key}=${freeze.fence.frozen}`,
    );
    const state = await freezeWriters();
    run.detail.writers = { frozen: state };
    run.evidence('freeze_writers', state.confirmed, state);
    if (!state.confirmed) throw new StepFailed(`the writers are not confirmed frozen: ${described(state)}`);
  });
}

/** After the rollback: green held for the policy's 10–15 min, then the writers back as they were. */
export async function holdGreenThenUnfreeze(run: RollbackRun): Promise<RollbackEnd | undefined> {
  const freeze = run.policy.writerFreeze!;
  const baseline = run.snapshot.orchestrator.pilotReplicas;
  run.record.enterStep(
    'hold_green',
    `seed 003: holding ${formatDuration(freeze.holdGreen)} of green before the writers are unfrozen`,
  );
  await sleep(freeze.holdGreen);
  const held = await runStep(run, 'hold_green', async () => {
    const [pods, health] = [await k8s.deploymentPods(), await k8s.healthChecks()];
    const green = pods.ready === baseline && !pods.crashLoop && health.ok;
    run.evidence('hold_green', green, { pods, health });
    if (!green)
      throw new StepFailed(
        `not green after ${formatDuration(freeze.holdGreen)} (${pods.ready}/${baseline} pods ready${health.ok ? '' : ', health endpoints failing'}): the writers stay frozen`,
      );
  });
  if (held) return held;
  return runStep(run, 'unfreeze_writers', async () => {
    run.record.enterStep(
      'unfreeze_writers',
      `fence ${freeze.fence.key}=${freeze.fence.open}; ${freeze.writers.join(', ')} back to their replicas`,
    );
    const state = await unfreezeWriters();
    run.detail.writers = { ...run.detail.writers, unfrozen: state };
    run.evidence('unfreeze_writers', state.confirmed, state);
    if (!state.confirmed) throw new StepFailed(`the writers are not confirmed unfrozen: ${described(state)}`);
  });
}
