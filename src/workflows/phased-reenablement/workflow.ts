import { condition, proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { DAY_MS, formatDuration, parseDuration, utcIso } from '../../common/duration';
import { kubectlRead, policyRead } from '../activity-options';
import { parseWorkflowInput } from '../shared/input';
import {
  phasedReenablementInputSchema,
  type Phase,
  type PhasedReenablementInput,
  type ReenablementResult,
} from './definitions';
import { judgeGreen, judgeHold } from './judge';
import { ReenablementRun } from './run';

const { loadRunbookPolicy } = proxyActivities<RunbookActivities>(policyRead);
const k8s = proxyActivities<RunbookActivities>(kubectlRead);

/**
 * Phased re-enablement after a rollback to pilot: canary → 4 h hold with periodic analysis →
 * approval → +3 repos → 24 h hold → the rest 1–2 repos a day, each with its hold → watch for green
 * (10–15 min on the exit targets) → recovered. A failing analysis puts the allowlist back to the
 * last good set at once and notifies; an inconclusive one (no data) pauses for a human.
 */
export async function phasedReenablement(rawInput: PhasedReenablementInput): Promise<ReenablementResult> {
  const input = parseWorkflowInput(phasedReenablementInputSchema, rawInput, 'phasedReenablement input');
  const run = new ReenablementRun(input);
  const { record, detail, controls, notices, requestedBy, tag } = run;

  record.enterStep('load_policy', 'reading the worker policy');
  const snapshot = await loadRunbookPolicy({ runbook: 'phasedReenablement' });
  run.configure(snapshot);
  const policy = run.policy;

  // Holds: the policy's, or overrides within its bounds.
  const holds = { canaryHold: policy.canaryHold, phase2Hold: policy.phase2Hold, batchHold: policy.batchHold };
  const overrideProblems: string[] = [];
  for (const [name, text] of Object.entries(input.holdOverrides) as [
    keyof typeof holds,
    string | undefined,
  ][]) {
    if (!text) continue;
    const ms = parseDuration(text)!;
    if (ms < policy.holdBounds.min || ms > policy.holdBounds.max) {
      overrideProblems.push(
        `holdOverrides.${name} ${text} is outside ${formatDuration(policy.holdBounds.min)}–${formatDuration(policy.holdBounds.max)}`,
      );
    } else holds[name] = ms;
  }
  if (input.pilotRepo !== snapshot.orchestrator.pilotRepo)
    overrideProblems.push(
      `pilotRepo ${input.pilotRepo} is not the policy's pilot (${snapshot.orchestrator.pilotRepo})`,
    );
  if (overrideProblems.length) return run.finish('invalid_input', overrideProblems.join('; '));
  detail.holds = holds;

  const current = await k8s.readAllowlist();
  detail.reposLive = current;
  detail.lastGood = current;
  if (current.join(',') !== input.pilotRepo) {
    record.flag(
      'not_at_pilot_scope',
      `the allowlist is ${current.join(',') || '(empty)'}, not the pilot scope; phases add to it`,
    );
  }
  run.goodSets.push(current);

  /** One phase: apply the set, hold, and either record it as the last good set or roll back. */
  async function phase(
    name: Phase,
    label: string,
    repos: string[],
    holdMs: number,
  ): Promise<ReenablementResult | undefined> {
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
    if (!(await run.apply(repos))) {
      await run.rollBack(`${label}: the allowlist change did not roll out`);
      return run.finish(
        'rollout_failed',
        `${label}: the rollout did not complete; allowlist back to ${run.goodSets.at(-1)!.join(',')}`,
      );
    }
    const ended = await run.hold(name, label, holdMs, repos, judgeHold, policy.analysisInterval);
    if (ended.kind === 'aborted') return run.abortRun();
    if (ended.kind === 'failed') {
      await run.rollBack(`${label} failed its analysis: ${ended.reasons.join('; ')}`);
      return run.finish(
        'rolled_back',
        `${label} failed (${ended.reasons.join('; ')}); allowlist back to the last good set ${run.goodSets.at(-1)!.join(',')}`,
      );
    }
    run.goodSets.push(repos);
    detail.lastGood = repos;
    detail.pending = detail.pending.filter((repo) => !repos.includes(repo));
    detail.phasesCompleted.push({ phase: name, repos: added, at: utcIso(Date.now()) });
    return undefined;
  }

  // Phase 1: the canary.
  const canarySet = [...current, input.canaryRepo];
  const phase1 = await phase('canary', 'phase_1_canary', canarySet, holds.canaryHold);
  if (phase1) return phase1;

  // Approval before phase 2.
  const phase2Set = [...canarySet, ...input.phase2Repos];
  const plan = await k8s.planAllowlistChange({ repos: phase2Set });
  detail.plan = { current: plan.current, next: plan.next, planHash: plan.planHash };
  record.enterStep(
    'awaiting_approval',
    `canary held ${formatDuration(holds.canaryHold)}: approve phase 2 (+${input.phase2Repos.join(', ')}), planHash ${plan.planHash.slice(0, 12)}…`,
  );
  detail.nextAction = { what: 'approval of phase 2', at: utcIso(Date.now() + policy.approvalTimeout) };
  notices.send({
    kind: 'approval_request',
    severity: 'warning',
    audience: 'approvers',
    recipients: policy.approvers,
    subject: `${tag} canary ${input.canaryRepo} held: approve phase 2 (+${input.phase2Repos.join(', ')})`,
    body: `Next allowlist: ${phase2Set.join(',')}\nApprove: signal "approve" {"approver":"@you","planHash":"${plan.planHash}"}`,
    code: [{ label: 'planHash', text: plan.planHash }],
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

  // Phase 2: three more repos, 24 h.
  const phase2 = await phase('phase2', 'phase_2', phase2Set, holds.phase2Hold);
  if (phase2) return phase2;

  // Phase 3: the rest, 1–2 repos a day, each batch with its own hold.
  // A batch never starts less than a day after the previous one, whatever the batch hold.
  let live = phase2Set;
  let previousBatchStartMs: number | undefined;
  for (let index = 0; index < input.remainingRepos.length; index += policy.reposPerDay) {
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
      if (controls.aborted) return run.abortRun();
    }
    previousBatchStartMs = Date.now();
    live = [...live, ...batch];
    const result = await phase(
      'phase3',
      `phase_3_batch_${index / policy.reposPerDay + 1}`,
      live,
      holds.batchHold,
    );
    if (result) return result;
  }

  // Watch for green (seed 003): hold on the exit targets before declaring recovery.
  detail.phase = 'watch_for_green';
  record.enterStep(
    'watch_for_green',
    `holding ${formatDuration(policy.watchForGreen)} on the exit targets (error rate < ${policy.exitTargets.errorRateMax * 100} %, p95 ≤ baseline + ${policy.exitTargets.p95MaxIncrease * 100} %)`,
  );
  const green = await run.hold(
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
    await run.rollBack(`exit targets not met while watching for green: ${green.reasons.join('; ')}`);
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
