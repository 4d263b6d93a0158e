import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { formatDuration, utcIso } from '../../common/duration';
import { normalizeHandle, sameHandle } from '../../common/identity';
import { describeIssuesInline } from '../../common/validation';
import {
  kubectlMutation,
  kubectlRead,
  longRunning,
  metricsQuery,
  notification,
  policyRead,
} from '../activity-options';
import { parseWorkflowInput } from '../shared/input';
import { statusQuery } from '../shared/messages';
import { describeFailure, Notices } from '../shared/notices';
import { RunRecord } from '../shared/run-record';
import { decide } from './decision';
import {
  confirmRollbackPayloadSchema,
  confirmRollbackSignal,
  rcaFiledPayloadSchema,
  rcaFiledSignal,
  ROLLBACK_TO_PILOT,
  rollbackToPilotInputSchema,
  type RollbackDetail,
  type RollbackOutcome,
  type RollbackResult,
  type RollbackToPilotInput,
} from './definitions';

const { loadRunbookPolicy } = proxyActivities<RunbookActivities>(policyRead);
const { incidentMetrics } = proxyActivities<RunbookActivities>(metricsQuery);
const k8s = proxyActivities<RunbookActivities>(kubectlRead);
const mutate = proxyActivities<RunbookActivities>(kubectlMutation);
const { backupDatabase, runPilotVerification } = proxyActivities<RunbookActivities>(longRunning);
const { updateStatusPage } = proxyActivities<RunbookActivities>(notification);

/**
 * RB-LAUNCH-002, rollback to pilot scope: decision framework → (P2: 30-min triage hold and the
 * IC's confirmation) → incident confirmation, stakeholder notices, backups (pg_dump in the
 * background) → steps 1–8 each verified → RCA within 24 h. Every failure branch of the seed is a
 * real branch: rollout stuck → Engineering TL; schema revert failed → restore path + DBA; pilot
 * verification failed → "CRITICAL: rollback failed" to TL and IC.
 */
export async function rollbackToPilot(rawInput: RollbackToPilotInput): Promise<RollbackResult> {
  const input = parseWorkflowInput(rollbackToPilotInputSchema, rawInput, 'rollbackToPilot input');
  const ic = `@${normalizeHandle(input.incidentCommander)}`;
  const record = new RunRecord<RollbackDetail>(ROLLBACK_TO_PILOT, input.incidentId, {
    incidentCommander: ic,
    severity: input.severity,
    reason: input.reason,
    affectedRepos: input.affectedRepos,
    dryRun: input.dryRun,
    evidence: [],
  });
  setHandler(statusQuery, () => record.status);
  const notices = new Notices(record);
  const detail = record.status.detail;
  const startedMs = Date.now();
  const tag = `[RB-LAUNCH-002 ${input.incidentId}]`;
  record.setMemoSummary(
    `Rollback to pilot scope, incident ${input.incidentId} (${input.severity}), IC ${ic}`,
  );

  let confirmers: string[] = [ic];
  let confirmation: { by: string; decision: 'go' | 'cancel'; atMs: number; note?: string } | undefined;
  setHandler(confirmRollbackSignal, (raw) => {
    const parsed = confirmRollbackPayloadSchema.safeParse(raw);
    if (!parsed.success) {
      record.refused({
        signal: 'confirmRollback',
        reason: 'invalid_payload',
        detail: describeIssuesInline(parsed.error, 'confirmRollback payload'),
      });
      return;
    }
    const by = `@${normalizeHandle(parsed.data.by)}`;
    if (!confirmers.some((who) => sameHandle(who, by))) {
      record.refused({
        signal: 'confirmRollback',
        by,
        reason: 'not_authorized',
        detail: `only the incident commander (${ic}) or ${confirmers.slice(1).join(', ') || 'no one else'} can confirm`,
      });
      return;
    }
    if (confirmation) {
      record.refused({
        signal: 'confirmRollback',
        by,
        reason: 'already_decided',
        detail: `already ${confirmation.decision} by ${confirmation.by}`,
      });
      return;
    }
    confirmation = {
      by,
      decision: parsed.data.decision,
      atMs: Date.now(),
      ...(parsed.data.note ? { note: parsed.data.note } : {}),
    };
    detail.confirmation = {
      by,
      decision: parsed.data.decision,
      at: utcIso(Date.now()),
      ...(parsed.data.note ? { note: parsed.data.note } : {}),
    };
    record.event('confirmation', `rollback ${parsed.data.decision} by ${by}`, by);
  });
  setHandler(rcaFiledSignal, (raw) => {
    const parsed = rcaFiledPayloadSchema.safeParse(raw);
    if (!parsed.success) {
      record.refused({
        signal: 'rcaFiled',
        reason: 'invalid_payload',
        detail: describeIssuesInline(parsed.error, 'rcaFiled payload'),
      });
      return;
    }
    const by = `@${normalizeHandle(parsed.data.by)}`;
    if (!detail.rca || detail.rca.state !== 'awaiting') {
      record.refused({
        signal: 'rcaFiled',
        by,
        reason: detail.rca ? 'already_decided' : 'gate_not_open',
        detail: detail.rca ? `RCA already ${detail.rca.state}` : 'the rollback has not completed yet',
      });
      return;
    }
    detail.rca = { ...detail.rca, state: 'filed', by, link: parsed.data.link, filedAt: utcIso(Date.now()) };
    record.event('rca_filed', `RCA filed: ${parsed.data.link}`, by);
  });

  const finish = async (outcome: RollbackOutcome, message: string): Promise<RollbackResult> => {
    record.finish(outcome, message);
    await notices.settle();
    return {
      runbook: ROLLBACK_TO_PILOT,
      outcome,
      message,
      incidentId: input.incidentId,
      workflowId: record.status.workflowId,
      ...(detail.decision ? { decision: detail.decision } : {}),
      evidence: detail.evidence,
      ...(detail.backups ? { backups: detail.backups } : {}),
      ...(detail.plan ? { plan: detail.plan } : {}),
      ...(detail.targets ? { targets: detail.targets } : {}),
      ...(detail.rca ? { rca: detail.rca } : {}),
      steps: record.stepDurations(),
      deadlines: record.status.deadlines,
      refusedAttempts: record.status.refusedAttempts,
      nonConformities: record.status.nonConformities,
      flags: record.status.flags,
      notices: record.status.notices,
    };
  };
  const evidence = (step: string, ok: boolean, data: unknown): void => {
    detail.evidence.push({ step, ok, detail: data });
  };

  record.enterStep('load_policy', 'reading the worker policy');
  const snapshot = await loadRunbookPolicy({ runbook: 'rollbackToPilot' });
  notices.configure(snapshot.notifications);
  const policy = snapshot.runbook;
  const pilot = snapshot.orchestrator.pilotRepo;
  confirmers = [ic, ...policy.confirmers];
  const page = (topic: string) => ({
    action: 'trigger' as const,
    dedupKey: `${record.status.workflowId}/${topic}`,
  });
  const escalate = (kind: string, subject: string, body: string, to: string[]): void => {
    notices.send({
      kind,
      severity: 'critical',
      audience: 'escalation',
      recipients: to,
      page: page(kind),
      subject: `${tag} ${subject}`,
      body,
    });
  };

  // 1. Decision framework: facts + metrics.
  record.enterStep('decide', 'evaluating the decision framework (P1 / P2 / NO-GO)');
  let metrics;
  try {
    metrics = await incidentMetrics({ window: '30m' });
  } catch (error) {
    record.event(
      'metrics_unavailable',
      `Prometheus could not be queried: ${describeFailure(error)}; deciding on the supplied facts`,
    );
  }
  const decision = decide({
    severity: input.severity,
    facts: input.facts,
    ...(metrics ? { metrics } : {}),
    thresholds: policy.decision,
  });
  detail.decision = decision;
  record.noteStep(
    `${decision.verdict}${decision.level ? ` (${decision.level})` : ''}: ${decision.reasons.join('; ')}`,
  );
  if (decision.verdict === 'no_go') {
    const message = `NO-GO: ${decision.reasons.join('; ')} — ${decision.alternative ?? ''}`;
    notices.send({
      kind: 'rollback_no_go',
      severity: 'info',
      audience: 'incident_commander',
      recipients: [ic],
      subject: `${tag} no rollback: ${decision.reasons[0]}`,
      body: message,
    });
    return finish('no_go', message);
  }
  if (decision.verdict === 'triage') {
    const holdEndMs = Date.now() + policy.triageHold;
    record.setDeadline('triage_hold', holdEndMs);
    record.enterStep(
      'triage_hold',
      `P2: ${formatDuration(policy.triageHold)} triage hold until ${utcIso(holdEndMs)}, then ${ic} confirms (signal "confirmRollback")`,
    );
    notices.send({
      kind: 'rollback_triage',
      severity: 'warning',
      audience: 'incident_commander',
      recipients: [ic],
      subject: `${tag} P2: triage until ${utcIso(holdEndMs)}, then confirm the rollback`,
      body: `${decision.reasons.join('; ')}.\nAfter the hold, send "confirmRollback" {"by":"${ic}","decision":"go"|"cancel"}.`,
    });
    await condition(() => confirmation?.decision === 'cancel', policy.triageHold, {
      summary: `P2 triage hold until ${utcIso(holdEndMs)}`,
    });
    record.resolveDeadline('triage_hold', confirmation?.decision === 'cancel' ? 'cancelled' : 'met');
    if (!confirmation) {
      const dueMs = Date.now() + policy.confirmationTimeout;
      record.setDeadline('confirmation', dueMs);
      record.enterStep(
        'awaiting_confirmation',
        `waiting for ${ic} to confirm (go / cancel) by ${utcIso(dueMs)}`,
      );
      const answered = await condition(() => confirmation !== undefined, policy.confirmationTimeout, {
        summary: `IC confirmation by ${utcIso(dueMs)}`,
      });
      record.resolveDeadline('confirmation', answered ? 'met' : 'missed');
      if (!answered) {
        escalate(
          'rollback_confirmation_expired',
          'no confirmation after the triage hold',
          `No "confirmRollback" within ${formatDuration(policy.confirmationTimeout)}; nothing was rolled back.`,
          [ic],
        );
        return finish(
          'confirmation_expired',
          `no confirmation within ${formatDuration(policy.confirmationTimeout)} after the triage hold; nothing was rolled back`,
        );
      }
    }
    if (confirmation?.decision === 'cancel') {
      return finish(
        'cancelled',
        `rollback cancelled by ${confirmation.by}${confirmation.note ? `: ${confirmation.note}` : ''}`,
      );
    }
  }

  // Plan mode: read everything, server-side dry-run every mutation, change nothing.
  if (input.dryRun) {
    record.enterStep(
      'plan',
      'dry run: reading the cluster and validating every change with --dry-run=server',
    );
    const [allowlist, replicas, schema, expanded] = [
      await k8s.readAllowlist(),
      await k8s.getReplicas(),
      await k8s.readSchemaVersion(),
      await k8s.readExpandedRepos(),
    ];
    const plan = {
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
      alerts: await Promise.all(expanded.map((repo) => mutate.disableAlertRule({ repo, dryRun: true }))),
      pilotVerification: policy.pilotVerification.command,
    };
    detail.plan = plan;
    return finish('dry_run', `dry run: ${decision.level} rollback plan computed; nothing was changed`);
  }

  // 2. Pre-rollback: incident confirmation, stakeholder notices, backups.
  record.enterStep('confirm_incident', 'reading the logs and failures by repo');
  const logs = await k8s.readDeploymentLogs();
  const massFailure = decision.failingRepos.length >= policy.decision.confirmationMinRepos;
  evidence('confirm_incident', massFailure || decision.level === 'P1', {
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
  const affected = input.affectedRepos.length > 0 ? input.affectedRepos : decision.failingRepos;
  const headline = `${decision.level} INCIDENT: initiating rollback to pilot scope (${pilot}). Reason: ${input.reason}. ETA: 10 minutes. Affected repos: ${affected.join(', ') || 'n/a'}. Incident Commander: ${ic}`;
  notices.send({
    kind: 'rollback_started',
    severity: 'critical',
    audience: 'incident_commander',
    recipients: [ic],
    subject: `${tag} rollback to pilot scope started`,
    body: headline,
  });
  notices.send({
    kind: 'rollback_page',
    severity: 'critical',
    audience: 'escalation',
    recipients: [ic],
    page: page('rollback'),
    subject: `${tag} Multi-LLM Orchestrator rollback`,
    body: `Reason: ${input.reason}`,
  });

  record.enterStep('backup', 'saving the deployment and configmap YAML; starting pg_dump in the background');
  const backupKey = `${input.incidentId}-${utcIso(startedMs).replace(/[:.]/g, '')}`;
  detail.backups = { manifests: await k8s.backupManifests({ backupKey }), database: { state: 'running' } };
  const databaseBackup = backupDatabase({ backupKey }).then(
    (backup) => {
      detail.backups!.database = { state: 'done', path: backup.path, sha256: backup.sha256 };
    },
    (error: unknown) => {
      detail.backups!.database = { state: 'failed', error: describeFailure(error) };
      record.flag('backup_failed', `the TaskDB backup failed: ${detail.backups!.database.error}`);
    },
  );
  notices.track(databaseBackup);

  // 3. Steps 1–5: the rollback itself.
  const executionStartMs = Date.now();
  record.enterStep('restrict_allowlist', `step 1: allowlist → ${pilot}`);
  const allowlist = await mutate.setAllowlist({ repos: [pilot] });
  const allowlistNow = await k8s.readAllowlist();
  evidence('restrict_allowlist', allowlistNow.join(',') === pilot, { ...allowlist, verified: allowlistNow });
  const rollout = await mutate.rolloutStatus({ timeoutMs: policy.rolloutTimeout });
  evidence('rollout_status', rollout.ok, rollout);
  if (allowlistNow.join(',') !== pilot || !rollout.ok) {
    const why =
      allowlistNow.join(',') !== pilot
        ? `allowlist is ${allowlistNow.join(',')} after the change`
        : `rollout status: ${rollout.output}`;
    escalate('rollback_rollout_stuck', 'rollout did not complete: escalate to Engineering TL', why, [
      policy.escalation.engineeringTl,
      ic,
    ]);
    return finish(
      'escalated_rollout',
      `step 1 failed (${why}); escalated to ${policy.escalation.engineeringTl}`,
    );
  }

  record.enterStep(
    'scale_down',
    `step 2: scale to the pilot baseline (${snapshot.orchestrator.pilotReplicas}) if above; restart on crash loop`,
  );
  const replicas = await k8s.getReplicas();
  if (replicas > snapshot.orchestrator.pilotReplicas) {
    const scaled = await mutate.scaleDeployment({ replicas: snapshot.orchestrator.pilotReplicas });
    const status = await mutate.rolloutStatus({ timeoutMs: policy.scaleTimeout });
    evidence('scale_down', status.ok, { scaled, status });
    if (!status.ok) {
      escalate(
        'rollback_rollout_stuck',
        'scale-down did not complete: escalate to Engineering TL',
        status.output,
        [policy.escalation.engineeringTl, ic],
      );
      return finish(
        'escalated_rollout',
        `step 2 scale-down did not complete; escalated to ${policy.escalation.engineeringTl}`,
      );
    }
  } else {
    evidence('scale_down', true, {
      replicas,
      skipped: `replicas ${replicas} ≤ pilot baseline ${snapshot.orchestrator.pilotReplicas}`,
    });
  }
  const pods = await k8s.deploymentPods();
  if (pods.crashLoop) {
    const restarted = await mutate.restartDeployment({ restartedAt: utcIso(Date.now()) });
    const status = await mutate.rolloutStatus({ timeoutMs: policy.scaleTimeout });
    evidence('restart_crash_loop', status.ok, { crashLooping: pods.crashLooping, restarted, status });
    if (!status.ok) {
      escalate(
        'rollback_restart_failed',
        'restart failed: escalate to Engineering TL immediately',
        status.output,
        [policy.escalation.engineeringTl, ic],
      );
      return finish(
        'escalated_rollout',
        `crash-loop restart failed; escalated to ${policy.escalation.engineeringTl}`,
      );
    }
  }

  record.enterStep('revert_schema', `step 3: schema back to ${policy.postgres.pilotSchemaVersion} if newer`);
  const schema = await mutate.revertSchema({});
  evidence('revert_schema', schema.ok, schema);
  if (!schema.ok) {
    const backup = detail.backups.database;
    const restore =
      backup?.state === 'done'
        ? `restore from ${backup.path} (sha256 ${backup.sha256})`
        : `restore from the backup (pg_dump ${backup?.state ?? 'unknown'}${backup?.path ? `: ${backup.path}` : ''})`;
    escalate(
      'rollback_schema_failed',
      'schema rollback FAILED: restore from backup, escalate to the DBA',
      `${schema.error}\nRestore path: ${restore}. Estimated recovery 15–30 min.`,
      [policy.escalation.dba, ic],
    );
    return finish(
      'escalated_schema',
      `schema rollback failed (${schema.error}); ${restore}; escalated to ${policy.escalation.dba}`,
    );
  }

  record.enterStep('silence_alerts', "step 4: disabling the expanded repos' alerts");
  const expanded = (await k8s.readExpandedRepos()).filter((repo) => repo !== pilot);
  const silenced = [];
  for (const repo of expanded) silenced.push({ repo, ...(await mutate.disableAlertRule({ repo })) });
  const stillEnabled = silenced.filter((s) => s.after === true).map((s) => s.repo);
  evidence('silence_alerts', stillEnabled.length === 0, silenced);
  if (stillEnabled.length)
    record.flag('alerts_not_silenced', `alerts still enabled for: ${stillEnabled.join(', ')}`);
  const missingRules = silenced.filter((s) => s.missing).map((s) => s.repo);
  if (missingRules.length)
    record.event('alert_rules_missing', `no PrometheusRule for: ${missingRules.join(', ')}`);

  record.enterStep('verify_pilot', `step 5: the test flow on ${pilot}`);
  const verification = await runPilotVerification();
  evidence('verify_pilot', verification.ok, verification);
  const executionEndMs = Date.now();
  if (!verification.ok) {
    escalate(
      'rollback_failed',
      'CRITICAL: rollback failed — pilot repo not operational',
      `${verification.reasons.join('; ')}\n${verification.outputTail}\nConsider an emergency restore from full backup (30–60 min).`,
      [policy.escalation.engineeringTl, ic],
    );
    return finish(
      'rollback_failed',
      `CRITICAL: rollback failed: the pilot test flow did not pass (${verification.reasons.join('; ')})`,
    );
  }

  // 4. Steps 6–8: health, completion notices, status page.
  record.enterStep('health_checks', 'step 6: pods and health endpoints');
  const [podsAfter, health] = [await k8s.deploymentPods(), await k8s.healthChecks()];
  const healthy =
    podsAfter.ready === snapshot.orchestrator.pilotReplicas && !podsAfter.crashLoop && health.ok;
  evidence('health_checks', healthy, { pods: podsAfter, health });
  if (!healthy) {
    record.flag(
      'health_degraded',
      `after the rollback: ${podsAfter.ready}/${snapshot.orchestrator.pilotReplicas} pods ready; ${
        health.checks
          .filter((c) => !c.ok)
          .map((c) => `${c.name}: ${c.status}`)
          .join(', ') || 'endpoints ok'
      }`,
    );
    notices.send({
      kind: 'rollback_health_degraded',
      severity: 'warning',
      audience: 'incident_commander',
      recipients: [ic],
      subject: `${tag} health checks not all green after the rollback`,
      body: record.status.flags.at(-1)!.message,
    });
  }

  record.enterStep('notify_complete', 'step 7: completion notices');
  notices.send({
    kind: 'rollback_complete',
    severity: 'info',
    audience: 'incident_commander',
    recipients: [ic],
    subject: `${tag} rollback to pilot scope COMPLETE`,
    body: `Status: pilot repo (${pilot}) operational. Affected repos: ${affected.join(', ') || 'n/a'} (temporarily disabled). Next: root cause analysis within ${formatDuration(policy.rcaDeadline)}. Incident Commander: ${ic}`,
  });
  if (policy.statusPage) {
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
      evidence('status_page', true, status);
    } catch (error) {
      evidence('status_page', false, { error: describeFailure(error) });
      record.flag('status_page_failed', `status page not updated: ${describeFailure(error)}`);
    }
  }
  const completedMs = Date.now();
  detail.targets = {
    execution: {
      targetMs: policy.targets.execution,
      actualMs: executionEndMs - executionStartMs,
      met: executionEndMs - executionStartMs <= policy.targets.execution,
    },
    total: {
      targetMs: policy.targets.total,
      actualMs: completedMs - startedMs,
      met: completedMs - startedMs <= policy.targets.total,
    },
  };
  for (const [name, target] of Object.entries(detail.targets)) {
    if (target.met === false)
      record.flag(
        `target_${name}_missed`,
        `${name} took ${formatDuration(target.actualMs ?? 0)} (target < ${formatDuration(target.targetMs)})`,
      );
  }

  // 5. RCA within 24 h (the database backup finishes meanwhile; it never held up the rollback).
  const rcaDueMs = completedMs + policy.rcaDeadline;
  detail.rca = { state: 'awaiting', dueAt: utcIso(rcaDueMs) };
  record.setDeadline('rca', rcaDueMs);
  record.enterStep(
    'awaiting_rca',
    `root cause analysis due ${detail.rca.dueAt}; send "rcaFiled" {"by","link"}`,
  );
  const filed = await condition(() => detail.rca?.state === 'filed', policy.rcaDeadline, {
    summary: `RCA due ${detail.rca.dueAt}`,
  });
  record.resolveDeadline('rca', filed ? 'met' : 'missed');
  if (!filed) {
    detail.rca.state = 'missed';
    record.nonConformity('rca_missed', `no RCA filed by ${detail.rca.dueAt} (seed 002: within 24 hours)`);
    escalate(
      'rollback_rca_missed',
      'RCA overdue',
      `The root cause analysis for ${input.incidentId} was due ${detail.rca.dueAt}.`,
      [ic, policy.escalation.engineeringTl],
    );
  }
  await databaseBackup;
  const clean = record.status.flags.length === 0 && record.status.nonConformities.length === 0;
  return finish(
    clean ? 'rolled_back' : 'rolled_back_with_warnings',
    `rolled back to pilot scope (${pilot}) in ${formatDuration(executionEndMs - executionStartMs)} of execution, ${formatDuration(completedMs - startedMs)} in all` +
      (clean
        ? ''
        : `; warnings: ${[...record.status.flags, ...record.status.nonConformities].map((f) => f.code).join(', ')}`),
  );
}
