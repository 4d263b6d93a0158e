import { proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { kubectlMutation, kubectlRead } from '../activity-options';
import type { StepOutcome } from '../shared/fail-safe';
import { isPatched, PATCHES } from '../shared/patches';
import type { ReenablementRun } from './run';

const k8s = proxyActivities<RunbookActivities>(kubectlRead);
const mutate = proxyActivities<RunbookActivities>(kubectlMutation);

/**
 * The re-enablement's moves on the cluster, under the fail-safe discipline: its safe state is the
 * last good set (seed 002: "roll back to the last good set"). Every move is check-then-act, so a
 * retry after a success changes nothing.
 */

/** The run's first look at the cluster: the allowlist as it is, before anything changes (a read; no safe state). */
export function readCurrentAllowlist(run: ReenablementRun): Promise<StepOutcome<string[]>> {
  return run.failSafe.step(
    { name: 'read_allowlist', what: 'read the current allowlist', owners: run.policy.approvers },
    () => k8s.readAllowlist(),
  );
}

/** Sets the allowlist and waits for the rollout; false when the rollout does not complete. */
async function setAndRollOut(run: ReenablementRun, repos: string[]): Promise<boolean> {
  await mutate.setAllowlist({ repos });
  const now = await k8s.readAllowlist();
  const rollout = await mutate.rolloutStatus({ timeoutMs: run.policy.rolloutTimeout });
  run.detail.reposLive = now;
  return now.join(',') === repos.join(',') && rollout.ok;
}

/** The safe state: the allowlist back to `target` (the rollout is awaited but does not decide). */
async function putBack(run: ReenablementRun, target: string[]): Promise<string> {
  await mutate.setAllowlist({ repos: target });
  await mutate.rolloutStatus({ timeoutMs: run.policy.rolloutTimeout }).catch(() => undefined);
  run.detail.reposLive = await k8s.readAllowlist();
  return `allowlist is ${run.detail.reposLive.join(',')}`;
}

function safeStateFor(run: ReenablementRun) {
  const target = run.goodSets.at(-1)!;
  return {
    what: `put the allowlist back to the last good set ${target.join(',')}`,
    run: () => putBack(run, target),
  };
}

/** Applies `repos` (a phase's set); a failure for good puts the last good set back and waits for a human. */
export function apply(run: ReenablementRun, label: string, repos: string[]): Promise<StepOutcome<boolean>> {
  return run.failSafe.step(
    {
      name: label,
      what: `set the allowlist to ${repos.join(',')}`,
      owners: run.policy.approvers,
      safeState: safeStateFor(run),
    },
    () => setAndRollOut(run, repos),
  );
}

/**
 * Back to the last good set, at once, and tell people. If even that fails, the fail-safe pages
 * CRITICAL and keeps trying (with backoff) until it works or a human decides.
 */
export async function rollBack(run: ReenablementRun, why: string): Promise<StepOutcome<unknown>> {
  const target = run.goodSets.at(-1)!;
  const removed = run.detail.reposLive.filter((repo) => !target.includes(repo));
  run.record.enterStep('roll_back', `analysis failed: allowlist back to ${target.join(',')}`);
  const outcome = await run.failSafe.step(
    {
      name: 'roll_back',
      what: `put the allowlist back to ${target.join(',')}`,
      owners: run.policy.approvers,
      safeState: safeStateFor(run),
    },
    () => putBack(run, target),
  );
  if (outcome.kind !== 'done') return outcome;
  run.detail.lastGood = target;
  run.notices.send({
    kind: 'reenablement_rolled_back',
    severity: 'critical',
    audience: 'incident_commander',
    recipients: [run.requestedBy],
    page: { action: 'trigger', dedupKey: `${run.record.status.workflowId}/rolled-back` },
    subject: `${run.tag} re-enablement rolled back to ${target.join(',')}`,
    body: why,
  });
  if (isPatched(PATCHES.alertRulesFollowRepos)) await setAlerts(run, removed, false);
  return outcome;
}

/**
 * Seed 002: the rollback silenced the expanded repos' alerts; they come back with their repo
 * (enabled and verified when it goes live, disabled again when it is rolled back).
 */
export async function setAlerts(
  run: ReenablementRun,
  repos: string[],
  enabled: boolean,
): Promise<{ aborted?: { by: string; reason?: string } }> {
  if (repos.length === 0) return {};
  const verb = enabled ? 'enable' : 'disable';
  const outcome = await run.failSafe.step(
    {
      name: `${verb}_alert_rules`,
      what: `${verb} the alert rules of ${repos.join(', ')}`,
      owners: run.policy.approvers,
      skip: `leave those alert rules as they are (${verb} them by hand)`,
    },
    async () => {
      const results = [];
      for (const repo of repos)
        results.push({
          repo,
          ...(await (enabled ? mutate.enableAlertRule({ repo }) : mutate.disableAlertRule({ repo }))),
        });
      return results;
    },
  );
  if (outcome.kind !== 'done') {
    run.record.flag(
      `alert_rules_not_${verb}d`,
      `${verb} the alert rules of ${repos.join(', ')} by hand (${outcome.kind} by ${outcome.by})`,
    );
    return outcome.kind === 'aborted'
      ? { aborted: { by: outcome.by, ...(outcome.reason ? { reason: outcome.reason } : {}) } }
      : {};
  }
  const wrong = outcome.value.filter((r) => !r.missing && r.after !== enabled).map((r) => r.repo);
  const missing = outcome.value.filter((r) => r.missing).map((r) => r.repo);
  run.detail.alertRules = {
    ...run.detail.alertRules,
    ...Object.fromEntries(
      outcome.value.map((r) => [r.repo, r.missing ? 'missing' : r.after === true ? 'enabled' : 'disabled']),
    ),
  };
  if (wrong.length)
    run.record.flag(`alert_rules_not_${verb}d`, `after the change, still not ${verb}d: ${wrong.join(', ')}`);
  if (missing.length) run.record.event('alert_rules_missing', `no PrometheusRule for: ${missing.join(', ')}`);
  return {};
}
