import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { RepoAnalysis, RunbookActivities } from '../../activities';
import { DAY_MS, formatDuration, parseDuration, utcIso } from '../../common/duration';
import { normalizeHandle, sameHandle } from '../../common/identity';
import type { PhasedReenablementPolicy } from '../../common/policy';
import { describeIssuesInline } from '../../common/validation';
import { kubectlMutation, kubectlRead, metricsQuery, policyRead } from '../activity-options';
import { RunControls } from '../shared/gates';
import { parseWorkflowInput } from '../shared/input';
import { statusQuery } from '../shared/messages';
import { describeFailure, Notices } from '../shared/notices';
import { RunRecord } from '../shared/run-record';
import {
  PHASED_REENABLEMENT,
  pausePayloadSchema,
  pauseSignal,
  phasedReenablementInputSchema,
  resumePayloadSchema,
  resumeSignal,
  type AnalysisRecord,
  type Phase,
  type PhasedReenablementInput,
  type ReenablementDetail,
  type ReenablementOutcome,
  type ReenablementResult,
} from './definitions';

const { loadRunbookPolicy } = proxyActivities<RunbookActivities>(policyRead);
const { analyzeRepos } = proxyActivities<RunbookActivities>(metricsQuery);
const k8s = proxyActivities<RunbookActivities>(kubectlRead);
const mutate = proxyActivities<RunbookActivities>(kubectlMutation);

/** Keep the status small: the last analyses only (the count is kept). */
const ANALYSES_KEPT = 30;

/** Seed 002 success criteria for a hold: success ≥ 99 %, p95 < 120 s, zero recurrence. No data = inconclusive. */
export function judgeHold(
  analysis: RepoAnalysis,
  policy: PhasedReenablementPolicy,
): Pick<AnalysisRecord, 'verdict' | 'reasons'> {
  const missing = (['successRate', 'p95LatencySeconds', 'recurrence'] as const).filter(
    (key) => analysis[key] === null,
  );
  if (missing.length) return { verdict: 'inconclusive', reasons: [`no data for ${missing.join(', ')}`] };
  const reasons: string[] = [];
  if (analysis.successRate! < policy.successRateMin)
    reasons.push(
      `success rate ${(analysis.successRate! * 100).toFixed(2)} % < ${policy.successRateMin * 100} %`,
    );
  if (analysis.p95LatencySeconds! >= policy.p95MaxSeconds)
    reasons.push(`p95 ${analysis.p95LatencySeconds!.toFixed(1)} s ≥ ${policy.p95MaxSeconds} s`);
  if (analysis.recurrence! > 0) reasons.push(`${analysis.recurrence} recurrences of the incident symptoms`);
  return reasons.length ? { verdict: 'fail', reasons } : { verdict: 'pass', reasons: [] };
}

/** Seed 003 exit targets: error rate < 0.5 %, p95 within +15 % of the baseline. */
export function judgeGreen(
  analysis: RepoAnalysis,
  policy: PhasedReenablementPolicy,
): Pick<AnalysisRecord, 'verdict' | 'reasons'> {
  if (analysis.errorRate === null || analysis.p95LatencySeconds === null)
    return { verdict: 'inconclusive', reasons: ['no data for the exit targets'] };
  const { errorRateMax, p95BaselineSeconds, p95MaxIncrease } = policy.exitTargets;
  const p95Limit = p95BaselineSeconds * (1 + p95MaxIncrease);
  const reasons: string[] = [];
  if (analysis.errorRate >= errorRateMax)
    reasons.push(`error rate ${(analysis.errorRate * 100).toFixed(2)} % ≥ ${errorRateMax * 100} %`);
  if (analysis.p95LatencySeconds > p95Limit)
    reasons.push(
      `p95 ${analysis.p95LatencySeconds.toFixed(1)} s > baseline ${p95BaselineSeconds} s + ${p95MaxIncrease * 100} %`,
    );
  return reasons.length ? { verdict: 'fail', reasons } : { verdict: 'pass', reasons: [] };
}

/**
 * Phased re-enablement after a rollback to pilot: canary → 4 h hold with periodic analysis →
 * approval → +3 repos → 24 h hold → the rest 1–2 repos a day, each with its hold → watch for green
 * (10–15 min on the exit targets) → recovered. A failing analysis puts the allowlist back to the
 * last good set at once and notifies; an inconclusive one (no data) pauses for a human.
 */
export async function phasedReenablement(rawInput: PhasedReenablementInput): Promise<ReenablementResult> {
  const input = parseWorkflowInput(phasedReenablementInputSchema, rawInput, 'phasedReenablement input');
  const requestedBy = `@${normalizeHandle(input.requestedBy)}`;
  const record = new RunRecord<ReenablementDetail>(PHASED_REENABLEMENT, input.incidentId, {
    requestedBy,
    phase: 'starting',
    reposLive: [],
    lastGood: [],
    pending: [input.canaryRepo, ...input.phase2Repos, ...input.remainingRepos],
    holds: {},
    analyses: [],
    analysisCount: 0,
    phasesCompleted: [],
  });
  setHandler(statusQuery, () => record.status);
  const notices = new Notices(record);
  const controls = new RunControls(record, notices, requestedBy);
  const detail = record.status.detail;
  const tag = `[re-enablement ${input.incidentId}]`;
  record.setMemoSummary(
    `Phased re-enablement after incident ${input.incidentId}: canary ${input.canaryRepo}`,
  );

  let approvers: string[] = [];
  setHandler(pauseSignal, (raw) => {
    const parsed = pausePayloadSchema.safeParse(raw);
    if (!parsed.success)
      return void record.refused({
        signal: 'pause',
        reason: 'invalid_payload',
        detail: describeIssuesInline(parsed.error, 'pause payload'),
      });
    const by = `@${normalizeHandle(parsed.data.by)}`;
    if (!mayControl(by))
      return void record.refused({
        signal: 'pause',
        by,
        reason: 'not_authorized',
        detail: `only ${requestedBy} or the approvers can pause`,
      });
    detail.paused = { by, reason: parsed.data.reason ?? 'paused', since: utcIso(Date.now()), kind: 'manual' };
    record.event('paused', `paused: ${detail.paused.reason}`, by);
  });
  setHandler(resumeSignal, (raw) => {
    const parsed = resumePayloadSchema.safeParse(raw);
    if (!parsed.success)
      return void record.refused({
        signal: 'resume',
        reason: 'invalid_payload',
        detail: describeIssuesInline(parsed.error, 'resume payload'),
      });
    const by = `@${normalizeHandle(parsed.data.by)}`;
    if (!mayControl(by))
      return void record.refused({
        signal: 'resume',
        by,
        reason: 'not_authorized',
        detail: `only ${requestedBy} or the approvers can resume`,
      });
    if (!detail.paused)
      return void record.refused({
        signal: 'resume',
        by,
        reason: 'gate_not_open',
        detail: 'the run is not paused',
      });
    record.event('resumed', `resumed${parsed.data.reason ? `: ${parsed.data.reason}` : ''}`, by);
    delete detail.paused;
  });
  function mayControl(by: string): boolean {
    return sameHandle(by, requestedBy) || approvers.some((who) => sameHandle(who, by));
  }

  const finish = async (outcome: ReenablementOutcome, message: string): Promise<ReenablementResult> => {
    detail.phase = 'done';
    delete detail.nextAction;
    record.finish(outcome, message);
    await notices.settle();
    return {
      runbook: PHASED_REENABLEMENT,
      outcome,
      message,
      incidentId: input.incidentId,
      workflowId: record.status.workflowId,
      reposLive: detail.reposLive,
      lastGood: detail.lastGood,
      phasesCompleted: detail.phasesCompleted,
      analyses: detail.analyses,
      analysisCount: detail.analysisCount,
      steps: record.stepDurations(),
      deadlines: record.status.deadlines,
      refusedAttempts: record.status.refusedAttempts,
      flags: record.status.flags,
      notices: record.status.notices,
    };
  };

  record.enterStep('load_policy', 'reading the worker policy');
  const snapshot = await loadRunbookPolicy({ runbook: 'phasedReenablement' });
  const policy = snapshot.runbook;
  approvers = policy.approvers;
  controls.configure({ approvers: policy.approvers, soleOperator: policy.soleOperator });
  notices.configure(snapshot.notifications);
  const rolloutTimeout = policy.rolloutTimeout;

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
  if (overrideProblems.length) return finish('invalid_input', overrideProblems.join('; '));
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
  const goodSets: string[][] = [current];

  /** Sets the allowlist and waits for the rollout; false when the rollout does not complete. */
  async function apply(repos: string[]): Promise<boolean> {
    await mutate.setAllowlist({ repos });
    const now = await k8s.readAllowlist();
    const rollout = await mutate.rolloutStatus({ timeoutMs: rolloutTimeout });
    detail.reposLive = now;
    return now.join(',') === repos.join(',') && rollout.ok;
  }

  /** Back to the last good set, at once, and tell people. */
  async function rollBack(why: string): Promise<void> {
    const target = goodSets.at(-1)!;
    record.enterStep('roll_back', `analysis failed: allowlist back to ${target.join(',')}`);
    await mutate.setAllowlist({ repos: target });
    await mutate.rolloutStatus({ timeoutMs: rolloutTimeout }).catch(() => undefined);
    detail.reposLive = await k8s.readAllowlist();
    detail.lastGood = target;
    notices.send({
      kind: 'reenablement_rolled_back',
      severity: 'critical',
      audience: 'incident_commander',
      recipients: [requestedBy],
      page: { action: 'trigger', dedupKey: `${record.status.workflowId}/rolled-back` },
      subject: `${tag} re-enablement rolled back to ${target.join(',')}`,
      body: why,
    });
  }

  async function waitWhilePaused(): Promise<'go' | 'aborted'> {
    if (!detail.paused) return 'go';
    record.describe(`paused by ${detail.paused.by}: ${detail.paused.reason}; send "resume" to go on`);
    await condition(() => detail.paused === undefined || controls.aborted !== undefined);
    return controls.aborted ? 'aborted' : 'go';
  }

  /**
   * Holds `repos` for `durationMs`, analysing every interval. Returns how it ended.
   * Inconclusive analyses pause for a human; a manual pause is honoured after the hold.
   */
  async function hold(
    phase: Phase,
    label: string,
    durationMs: number,
    repos: string[],
    judge: typeof judgeHold,
    interval: number,
  ): Promise<{ kind: 'passed' } | { kind: 'failed'; reasons: string[] } | { kind: 'aborted' }> {
    const endMs = Date.now() + durationMs;
    const deadline = `hold_${label}`;
    record.setDeadline(deadline, endMs);
    for (;;) {
      if (controls.aborted) return { kind: 'aborted' };
      let analysis: RepoAnalysis;
      try {
        analysis = await analyzeRepos({ repos, window: windowFor(interval) });
      } catch (error) {
        analysis = {
          window: windowFor(interval),
          repos,
          successRate: null,
          p95LatencySeconds: null,
          errorRate: null,
          recurrence: null,
          queries: [],
          evaluatedAt: utcIso(Date.now()),
        };
        record.event('analysis_failed', `metrics unavailable: ${describeFailure(error)}`);
      }
      const judged = judge(analysis, policy);
      const entry: AnalysisRecord = { ...analysis, ...judged, phase };
      detail.analysisCount += 1;
      detail.analyses.push(entry);
      if (detail.analyses.length > ANALYSES_KEPT) detail.analyses.shift();
      if (judged.verdict === 'fail') {
        record.resolveDeadline(deadline, 'cancelled');
        return { kind: 'failed', reasons: judged.reasons };
      }
      if (judged.verdict === 'inconclusive') {
        detail.paused = {
          by: 'analysis',
          reason: `inconclusive: ${judged.reasons.join('; ')}`,
          since: utcIso(Date.now()),
          kind: 'inconclusive',
        };
        notices.send({
          kind: 'reenablement_inconclusive',
          severity: 'warning',
          audience: 'incident_commander',
          recipients: [requestedBy],
          subject: `${tag} analysis inconclusive during ${label}: paused for a human`,
          body: `${judged.reasons.join('; ')}.\nCheck the metrics, then send "resume" {"by"} to continue or "abort" {"by","reason"} to stop.`,
        });
        if ((await waitWhilePaused()) === 'aborted') return { kind: 'aborted' };
        continue;
      }
      if (Date.now() >= endMs) break;
      detail.nextAction = {
        what: `${label}: next analysis (hold ends ${utcIso(endMs)})`,
        at: utcIso(Math.min(Date.now() + interval, endMs)),
      };
      await condition(
        () => controls.aborted !== undefined,
        Math.max(Math.min(interval, endMs - Date.now()), 1),
        {
          summary: `${label} hold until ${utcIso(endMs)}: next analysis`,
        },
      );
    }
    record.resolveDeadline(deadline, 'met');
    if ((await waitWhilePaused()) === 'aborted') return { kind: 'aborted' };
    return { kind: 'passed' };
  }

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
    if (!(await apply(repos))) {
      await rollBack(`${label}: the allowlist change did not roll out`);
      return finish(
        'rollout_failed',
        `${label}: the rollout did not complete; allowlist back to ${goodSets.at(-1)!.join(',')}`,
      );
    }
    const ended = await hold(name, label, holdMs, repos, judgeHold, policy.analysisInterval);
    if (ended.kind === 'aborted') return abortRun();
    if (ended.kind === 'failed') {
      await rollBack(`${label} failed its analysis: ${ended.reasons.join('; ')}`);
      return finish(
        'rolled_back',
        `${label} failed (${ended.reasons.join('; ')}); allowlist back to the last good set ${goodSets.at(-1)!.join(',')}`,
      );
    }
    goodSets.push(repos);
    detail.lastGood = repos;
    detail.pending = detail.pending.filter((repo) => !repos.includes(repo));
    detail.phasesCompleted.push({ phase: name, repos: added, at: utcIso(Date.now()) });
    return undefined;
  }

  function abortRun(): Promise<ReenablementResult> {
    const abort = controls.aborted!;
    return finish(
      'aborted',
      `aborted by ${abort.by}: ${abort.reason}; the allowlist stays ${detail.reposLive.join(',')}`,
    );
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
    return finish(
      'rejected',
      `phase 2 rejected by ${decision.approver}: ${decision.reason}; the allowlist stays ${detail.reposLive.join(',')}`,
    );
  if (decision.kind === 'expired')
    return finish(
      'approval_expired',
      `no approval for phase 2 within ${formatDuration(policy.approvalTimeout)}; the allowlist stays ${detail.reposLive.join(',')}`,
    );
  if (decision.kind === 'aborted') return abortRun();
  delete detail.plan;

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
      if (controls.aborted) return abortRun();
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
  const green = await hold(
    'watch_for_green',
    'watch_for_green',
    policy.watchForGreen,
    live,
    judgeGreen,
    policy.watchInterval,
  );
  if (green.kind === 'aborted') return abortRun();
  if (green.kind === 'failed') {
    goodSets.pop(); // the last batch is not good after all
    await rollBack(`exit targets not met while watching for green: ${green.reasons.join('; ')}`);
    return finish(
      'watch_for_green_failed',
      `exit targets not met (${green.reasons.join('; ')}); allowlist back to ${goodSets.at(-1)!.join(',')}`,
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
  return finish(
    'recovered',
    `all repos re-enabled (${live.length}) and green for ${formatDuration(policy.watchForGreen)}`,
  );
}

function windowFor(intervalMs: number): string {
  return `${Math.max(1, Math.round(intervalMs / 60_000))}m`;
}
