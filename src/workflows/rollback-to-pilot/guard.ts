import type { GuardedStep } from '../shared/fail-safe';
import type { RollbackEnd } from './decision-gate';
import type { RollbackRun } from './run';

/**
 * The rollback's steps under the fail-safe discipline. The seed's safe state for a rollback that
 * cannot go on is "stop mutating and report": no step undoes another; the page says what was and
 * was not done, and who the seed names (Engineering TL; the DBA for the schema) decides.
 */
const STEPS = {
  decide: {
    what: 'read the incident metrics from Prometheus for the decision framework',
    owner: 'engineeringTl',
    skip: 'decide on the supplied facts alone',
  },
  plan: { what: 'compute the dry-run plan (reads and --dry-run=server)', owner: 'engineeringTl' },
  drill_log: {
    what: "write the drill log to the policy's drill folder",
    owner: 'engineeringTl',
    skip: 'end the drill without its log',
  },
  confirm_incident: {
    what: 'read the deployment logs (incident confirmation)',
    owner: 'engineeringTl',
    skip: 'roll back without the log evidence',
  },
  backup: {
    what: 'save the deployment and configmap YAML',
    owner: 'engineeringTl',
    skip: 'roll back without the YAML backup',
  },
  freeze_writers: {
    what: 'scale the non-idempotent writers to zero and set their fence (seed 003)',
    owner: 'engineeringTl',
  },
  restrict_allowlist: {
    what: 'set the allowlist to the pilot repo and wait for the rollout',
    owner: 'engineeringTl',
  },
  scale_down: {
    what: 'scale to the pilot baseline (restart on a crash loop)',
    owner: 'engineeringTl',
    skip: 'leave the replicas as they are',
  },
  revert_schema: { what: 'revert the TaskDB schema to the pilot version', owner: 'dba' },
  silence_alerts: {
    what: "disable the expanded repos' alert rules",
    owner: 'engineeringTl',
    skip: 'leave their alerts enabled',
  },
  verify_pilot: { what: 'run the pilot test flow', owner: 'engineeringTl' },
  health_checks: {
    what: 'check the pods and the health endpoints',
    owner: 'engineeringTl',
    skip: 'finish without the health checks',
  },
  hold_green: {
    what: 'hold green before the writers are unfrozen (seed 003)',
    owner: 'engineeringTl',
    skip: 'unfreeze the writers anyway',
  },
  unfreeze_writers: {
    what: 'unfreeze the writers (fence open, replicas restored)',
    owner: 'engineeringTl',
    skip: 'leave them frozen (unfreeze by hand)',
  },
} as const satisfies Record<string, { what: string; owner: 'engineeringTl' | 'dba'; skip?: string }>;

export type RollbackStep = keyof typeof STEPS;

function guardedStep(run: RollbackRun, name: RollbackStep): GuardedStep {
  const spec: { what: string; owner: 'engineeringTl' | 'dba'; skip?: string } = STEPS[name];
  return {
    name,
    what: spec.what,
    owners: [run.policy.escalation[spec.owner]],
    ...(spec.skip ? { skip: spec.skip } : {}),
  };
}

/**
 * Runs one step; a failure the outside world causes waits for a human. A skip is flagged and the
 * rollback goes on; an abort ends the run with what was and was not done.
 */
export async function runStep(
  run: RollbackRun,
  name: RollbackStep,
  work: () => Promise<RollbackEnd | undefined | void>,
): Promise<RollbackEnd | undefined> {
  const outcome = await run.failSafe.step(guardedStep(run, name), work);
  if (outcome.kind === 'done') return outcome.value ?? undefined;
  const reason = outcome.reason ? `: ${outcome.reason}` : '';
  if (outcome.kind === 'skipped') {
    run.evidence(name, false, {
      skipped: true,
      by: outcome.by,
      ...(outcome.reason ? { reason: outcome.reason } : {}),
    });
    run.record.flag(`${name}_skipped`, `${name} failed and was skipped by ${outcome.by}${reason}`);
    return undefined;
  }
  return {
    outcome: 'aborted',
    message: `aborted by ${outcome.by} when ${name} failed${reason}; ${run.account()}`,
  };
}
