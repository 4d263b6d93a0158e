import { proxyActivities, sleep } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { formatDuration, utcIso } from '../../common/duration';
import { kubernetesName } from '../../common/names';
import { kubectlMutation, kubectlRead, longRunning, notification } from '../activity-options';
import { describeFailure } from '../shared/notices';
import type { Decision } from './decision';
import type { RollbackEnd } from './decision-gate';
import { DowntimeClock } from './downtime';
import type { RollbackRun } from './run';

const k8s = proxyActivities<RunbookActivities>(kubectlRead);
type Activity<K extends keyof RunbookActivities> = Awaited<ReturnType<RunbookActivities[K]>>;
const mutate = proxyActivities<RunbookActivities>(kubectlMutation);
const { backupDatabase, runPilotVerification } = proxyActivities<RunbookActivities>(longRunning);
const { updateStatusPage } = proxyActivities<RunbookActivities>(notification);

/** The seed's RB-LAUNCH-002 steps, each recorded with its evidence; a failure branch ends the run. */

/** Pre-rollback 1–2: the logs and failures by repo, then the stakeholders are told and paged. */
export async function confirmIncident(run: RollbackRun, decision: Decision): Promise<void> {
  const { record, input, notices, policy, ic, tag } = run;
  const pilot = run.snapshot.orchestrator.pilotRepo;
  record.enterStep('confirm_incident', 'reading the logs and failures by repo');
  const logs = await k8s.readDeploymentLogs();
  const massFailure = decision.failingRepos.length >= policy.decision.confirmationMinRepos;
  run.evidence('confirm_incident', massFailure || decision.level === 'P1', {
    logs,
    failingRepos: decision.failingRepos,
    failureRate: decision.failureRate,
  });
  if (!massFailure) {
    record.flag(
      'incident_not_confirmed_by_metrics',
      `fewer than ${policy.decision.confirmationMinRepos} repos failing (${decision.failingRepos.length}); rolling back on the ${decision.level} conditions: ${decision.reasons.join('; ')}`,
    );
  }
  const affected = affectedRepos(run);
  notices.send({
    kind: 'rollback_started',
    severity: 'critical',
    audience: 'incident_commander',
    recipients: [ic],
    subject: `${tag} rollback to pilot scope started`,
    body: `${decision.level} INCIDENT: initiating rollback to pilot scope (${pilot}). Reason: ${input.reason}. ETA: 10 minutes. Affected repos: ${affected.join(', ') || 'n/a'}. Incident Commander: ${ic}`,
  });
  notices.send({
    kind: 'rollback_page',
    severity: 'critical',
    audience: 'escalation',
    recipients: [ic],
    page: { action: 'trigger', dedupKey: `${record.status.workflowId}/rollback` },
    subject: `${tag} Multi-LLM Orchestrator rollback`,
    body: `Reason: ${input.reason}`,
  });
}

export function affectedRepos(run: RollbackRun): string[] {
  return run.input.affectedRepos.length > 0
    ? run.input.affectedRepos
    : (run.detail.decision?.failingRepos ?? []);
}

/** Pre-rollback 3: manifests now; pg_dump in the background (it never holds up the rollback). */
export async function startBackups(run: RollbackRun): Promise<{ databaseBackup: Promise<void> }> {
  const { record, detail } = run;
  record.enterStep('backup', 'saving the deployment and configmap YAML; starting pg_dump in the background');
  const backupKey = `${run.input.incidentId}-${utcIso(run.startedMs).replace(/[:.]/g, '')}`;
  detail.backups = { manifests: await k8s.backupManifests({ backupKey }), database: { state: 'running' } };
  const backups = detail.backups;
  const databaseBackup = backupDatabase({ backupKey }).then(
    (backup) => {
      backups.database = { state: 'done', path: backup.path, sha256: backup.sha256 };
    },
    (error: unknown) => {
      backups.database = { state: 'failed', error: describeFailure(error) };
      record.flag('backup_failed', `the TaskDB backup failed: ${backups.database.error}`);
    },
  );
  run.notices.track(databaseBackup);
  // Wrapped: an awaited promise of a promise would wait for the dump itself.
  return { databaseBackup };
}

/** Step 1: the allowlist → the pilot repo, verified, and the rollout. Stuck → Engineering TL. */
export async function restrictAllowlist(run: RollbackRun): Promise<RollbackEnd | undefined> {
  const { record, policy, ic } = run;
  const pilot = run.snapshot.orchestrator.pilotRepo;
  record.enterStep('restrict_allowlist', `step 1: allowlist → ${pilot}`);
  const allowlist = await mutate.setAllowlist({ repos: [pilot] });
  const allowlistNow = await k8s.readAllowlist();
  run.evidence('restrict_allowlist', allowlistNow.join(',') === pilot, {
    ...allowlist,
    verified: allowlistNow,
  });
  const rollout = await mutate.rolloutStatus({ timeoutMs: policy.rolloutTimeout });
  run.evidence('rollout_status', rollout.ok, rollout);
  if (allowlistNow.join(',') === pilot && rollout.ok) return undefined;
  const why =
    allowlistNow.join(',') !== pilot
      ? `allowlist is ${allowlistNow.join(',')} after the change`
      : `rollout status: ${rollout.output}`;
  run.escalate('rollback_rollout_stuck', 'rollout did not complete: escalate to Engineering TL', why, [
    policy.escalation.engineeringTl,
    ic,
  ]);
  return {
    outcome: 'escalated_rollout',
    message: `step 1 failed (${why}); escalated to ${policy.escalation.engineeringTl}`,
  };
}

/** Step 2: scale to the pilot baseline if above it; a crash loop → rollout restart. */
export async function scaleDown(run: RollbackRun): Promise<RollbackEnd | undefined> {
  const { record, policy, ic } = run;
  const baseline = run.snapshot.orchestrator.pilotReplicas;
  record.enterStep(
    'scale_down',
    `step 2: scale to the pilot baseline (${baseline}) if above; restart on crash loop`,
  );
  const replicas = await k8s.getReplicas();
  if (replicas > baseline) {
    const scaled = await mutate.scaleDeployment({ replicas: baseline });
    const status = await mutate.rolloutStatus({ timeoutMs: policy.scaleTimeout });
    run.evidence('scale_down', status.ok, { scaled, status });
    if (!status.ok) {
      run.escalate(
        'rollback_rollout_stuck',
        'scale-down did not complete: escalate to Engineering TL',
        status.output,
        [policy.escalation.engineeringTl, ic],
      );
      return {
        outcome: 'escalated_rollout',
        message: `step 2 scale-down did not complete; escalated to ${policy.escalation.engineeringTl}`,
      };
    }
  } else {
    run.evidence('scale_down', true, {
      replicas,
      skipped: `replicas ${replicas} ≤ pilot baseline ${baseline}`,
    });
  }
  const pods = await k8s.deploymentPods();
  if (!pods.crashLoop) return undefined;
  const restarted = await mutate.restartDeployment({ restartedAt: utcIso(Date.now()) });
  const status = await mutate.rolloutStatus({ timeoutMs: policy.scaleTimeout });
  run.evidence('restart_crash_loop', status.ok, { crashLooping: pods.crashLooping, restarted, status });
  if (status.ok) return undefined;
  run.escalate(
    'rollback_restart_failed',
    'restart failed: escalate to Engineering TL immediately',
    status.output,
    [policy.escalation.engineeringTl, ic],
  );
  return {
    outcome: 'escalated_rollout',
    message: `crash-loop restart failed; escalated to ${policy.escalation.engineeringTl}`,
  };
}

/** Step 3: the schema back to the pilot's version if newer; failure → the restore path and the DBA. */
export async function revertSchema(run: RollbackRun): Promise<RollbackEnd | undefined> {
  const { record, policy, ic, detail } = run;
  record.enterStep('revert_schema', `step 3: schema back to ${policy.postgres.pilotSchemaVersion} if newer`);
  const schema = await mutate.revertSchema({});
  run.evidence('revert_schema', schema.ok, schema);
  if (schema.ok) return undefined;
  const backup = detail.backups?.database;
  const restore =
    backup?.state === 'done'
      ? `restore from ${backup.path} (sha256 ${backup.sha256})`
      : `restore from the backup (pg_dump ${backup?.state ?? 'unknown'}${backup?.path ? `: ${backup.path}` : ''})`;
  run.escalate(
    'rollback_schema_failed',
    'schema rollback FAILED: restore from backup, escalate to the DBA',
    `${schema.error}\nRestore path: ${restore}. Estimated recovery 15–30 min.`,
    [policy.escalation.dba, ic],
  );
  return {
    outcome: 'escalated_schema',
    message: `schema rollback failed (${schema.error}); ${restore}; escalated to ${policy.escalation.dba}`,
  };
}

/** Step 4: each expanded repo's alert rule disabled (verified). */
export async function silenceAlerts(run: RollbackRun): Promise<void> {
  const { record } = run;
  const pilot = run.snapshot.orchestrator.pilotRepo;
  record.enterStep('silence_alerts', "step 4: disabling the expanded repos' alerts");
  const expanded = validRepos(run, await k8s.readExpandedRepos()).filter((repo) => repo !== pilot);
  const silenced = [];
  for (const repo of expanded) silenced.push({ repo, ...(await mutate.disableAlertRule({ repo })) });
  const stillEnabled = silenced.filter((s) => s.after === true).map((s) => s.repo);
  run.evidence('silence_alerts', stillEnabled.length === 0, silenced);
  if (stillEnabled.length)
    record.flag('alerts_not_silenced', `alerts still enabled for: ${stillEnabled.join(', ')}`);
  const missingRules = silenced.filter((s) => s.missing).map((s) => s.repo);
  if (missingRules.length)
    record.event('alert_rules_missing', `no PrometheusRule for: ${missingRules.join(', ')}`);
}

/**
 * The configmap is input from outside: a name that is not a Kubernetes name is reported to the IC
 * and never reaches kubectl; the valid ones are worked on.
 */
export function validRepos(run: RollbackRun, repos: string[]): string[] {
  const invalid = repos.filter((repo) => !kubernetesName.safeParse(repo).success);
  if (invalid.length) {
    const shown = invalid.map((repo) => JSON.stringify(repo.slice(0, 80))).join(', ');
    run.record.flag(
      'invalid_repo_names',
      `the configmap lists repos that are not valid Kubernetes names, left out: ${shown}`,
    );
    run.notices.send({
      kind: 'rollback_invalid_repos',
      severity: 'warning',
      audience: 'incident_commander',
      recipients: [run.ic],
      subject: `${run.tag} configmap lists invalid repo names; their alerts were not touched`,
      body: shown,
    });
  }
  return repos.filter((repo) => kubernetesName.safeParse(repo).success);
}

/** Step 5: the configured test flow on the pilot repo; failure → "CRITICAL: rollback failed". */
export async function verifyPilot(run: RollbackRun): Promise<RollbackEnd | undefined> {
  const { record, policy, ic } = run;
  record.enterStep('verify_pilot', `step 5: the test flow on ${run.snapshot.orchestrator.pilotRepo}`);
  const verification = await runPilotVerification();
  run.evidence('verify_pilot', verification.ok, verification);
  if (verification.ok) return undefined;
  run.escalate(
    'rollback_failed',
    'CRITICAL: rollback failed — pilot repo not operational',
    `${verification.reasons.join('; ')}\n${verification.outputTail}\nConsider an emergency restore from full backup (30–60 min).`,
    [policy.escalation.engineeringTl, ic],
  );
  return {
    outcome: 'rollback_failed',
    message: `CRITICAL: rollback failed: the pilot test flow did not pass (${verification.reasons.join('; ')})`,
  };
}

/**
 * Step 6: pods and health endpoints; degraded health is flagged to the IC, not a failure. While
 * the endpoints are down (runs that measure downtime) they are checked again every 15 s until
 * healthy or the downtime target has passed.
 */
export async function checkHealth(run: RollbackRun, downtime: DowntimeClock): Promise<void> {
  const { record, policy } = run;
  const baseline = run.snapshot.orchestrator.pilotReplicas;
  record.enterStep('health_checks', 'step 6: pods and health endpoints');
  let checks = 0;
  for (;;) {
    const [podsAfter, health] = [await k8s.deploymentPods(), await k8s.healthChecks()];
    checks += 1;
    if (downtime.measuring) downtime.note(health.ok, 'the rollback');
    if (!downtime.down || downtime.downForMs() >= policy.targets.downtime) {
      const healthy = podsAfter.ready === baseline && !podsAfter.crashLoop && health.ok;
      return reportHealth(run, healthy, { pods: podsAfter, health, ...(checks > 1 ? { checks } : {}) });
    }
    record.describe(
      `step 6: health endpoints failing for ${formatDuration(downtime.downForMs())}; checked again every ${formatDuration(DowntimeClock.POLL_MS)} (downtime target ${formatDuration(policy.targets.downtime)})`,
    );
    await sleep(DowntimeClock.POLL_MS);
  }
}

function reportHealth(
  run: RollbackRun,
  healthy: boolean,
  evidence: { pods: Activity<'deploymentPods'>; health: Activity<'healthChecks'>; checks?: number },
): void {
  const { record, notices, ic, tag } = run;
  const baseline = run.snapshot.orchestrator.pilotReplicas;
  const { pods: podsAfter, health } = evidence;
  run.evidence('health_checks', healthy, evidence);
  if (healthy) return;
  const failing =
    health.checks
      .filter((c) => !c.ok)
      .map((c) => `${c.name}: ${c.status}`)
      .join(', ') || 'endpoints ok';
  record.flag('health_degraded', `after the rollback: ${podsAfter.ready}/${baseline} pods ready; ${failing}`);
  notices.send({
    kind: 'rollback_health_degraded',
    severity: 'warning',
    audience: 'incident_commander',
    recipients: [ic],
    subject: `${tag} health checks not all green after the rollback`,
    body: record.status.flags.at(-1)!.message,
  });
}

/** Steps 7–8: completion notices and the status page. */
export async function announceComplete(run: RollbackRun): Promise<void> {
  const { record, notices, ic, tag, policy } = run;
  const pilot = run.snapshot.orchestrator.pilotRepo;
  record.enterStep('notify_complete', 'step 7: completion notices');
  notices.send({
    kind: 'rollback_complete',
    severity: 'info',
    audience: 'incident_commander',
    recipients: [ic],
    subject: `${tag} rollback to pilot scope COMPLETE`,
    body: `Status: pilot repo (${pilot}) operational. Affected repos: ${affectedRepos(run).join(', ') || 'n/a'} (temporarily disabled). Next: root cause analysis within ${formatDuration(policy.rcaDeadline)}. Incident Commander: ${ic}`,
  });
  if (!policy.statusPage) return;
  record.enterStep('status_page', 'step 8: status page');
  try {
    const status = await updateStatusPage({
      channel: policy.statusPage.channel,
      incidentKey: `${record.status.workflowId}/status-page`,
      action: 'create',
      name: `${policy.statusPage.service} rollback`,
      status: 'resolved',
      body: `Orchestrator rolled back to pilot scope. Pilot repo operational. Expanded repos temporarily disabled pending investigation.`,
    });
    run.evidence('status_page', true, status);
  } catch (error) {
    run.evidence('status_page', false, { error: describeFailure(error) });
    record.flag('status_page_failed', `status page not updated: ${describeFailure(error)}`);
  }
}
