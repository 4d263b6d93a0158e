import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { z } from 'zod';
import type { RepoAnalysis, RunbookActivities, RunbookPolicySnapshot } from '../../activities';
import { utcIso } from '../../common/duration';
import { normalizeHandle, sameHandle } from '../../common/identity';
import { describeIssuesInline } from '../../common/validation';
import { kubectlMutation, kubectlRead, metricsQuery } from '../activity-options';
import { RunControls } from '../shared/gates';
import { statusQuery } from '../shared/messages';
import { describeFailure, Notices } from '../shared/notices';
import { RunRecord } from '../shared/run-record';
import {
  PHASED_REENABLEMENT,
  pausePayloadSchema,
  pauseSignal,
  resumePayloadSchema,
  resumeSignal,
  type AnalysisRecord,
  type Phase,
  type phasedReenablementInputSchema,
  type ReenablementDetail,
  type ReenablementOutcome,
  type ReenablementResult,
} from './definitions';
import type { judgeHold } from './judge';

const { analyzeRepos } = proxyActivities<RunbookActivities>(metricsQuery);
const k8s = proxyActivities<RunbookActivities>(kubectlRead);
const mutate = proxyActivities<RunbookActivities>(kubectlMutation);

/** Keep the status small: the last analyses only (the count is kept). */
const ANALYSES_KEPT = 30;

type ParsedInput = z.output<typeof phasedReenablementInputSchema>;
type Policy = RunbookPolicySnapshot<'phasedReenablement'>['runbook'];
export type HoldEnd = { kind: 'passed' } | { kind: 'failed'; reasons: string[] } | { kind: 'aborted' };

/**
 * One re-enablement run: its record, notices, gate (approve / reject / abort) and the pause /
 * resume messages, installed before the first await; and the moves every phase makes: apply a set,
 * hold it with analyses, roll back to the last good set.
 */
export class ReenablementRun {
  readonly record: RunRecord<ReenablementDetail>;
  readonly detail: ReenablementDetail;
  readonly notices: Notices;
  readonly controls: RunControls;
  readonly requestedBy: string;
  readonly tag: string;
  /** Every set that passed its hold, the last one being the current good set. */
  readonly goodSets: string[][] = [];
  private approvers: string[] = [];
  private policyValue?: Policy;

  constructor(readonly input: ParsedInput) {
    this.requestedBy = `@${normalizeHandle(input.requestedBy)}`;
    this.record = new RunRecord<ReenablementDetail>(PHASED_REENABLEMENT, input.incidentId, {
      requestedBy: this.requestedBy,
      phase: 'starting',
      reposLive: [],
      lastGood: [],
      pending: [input.canaryRepo, ...input.phase2Repos, ...input.remainingRepos],
      holds: {},
      analyses: [],
      analysisCount: 0,
      phasesCompleted: [],
    });
    setHandler(statusQuery, () => this.record.status);
    this.notices = new Notices(this.record);
    this.controls = new RunControls(this.record, this.notices, this.requestedBy);
    this.detail = this.record.status.detail;
    this.tag = `[re-enablement ${input.incidentId}]`;
    this.record.setMemoSummary(
      `Phased re-enablement after incident ${input.incidentId}: canary ${input.canaryRepo}`,
    );
    setHandler(pauseSignal, (raw) => this.onPause(raw));
    setHandler(resumeSignal, (raw) => this.onResume(raw));
  }

  get policy(): Policy {
    return this.policyValue!;
  }

  configure(snapshot: RunbookPolicySnapshot<'phasedReenablement'>): void {
    this.policyValue = snapshot.runbook;
    this.approvers = snapshot.runbook.approvers;
    this.controls.configure({
      approvers: snapshot.runbook.approvers,
      soleOperator: snapshot.runbook.soleOperator,
    });
    this.notices.configure(snapshot.notifications);
  }

  async finish(outcome: ReenablementOutcome, message: string): Promise<ReenablementResult> {
    const { record, detail } = this;
    detail.phase = 'done';
    delete detail.nextAction;
    record.finish(outcome, message);
    await this.notices.settle();
    return {
      runbook: PHASED_REENABLEMENT,
      outcome,
      message,
      incidentId: this.input.incidentId,
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
  }

  abortRun(): Promise<ReenablementResult> {
    const abort = this.controls.aborted!;
    return this.finish(
      'aborted',
      `aborted by ${abort.by}: ${abort.reason}; the allowlist stays ${this.detail.reposLive.join(',')}`,
    );
  }

  /** Sets the allowlist and waits for the rollout; false when the rollout does not complete. */
  async apply(repos: string[]): Promise<boolean> {
    await mutate.setAllowlist({ repos });
    const now = await k8s.readAllowlist();
    const rollout = await mutate.rolloutStatus({ timeoutMs: this.policy.rolloutTimeout });
    this.detail.reposLive = now;
    return now.join(',') === repos.join(',') && rollout.ok;
  }

  /** Back to the last good set, at once, and tell people. */
  async rollBack(why: string): Promise<void> {
    const target = this.goodSets.at(-1)!;
    this.record.enterStep('roll_back', `analysis failed: allowlist back to ${target.join(',')}`);
    await mutate.setAllowlist({ repos: target });
    await mutate.rolloutStatus({ timeoutMs: this.policy.rolloutTimeout }).catch(() => undefined);
    this.detail.reposLive = await k8s.readAllowlist();
    this.detail.lastGood = target;
    this.notices.send({
      kind: 'reenablement_rolled_back',
      severity: 'critical',
      audience: 'incident_commander',
      recipients: [this.requestedBy],
      page: { action: 'trigger', dedupKey: `${this.record.status.workflowId}/rolled-back` },
      subject: `${this.tag} re-enablement rolled back to ${target.join(',')}`,
      body: why,
    });
  }

  async waitWhilePaused(): Promise<'go' | 'aborted'> {
    const { detail, controls } = this;
    if (!detail.paused) return 'go';
    this.record.describe(`paused by ${detail.paused.by}: ${detail.paused.reason}; send "resume" to go on`);
    await condition(() => detail.paused === undefined || controls.aborted !== undefined);
    return controls.aborted ? 'aborted' : 'go';
  }

  /**
   * Holds `repos` for `durationMs`, analysing every interval. Returns how it ended.
   * Inconclusive analyses pause for a human; a manual pause is honoured after the hold.
   */
  async hold(
    phase: Phase,
    label: string,
    durationMs: number,
    repos: string[],
    judge: typeof judgeHold,
    interval: number,
  ): Promise<HoldEnd> {
    const { record, detail, controls } = this;
    const endMs = Date.now() + durationMs;
    const deadline = `hold_${label}`;
    record.setDeadline(deadline, endMs);
    for (;;) {
      if (controls.aborted) return { kind: 'aborted' };
      const analysis = await this.analyse(repos, interval);
      const judged = judge(analysis, this.policy);
      detail.analysisCount += 1;
      detail.analyses.push({ ...analysis, ...judged, phase } satisfies AnalysisRecord);
      if (detail.analyses.length > ANALYSES_KEPT) detail.analyses.shift();
      if (judged.verdict === 'fail') {
        record.resolveDeadline(deadline, 'cancelled');
        return { kind: 'failed', reasons: judged.reasons };
      }
      if (judged.verdict === 'inconclusive') {
        if ((await this.pauseForInconclusive(label, judged.reasons)) === 'aborted')
          return { kind: 'aborted' };
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
    if ((await this.waitWhilePaused()) === 'aborted') return { kind: 'aborted' };
    return { kind: 'passed' };
  }

  /** One analysis; metrics that cannot be read count as no data (inconclusive). */
  private async analyse(repos: string[], interval: number): Promise<RepoAnalysis> {
    try {
      return await analyzeRepos({ repos, window: windowFor(interval) });
    } catch (error) {
      this.record.event('analysis_failed', `metrics unavailable: ${describeFailure(error)}`);
      return {
        window: windowFor(interval),
        repos,
        successRate: null,
        p95LatencySeconds: null,
        errorRate: null,
        recurrence: null,
        queries: [],
        evaluatedAt: utcIso(Date.now()),
      };
    }
  }

  private pauseForInconclusive(label: string, reasons: string[]): Promise<'go' | 'aborted'> {
    this.detail.paused = {
      by: 'analysis',
      reason: `inconclusive: ${reasons.join('; ')}`,
      since: utcIso(Date.now()),
      kind: 'inconclusive',
    };
    this.notices.send({
      kind: 'reenablement_inconclusive',
      severity: 'warning',
      audience: 'incident_commander',
      recipients: [this.requestedBy],
      subject: `${this.tag} analysis inconclusive during ${label}: paused for a human`,
      body: `${reasons.join('; ')}.\nCheck the metrics, then send "resume" {"by"} to continue or "abort" {"by","reason"} to stop.`,
    });
    return this.waitWhilePaused();
  }

  private mayControl(by: string): boolean {
    return sameHandle(by, this.requestedBy) || this.approvers.some((who) => sameHandle(who, by));
  }

  private onPause(raw: unknown): void {
    const { record, detail } = this;
    const parsed = pausePayloadSchema.safeParse(raw);
    if (!parsed.success)
      return void record.refused({
        signal: 'pause',
        reason: 'invalid_payload',
        detail: describeIssuesInline(parsed.error, 'pause payload'),
      });
    const by = `@${normalizeHandle(parsed.data.by)}`;
    if (!this.mayControl(by))
      return void record.refused({
        signal: 'pause',
        by,
        reason: 'not_authorized',
        detail: `only ${this.requestedBy} or the approvers can pause`,
      });
    detail.paused = { by, reason: parsed.data.reason ?? 'paused', since: utcIso(Date.now()), kind: 'manual' };
    record.event('paused', `paused: ${detail.paused.reason}`, by);
  }

  private onResume(raw: unknown): void {
    const { record, detail } = this;
    const parsed = resumePayloadSchema.safeParse(raw);
    if (!parsed.success)
      return void record.refused({
        signal: 'resume',
        reason: 'invalid_payload',
        detail: describeIssuesInline(parsed.error, 'resume payload'),
      });
    const by = `@${normalizeHandle(parsed.data.by)}`;
    if (!this.mayControl(by))
      return void record.refused({
        signal: 'resume',
        by,
        reason: 'not_authorized',
        detail: `only ${this.requestedBy} or the approvers can resume`,
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
  }
}

export function windowFor(intervalMs: number): string {
  return `${Math.max(1, Math.round(intervalMs / 60_000))}m`;
}
