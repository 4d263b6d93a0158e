import { proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { kubectlMutation, kubectlRead } from '../activity-options';
import type { RollbackRun } from './run';
import { validRepos } from './steps';

const k8s = proxyActivities<RunbookActivities>(kubectlRead);
const mutate = proxyActivities<RunbookActivities>(kubectlMutation);

/** Plan mode: read everything, server-side dry-run every mutation, change nothing. */
export async function planRollback(run: RollbackRun): Promise<unknown> {
  const { snapshot, policy } = run;
  const pilot = snapshot.orchestrator.pilotRepo;
  run.record.enterStep(
    'plan',
    'dry run: reading the cluster and validating every change with --dry-run=server',
  );
  const [allowlist, replicas, schema, expanded] = [
    await k8s.readAllowlist(),
    await k8s.getReplicas(),
    await k8s.readSchemaVersion(),
    await k8s.readExpandedRepos(),
  ];
  const validExpanded = validRepos(run, expanded);
  return {
    allowlist: {
      current: allowlist,
      next: [pilot],
      dryRun: await mutate.setAllowlist({ repos: [pilot], dryRun: true }),
    },
    replicas: {
      current: replicas,
      next: Math.min(replicas, snapshot.orchestrator.pilotReplicas),
      dryRun:
        replicas > snapshot.orchestrator.pilotReplicas
          ? await mutate.scaleDeployment({ replicas: snapshot.orchestrator.pilotReplicas, dryRun: true })
          : null,
    },
    schema: { current: schema, revert: await mutate.revertSchema({ dryRun: true }) },
    alerts: await Promise.all(validExpanded.map((repo) => mutate.disableAlertRule({ repo, dryRun: true }))),
    pilotVerification: policy.pilotVerification.command,
  };
}
