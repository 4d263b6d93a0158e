import { condition, proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { DAY_MS, formatDuration, utcIso } from '../../common/duration';
import { kubectlRead } from '../activity-options';
import { approveInstructions } from '../shared/approval-block';
import { freezeNotCrossed } from '../shared/change-freeze';
import { isPatched, PATCHES } from '../shared/patches';
import { apply, rollBack, setAlerts } from './allowlist';
import type { Phase, ReenablementResult } from './definitions';
import { hold, type HoldEnd } from './hold';
import { judgeGreen, judgeHold } from './judge';
import type { ReenablementRun } from './run';

const k8s = proxyActivities<RunbookActivities>(kubectlRead);

/** The phases of seed 002 §3 and seed 003's watch for green, each ending the run or handing on. */

/** One phase: apply the set, hold, and either record it as the last good set or roll back. */
export async function runPhase(
  run: ReenablementRun,
  name: Phase,
  label: string,
  repos: string[],
  holdMs: number,
): Promise<ReenablementResult | undefined> {
  const { record, detail, notices, requestedBy, tag, policy } = run;
  const waited = await waitForResume(run, name, label);
  if (waited) return waited;
  const held = await waitForFreezeToLift(run, name, label);
  if (held) return held;
  detail.phase = name;
  const added = repos.filter((repo) => !detail.lastGood.includes(repo));
  record.enterStep(
    label,
    `${label}: enabling ${added.join(', ')}; hold ${formatDuration(holdMs)} with analysis every ${formatDuration(policy.analysisInterval)}`,
  );
  notices.send({
    kind: 'reenablement_phase',
    severity: 'info',
    audience: 'incident_commander',
    recipients: [requestedBy],
    subject: `${tag} ${label}: enabling ${added.join(', ')}`,
    body: `Allowlist → ${repos.join(',')}. Hold ${formatDuration(holdMs)}.`,
  });
  const applied = await apply(run, label, repos);
  if (applied.kind !== 'done') return run.abortedAfterFailure(applied, label);
  if (!applied.value) {
    const back = await rollBack(run, `${label}: the allowlist change did not roll out`);
    if (back.kind !== 'done') return run.abortedAfterFailure(back, 'roll_back');
    return run.finish(
      'rollout_failed',
      `${label}: the rollout did not complete; allowlist back to ${run.goodSets.at(-1)!.join(',')}`,
    );
  }
  if (isPatched(PATCHES.alertRulesFollowRepos)) {
    const alerts = await setAlerts(run, added, true);
    // An abort stops the run like any other: the repos just enabled go back out with their alerts off.
    if (alerts.aborted && isPatched(PATCHES.reenablementAlertAbortEndsRun))
      return run.abortRun({
        by: alerts.aborted.by,
        reason:
          alerts.aborted.reason ??
          `aborted while the alert rules of ${added.join(', ')} could not be enabled`,
      });
  }
  const ended = await hold(run, name, label, holdMs, repos, judgeHold, policy.analysisInterval);
  const stopped = await stopUnlessPassed(run, ended, label);
  if (stopped) return stopped;
  run.goodSets.push(repos);
  detail.lastGood = repos;
  detail.pending = detail.pending.filter((repo) => !repos.includes(repo));
  detail.phasesCompleted.push({ phase: name, repos: added, at: utcIso(Date.now()) });
  return undefined;
}

/** A hold that did not pass ends the run: aborted, or rolled back to the last good set. */
async function stopUnlessPassed(
  run: ReenablementRun,
  ended: HoldEnd,
  label: string,
): Promise<ReenablementResult | undefined> {
  if (ended.kind === 'passed') return undefined;
  if (ended.kind === 'aborted') return run.abortRun();
  const back = await rollBack(run, `${label} failed its analysis: ${ended.reasons.join('; ')}`);
  if (back.kind !== 'done') return run.abortedAfterFailure(back, 'roll_back');
  return run.finish(
    'rolled_back',
    `${label} failed (${ended.reasons.join('; ')}); allowlist back to the last good set ${run.goodSets.at(-1)!.join(',')}`,
  );
}

/**
 * No phase or batch goes live while the run is paused (by a person or an inconclusive analysis):
 * the live set is analysed meanwhile, and a failing analysis still rolls back.
 */
async function waitForResume(
  run: ReenablementRun,
  name: Phase,
  label: string,
): Promise<ReenablementResult | undefined> {
  if (!run.detail.paused || !isPatched(PATCHES.phasesWaitWhilePaused)) return undefined;
  const live = run.detail.reposLive;
  const ended = await hold(
    run,
    name,
    `${label}_waits_for_resume`,
    0,
    live,
    judgeHold,
    run.policy.analysisInterval,
  );
  return stopUnlessPassed(run, ended, `${label} (waiting for resume)`);
}

/** Freezes read this recently are not read again before a phase. */
const FREEZES_FRESH_MS = 60_000;

/**
 * An incident declared while the programme runs (days) freezes production (seed 004 §1.3): no
 * phase or batch goes live while a freeze this run did not cross at its start is in force. The live
 * set is held and analysed meanwhile (a failing analysis still rolls back, which is the incident
 * response, not a change); the freezes are read again after every analysis interval.
 */
async function waitForFreezeToLift(
  run: ReenablementRun,
  name: Phase,
  label: string,
): Promise<ReenablementResult | undefined> {
  if (!isPatched(PATCHES.reenablementFreezeRechecked)) return undefined;
  // Read moments ago (the start's check, with no soak or hold since): not read twice in a row.
  if (run.freezesReadAtMs !== undefined && Date.now() - run.freezesReadAtMs < FREEZES_FRESH_MS)
    return undefined;
  const { record, notices, requestedBy, tag, policy } = run;
  let announced = false;
  for (;;) {
    const freeze = await freezeNotCrossed({ record, failSafe: run.failSafe, crossed: run.crossedFreezes });
    run.freezesReadAtMs = Date.now();
    if (freeze.kind === 'aborted') return run.abortedAfterFailure(freeze, 'check_change_freeze');
    if (freeze.kind === 'clear') {
      if (announced) record.event('change_freeze_lifted', `${label}: no freeze in force any more; going on`);
      return undefined;
    }
    if (!announced) {
      announced = true;
      record.flag('held_by_change_freeze', `${label} held: ${freeze.text}`);
      notices.send({
        kind: 'reenablement_phase',
        severity: 'warning',
        audience: 'incident_commander',
        recipients: [requestedBy],
        subject: `${tag} ${label} held: a change freeze is in force`,
        body: `${freeze.text}.\nNothing more is re-enabled until it is lifted; the live set ${run.detail.reposLive.join(',')} is analysed meanwhile (a failing analysis still rolls back).`,
      });
    }
    record.enterStep(
      `${label}_held_by_freeze`,
      `${label} held: ${freeze.text}; checked again in ${formatDuration(policy.analysisInterval)}`,
    );
    const ended = await hold(
      run,
      name,
      `${label}_held_by_freeze`,
      policy.analysisInterval,
      run.detail.reposLive,
      judgeHold,
      policy.analysisInterval,
    );
    const stopped = await stopUnlessPassed(run, ended, `${label} (held by a change freeze)`);
    if (stopped) return stopped;
  }
}

/** The canary held: the approvers agree to phase 2's allowlist, bound to its planHash. */
export async function approvePhase2(
  run: ReenablementRun,
  phase2Set: string[],
  canaryHoldMs: number,
): Promise<ReenablementResult | undefined> {
  const { record, detail, notices, controls, tag, policy, input } = run;
  const planned = await run.failSafe.step(
    { name: 'plan_phase_2', what: 'compute the phase 2 allowlist change', owners: policy.approvers },
    () => k8s.planAllowlistChange({ repos: phase2Set }),
  );
  if (planned.kind !== 'done') return run.abortedAfterFailure(planned, 'plan_phase_2');
  const plan = planned.value;
  detail.plan = { current: plan.current, next: plan.next, planHash: plan.planHash };
  record.enterStep(
    'awaiting_approval',
    `canary held ${formatDuration(canaryHoldMs)}: approve phase 2 (+${input.phase2Repos.join(', ')}), planHash ${plan.planHash.slice(0, 12)}…`,
  );
  detail.nextAction = { what: 'approval of phase 2', at: utcIso(Date.now() + policy.approvalTimeout) };
  const approve = approveInstructions(record.status.workflowId, plan.planHash, policy.requireSignedApprovals);
  notices.send({
    kind: 'approval_request',
    severity: 'warning',
    audience: 'approvers',
    recipients: policy.approvers,
    subject: `${tag} canary ${input.canaryRepo} held: approve phase 2 (+${input.phase2Repos.join(', ')})`,
    body: [`Next allowlist: ${phase2Set.join(',')}`, ...approve.lines].join('\n'),
    code: [
      { label: 'planHash', text: plan.planHash },
      { label: 'or from a terminal', text: approve.cli },
    ],
  });
  const decision = await controls.awaitDecision(plan.planHash, policy.approvalTimeout);
  if (decision.kind === 'rejected')
    return run.finish(
      'rejected',
      `phase 2 rejected by ${decision.approver}: ${decision.reason}; the allowlist stays ${detail.reposLive.join(',')}`,
    );
  if (decision.kind === 'expired')
    return run.finish(
      'approval_expired',
      `no approval for phase 2 within ${formatDuration(policy.approvalTimeout)}; the allowlist stays ${detail.reposLive.join(',')}`,
    );
  if (decision.kind === 'aborted') return run.abortRun();
  delete detail.plan;
  delete detail.nextAction; // approved: phase 2 starts now, nothing is awaited
  return undefined;
}

/** Where phase 3 resumes in a run that was continued as new. */
export interface Phase3Position {
  batchIndex: number;
  previousBatchStartMs?: number;
}

/**
 * Phase 3: the rest, 1–2 repos a day, each batch with its own hold. A batch never starts less
 * than a day after the previous one, whatever the batch hold. Returns the live set, the end, or
 * where the next run takes over: after each batch with more to come the run continues as new, so
 * no run's history grows with the number of repos.
 */
export async function enableRemaining(
  run: ReenablementRun,
  live: string[],
  batchHoldMs: number,
  from: Phase3Position = { batchIndex: 0 },
): Promise<{ live: string[] } | { end: ReenablementResult } | { continueAt: Required<Phase3Position> }> {
  const { record, detail, controls, policy, input } = run;
  let previousBatchStartMs = from.previousBatchStartMs;
  for (let index = from.batchIndex; index < input.remainingRepos.length; index += policy.reposPerDay) {
    const batch = input.remainingRepos.slice(index, index + policy.reposPerDay);
    if (previousBatchStartMs !== undefined && Date.now() < previousBatchStartMs + DAY_MS) {
      const nextStartMs = previousBatchStartMs + DAY_MS;
      detail.nextAction = {
        what: `enable ${batch.join(', ')} (at most ${policy.reposPerDay} repos a day)`,
        at: utcIso(nextStartMs),
      };
      record.describe(`pacing: next batch (${batch.join(', ')}) at ${utcIso(nextStartMs)}`);
      await condition(() => controls.aborted !== undefined, nextStartMs - Date.now(), {
        summary: `phase 3 pacing until ${utcIso(nextStartMs)}`,
      });
      if (controls.aborted) return { end: await run.abortRun() };
    }
    previousBatchStartMs = Date.now();
    live = [...live, ...batch];
    const ended = await runPhase(
      run,
      'phase3',
      `phase_3_batch_${index / policy.reposPerDay + 1}`,
      live,
      batchHoldMs,
    );
    if (ended) return { end: ended };
    const next = index + policy.reposPerDay;
    if (next < input.remainingRepos.length && isPatched(PATCHES.reenablementContinuesAsNew)) {
      if (controls.aborted) return { end: await run.abortRun() };
      return { continueAt: { batchIndex: next, previousBatchStartMs } };
    }
  }
  return { live };
}

/** Seed 003: hold on the exit targets before declaring recovery; a miss rolls the last batch back. */
export async function watchForGreen(run: ReenablementRun, live: string[]): Promise<ReenablementResult> {
  const { record, detail, notices, requestedBy, tag, policy } = run;
  detail.phase = 'watch_for_green';
  record.enterStep(
    'watch_for_green',
    `holding ${formatDuration(policy.watchForGreen)} on the exit targets (error rate < ${policy.exitTargets.errorRateMax * 100} %, p95 ≤ baseline + ${policy.exitTargets.p95MaxIncrease * 100} %)`,
  );
  const green = await hold(
    run,
    'watch_for_green',
    'watch_for_green',
    policy.watchForGreen,
    live,
    judgeGreen,
    policy.watchInterval,
  );
  if (green.kind === 'aborted') return run.abortRun();
  if (green.kind === 'failed') {
    run.goodSets.pop(); // the last batch is not good after all
    const back = await rollBack(
      run,
      `exit targets not met while watching for green: ${green.reasons.join('; ')}`,
    );
    if (back.kind !== 'done') return run.abortedAfterFailure(back, 'roll_back');
    return run.finish(
      'watch_for_green_failed',
      `exit targets not met (${green.reasons.join('; ')}); allowlist back to ${run.goodSets.at(-1)!.join(',')}`,
    );
  }
  notices.send({
    kind: 'reenablement_recovered',
    severity: 'info',
    audience: 'incident_commander',
    recipients: [requestedBy],
    subject: `${tag} recovered: all ${live.length} repos re-enabled, exit targets green`,
    body: `Allowlist: ${live.join(',')}`,
  });
  return run.finish(
    'recovered',
    `all repos re-enabled (${live.length}) and green for ${formatDuration(policy.watchForGreen)}`,
  );
}
