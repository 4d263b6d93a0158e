import { condition, proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { formatDuration, utcIso } from '../../common/duration';
import { policyRead } from '../activity-options';
import { refusedByChangeFreeze } from '../shared/change-freeze';
import { isPatched, PATCHES } from '../shared/patches';
import { parseWorkflowInput } from '../shared/input';
import { announcingCancellation } from '../shared/cancellation';
import { decideRollback, triageThenConfirm, type RollbackEnd } from './decision-gate';
import { runStep, type RollbackStep } from './guard';
import { rollbackToPilotInputSchema, type RollbackResult, type RollbackToPilotInput } from './definitions';
import { planRollback } from './plan';
import { DowntimeClock } from './downtime';
import { RollbackRun } from './run';
import { freezesWriters, freezeWritersFirst, holdGreenThenUnfreeze } from './writers';
import { finishDrill } from './drill';
import {
  announceComplete,
  checkHealth,
  confirmIncident,
  restrictAllowlist,
  revertSchema,
  scaleDown,
  silenceAlerts,
  startBackups,
  verifyPilot,
} from './steps';

const { loadRunbookPolicy } = proxyActivities<RunbookActivities>(policyRead);

/**
 * RB-LAUNCH-002, rollback to pilot scope: decision framework → (P2: 30-min triage hold and the
 * IC's confirmation) → incident confirmation, stakeholder notices, backups (pg_dump in the
 * background) → steps 1–8 each verified → RCA within 24 h. Every failure branch of the seed is a
 * real branch: rollout stuck → Engineering TL; schema revert failed → restore path + DBA; pilot
 * verification failed → "CRITICAL: rollback failed" to TL and IC.
 */
export async function rollbackToPilot(rawInput: RollbackToPilotInput): Promise<RollbackResult> {
  const input = parseWorkflowInput(rollbackToPilotInputSchema, rawInput, 'rollbackToPilot input');
  const run = new RollbackRun(input);
  return announcingCancellation(run, () => rollBack(run));
}

/** The decision and, when it says go, the rollback's steps (seed RB-LAUNCH-002). */
async function rollBack(run: RollbackRun): Promise<RollbackResult> {
  const { input, record, detail } = run;

  record.enterStep('load_policy', 'reading the worker policy');
  run.configure(await loadRunbookPolicy({ runbook: 'rollbackToPilot' }));

  const decision = await decideRollback(run);
  if ('outcome' in decision) return run.finish(decision.outcome, decision.message);
  if (decision.verdict === 'triage' && !input.drill) {
    const stopped = await triageThenConfirm(run, decision);
    if (stopped) return run.finish(stopped.outcome, stopped.message);
  }
  if (input.dryRun || input.drill) {
    const planned = await runStep(run, 'plan', async () => {
      detail.plan = await planRollback(run);
    });
    if (planned) return run.finish(planned.outcome, planned.message);
    if (input.drill) return finishDrill(run, decision);
    return run.finish('dry_run', `dry run: ${decision.level} rollback plan computed; nothing was changed`);
  }

  const clocksFromMs = goDecisionClock(run);
  const frozen = await refusedByChangeFreeze({
    record,
    failSafe: run.failSafe,
    override: input.freezeOverride,
  });
  if (frozen)
    return run.finish(frozen.kind === 'aborted' ? 'aborted' : 'refused_change_freeze', frozen.message);
  let databaseBackup: Promise<void> = Promise.resolve();
  const confirmed = await runStep(run, 'confirm_incident', () => confirmIncident(run, decision));
  if (confirmed) return run.finish(confirmed.outcome, confirmed.message);
  const backedUp = await runStep(run, 'backup', async () => {
    databaseBackup = (await startBackups(run)).databaseBackup;
  });
  if (backedUp) return run.finish(backedUp.outcome, backedUp.message);
  const writersFrozen = freezesWriters(run);
  if (writersFrozen) {
    const ended = await freezeWritersFirst(run);
    if (ended) return run.finish(ended.outcome, ended.message);
  }
  const downtime = new DowntimeClock(run);
  const executionStartMs = Date.now();
  await downtime.sample('the go decision');
  const steps: [RollbackStep, () => Promise<RollbackEnd | undefined | void>][] = [
    ['restrict_allowlist', () => restrictAllowlist(run)],
    ['scale_down', () => scaleDown(run)],
    ['revert_schema', () => revertSchema(run)],
    ['silence_alerts', () => silenceAlerts(run)],
    ['verify_pilot', () => verifyPilot(run)],
  ];
  for (const [name, work] of steps) {
    const ended = await runStep(run, name, work);
    if (ended) return run.finish(ended.outcome, ended.message);
    await downtime.sample(name);
  }
  const executionEndMs = Date.now();
  const unhealthy = await runStep(run, 'health_checks', () => checkHealth(run, downtime));
  if (unhealthy) return run.finish(unhealthy.outcome, unhealthy.message);
  await announceComplete(run);
  const completedMs = Date.now();
  const [executionFromMs, totalFromMs] = [clocksFromMs ?? executionStartMs, clocksFromMs ?? run.startedMs];
  recordTargets(run, executionEndMs - executionFromMs, completedMs - totalFromMs, downtime);
  if (writersFrozen) {
    const ended = await holdGreenThenUnfreeze(run);
    if (ended) return run.finish(ended.outcome, ended.message);
  }

  // RCA within 24 h (the database backup finishes meanwhile; it never held up the rollback).
  await awaitRca(run, completedMs);
  await databaseBackup;
  const warnings = [...record.status.flags, ...record.status.nonConformities];
  const pilot = run.snapshot.orchestrator.pilotRepo;
  return run.finish(
    warnings.length === 0 ? 'rolled_back' : 'rolled_back_with_warnings',
    `rolled back to pilot scope (${pilot}) in ${formatDuration(executionEndMs - executionFromMs)} of execution, ${formatDuration(completedMs - totalFromMs)} in all` +
      (warnings.length === 0 ? '' : `; warnings: ${warnings.map((f) => f.code).join(', ')}`),
  );
}

/** The seed's targets (execution < 10 min, total < 30 min, downtime < 5 min): met or flagged. */
function recordTargets(r: RollbackRun, executionMs: number, totalMs: number, downtime: DowntimeClock): void {
  const { detail, policy } = r;
  detail.targets = {
    execution: {
      targetMs: policy.targets.execution,
      actualMs: executionMs,
      met: executionMs <= policy.targets.execution,
    },
    total: { targetMs: policy.targets.total, actualMs: totalMs, met: totalMs <= policy.targets.total },
    ...(downtime.measuring ? { downtime: downtime.target(policy.targets.downtime) } : {}),
  };
  for (const [name, target] of Object.entries(detail.targets)) {
    if (target.met === false)
      r.record.flag(
        `target_${name}_missed`,
        `${name} took ${formatDuration(target.actualMs ?? 0)} (target < ${formatDuration(target.targetMs)})`,
      );
  }
}

/**
 * The seed's clocks (execution < 10 min, total < 30 min) start at the go decision: a P2's triage
 * hold and the IC's confirmation are the decision, not the rollback. Runs recorded before the
 * patch measured from their start (undefined).
 */
function goDecisionClock(run: RollbackRun): number | undefined {
  if (!isPatched(PATCHES.rollbackClocksFromGo)) return undefined;
  const now = Date.now();
  run.detail.goDecisionAt = utcIso(now);
  return now;
}

/** The root cause analysis is due within the policy's deadline (seed 002: 24 h); missed → escalation. */
async function awaitRca(run: RollbackRun, completedMs: number): Promise<void> {
  const { record, detail, policy, ic, input } = run;
  const rcaDueMs = completedMs + policy.rcaDeadline;
  const rca = (detail.rca = { state: 'awaiting' as const, dueAt: utcIso(rcaDueMs) });
  record.setDeadline('rca', rcaDueMs);
  record.enterStep('awaiting_rca', `root cause analysis due ${rca.dueAt}; send "rcaFiled" {"by","link"}`);
  const filed = await condition(() => detail.rca?.state === 'filed', policy.rcaDeadline, {
    summary: `RCA due ${rca.dueAt}`,
  });
  record.resolveDeadline('rca', filed ? 'met' : 'missed');
  if (filed) return;
  detail.rca.state = 'missed';
  record.nonConformity('rca_missed', `no RCA filed by ${rca.dueAt} (seed 002: within 24 hours)`);
  run.escalate(
    'rollback_rca_missed',
    'RCA overdue',
    `The root cause analysis for ${input.incidentId} was due ${rca.dueAt}.`,
    [ic, policy.escalation.engineeringTl],
  );
}
