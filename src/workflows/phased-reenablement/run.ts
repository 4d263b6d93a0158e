import { handleDecision } from '../shared/decisions';
import { allHandlersFinished, condition, continueAsNew, setHandler } from '@temporalio/workflow';
import type { z } from 'zod';
import type { RunbookPolicySnapshot } from '../../activities';
import { utcIso } from '../../common/duration';
import { normalizeHandle, sameHandle } from '../../common/identity';
import { describeIssuesInline } from '../../common/validation';
import { FailSafe } from '../shared/fail-safe';
import { RunControls } from '../shared/gates';
import { isPatched, PATCHES } from '../shared/patches';
import { rollBack } from './allowlist';
import { handleSoakWaiver } from './soak';
import { statusQuery } from '../shared/messages';
import { Notices } from '../shared/notices';
import { RunRecord } from '../shared/run-record';
import {
  PHASED_REENABLEMENT,
  pausePayloadSchema,
  pauseMessage,
  resumePayloadSchema,
  resumeMessage,
  type phasedReenablementInputSchema,
  type PhasedReenablementInput,
  type ReenablementCarry,
  type ReenablementDetail,
  type ReenablementOutcome,
  type ReenablementResult,
} from './definitions';

type ParsedInput = z.output<typeof phasedReenablementInputSchema>;
type Policy = RunbookPolicySnapshot<'phasedReenablement'>['runbook'];

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
  readonly failSafe: FailSafe;
  readonly requestedBy: string;
  readonly tag: string;
  /** Every set that passed its hold, the last one being the current good set. */
  readonly goodSets: string[][] = [];
  /** The incidents whose change freezes this programme crossed at its start (the input's override). */
  crossedFreezes: string[] = [];
  /** When the change freezes were last read (a phase right after that read does not read them again). */
  freezesReadAtMs?: number;
  /**
   * An inconclusive pause paged the requester (dedup key `<workflowId>/inconclusive`); the page is
   * resolved when the pause or the run ends. A pause carried over a continue-as-new may have paged.
   */
  inconclusivePageOpen = false;
  private approvers: string[] = [];
  private policyValue?: Policy;

  constructor(readonly input: ParsedInput) {
    this.requestedBy = `@${normalizeHandle(input.requestedBy)}`;
    const carry = input.continued;
    this.record = new RunRecord<ReenablementDetail>(
      PHASED_REENABLEMENT,
      input.incidentId,
      carry
        ? {
            requestedBy: this.requestedBy,
            phase: 'phase3',
            reposLive: carry.live,
            lastGood: carry.goodSets.at(-1)!,
            pending: input.remainingRepos.slice(carry.nextBatchIndex),
            holds: carry.holds,
            analyses: [],
            analysisCount: carry.analysisCount,
            phasesCompleted: carry.phasesCompleted,
            ...(carry.alertRules ? { alertRules: carry.alertRules } : {}),
            ...(carry.paused ? { paused: carry.paused } : {}),
            program: { run: carry.runsBefore + 1, startedAt: carry.programStartedAt },
          }
        : {
            requestedBy: this.requestedBy,
            phase: 'starting',
            reposLive: [],
            lastGood: [],
            pending: [input.canaryRepo, ...input.phase2Repos, ...input.remainingRepos],
            holds: {},
            analyses: [],
            analysisCount: 0,
            phasesCompleted: [],
          },
    );
    if (carry) {
      this.record.carryTrail(carry.trail);
      this.goodSets.push(...carry.goodSets);
      this.crossedFreezes = carry.crossedFreezes ?? [];
      this.inconclusivePageOpen = carry.paused?.kind === 'inconclusive';
    }
    setHandler(statusQuery, () => this.record.status);
    this.notices = new Notices(this.record);
    this.controls = new RunControls(this.record, this.notices, this.requestedBy);
    this.detail = this.record.status.detail;
    this.tag = `[re-enablement ${input.incidentId}]`;
    // What this run's cancellation must resolve includes the page of a pause carried over.
    if (this.inconclusivePageOpen)
      this.notices.carryOpenPage({
        dedupKey: this.inconclusivePageKey,
        kind: 'reenablement_inconclusive',
        audience: 'incident_commander',
        recipients: [this.requestedBy],
        subject: `${this.tag} analysis inconclusive: paused for a human (before run ${carry!.runsBefore + 1})`,
      });
    this.record.setMemoSummary(
      `Phased re-enablement after incident ${input.incidentId}: canary ${input.canaryRepo}`,
    );
    handleDecision(this.record, pauseMessage, (raw) => this.onPause(raw));
    handleDecision(this.record, resumeMessage, (raw) => this.onResume(raw));
    handleSoakWaiver(this);
    this.failSafe = new FailSafe(this.record, this.notices, {
      tag: this.tag,
      incidentCommander: this.requestedBy,
      mayDecide: (by) => this.mayControl(by),
      account: () =>
        `allowlist ${this.detail.reposLive.join(',')}; last good set ${(this.goodSets.at(-1) ?? []).join(',')}; phases done: ${this.detail.phasesCompleted.map((p) => p.phase).join(', ') || 'none'}`,
    });
    this.controls.attachFailSafe(this.failSafe);
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
      quorum: snapshot.runbook.quorum,
      requireSignedApprovals: snapshot.runbook.requireSignedApprovals,
      signatureMaxAge: snapshot.runbook.signatureMaxAge,
    });
    this.notices.configure(snapshot.notifications);
    this.failSafe.configure(snapshot.failSafe);
    this.record.markTestOnlyIf(snapshot.testOnlyShortDurations);
  }

  /**
   * Hands the programme to a new run of the same workflow id after a phase-3 batch: the live and
   * last good sets, the pacing and pause state, what was done so far. Messages being handled are
   * finished first (an Update is never cut off) and notices delivered.
   */
  async continueAsNew(next: { batchIndex: number; previousBatchStartMs: number }): Promise<never> {
    const { detail, record, input } = this;
    await this.notices.settle();
    await condition(allHandlersFinished);
    const carry: ReenablementCarry = {
      runsBefore: (input.continued?.runsBefore ?? 0) + 1,
      programStartedAt: input.continued?.programStartedAt ?? record.status.startedAt,
      holds: detail.holds as ReenablementCarry['holds'],
      live: detail.reposLive,
      goodSets: this.goodSets.slice(-2),
      nextBatchIndex: next.batchIndex,
      previousBatchStartMs: next.previousBatchStartMs,
      ...(detail.paused ? { paused: detail.paused } : {}),
      ...(detail.alertRules ? { alertRules: detail.alertRules } : {}),
      phasesCompleted: detail.phasesCompleted,
      analysisCount: detail.analysisCount,
      ...(this.crossedFreezes.length ? { crossedFreezes: this.crossedFreezes } : {}),
      trail: record.trailToCarry(),
    };
    record.event(
      'continued_as_new',
      `run ${carry.runsBefore} done: ${detail.phasesCompleted.length} phases, ${detail.reposLive.length} repos live; the programme goes on in a new run (same workflow id)`,
    );
    return continueAsNew<(input: PhasedReenablementInput) => Promise<ReenablementResult>>({
      ...input,
      continued: carry,
    });
  }

  async finish(outcome: ReenablementOutcome, message: string): Promise<ReenablementResult> {
    const { record, detail } = this;
    detail.phase = 'done';
    delete detail.nextAction;
    this.resolveInconclusivePage(`the run ended ${outcome}`);
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
      ...(detail.abort ? { abort: detail.abort } : {}),
      ...(detail.alertRules ? { alertRules: detail.alertRules } : {}),
      phasesCompleted: detail.phasesCompleted,
      analyses: detail.analyses,
      analysisCount: detail.analysisCount,
      ...(detail.stagingSoak ? { stagingSoak: detail.stagingSoak } : {}),
      ...(detail.dryRun ? { dryRun: detail.dryRun } : {}),
      deadlines: record.status.deadlines,
      ...(detail.program ? { runs: detail.program.run } : {}),
      ...record.resultTrail(),
    };
  }

  /**
   * An abort: the allowlist goes back to the last good set (an unvalidated set is not left live)
   * unless the operator asked to keep it (`keepLive`); the result says which.
   */
  async abortRun(
    abort: { by: string; reason: string; keepLive?: boolean } = this.controls.aborted!,
  ): Promise<ReenablementResult> {
    const { detail } = this;
    const lastGood = this.goodSets.at(-1)!;
    const differs = detail.reposLive.join(',') !== lastGood.join(',');
    if (!isPatched(PATCHES.abortReturnsToLastGood) || !differs || abort.keepLive) {
      if (differs)
        detail.abort = {
          by: abort.by,
          reason: abort.reason,
          allowlist: 'left_as_is',
          repos: detail.reposLive,
        };
      return this.finish(
        'aborted',
        `aborted by ${abort.by}: ${abort.reason}; the allowlist stays ${detail.reposLive.join(',')}${differs && abort.keepLive ? ' (kept, as asked)' : ''}`,
      );
    }
    const back = await rollBack(this, `aborted by ${abort.by}: ${abort.reason}`);
    detail.abort = {
      by: abort.by,
      reason: abort.reason,
      allowlist: back.kind === 'done' ? 'back_to_last_good' : 'left_as_is',
      repos: detail.reposLive,
    };
    return this.finish(
      'aborted',
      `aborted by ${abort.by}: ${abort.reason}; ${back.kind === 'done' ? `allowlist back to the last good set ${lastGood.join(',')}` : `the allowlist stays ${detail.reposLive.join(',')} (going back failed and ${back.by} decided ${back.kind})`}`,
    );
  }

  /**
   * The end of the run when a step that failed for good was aborted by a human. Before the first
   * read of the allowlist there is no good set yet (the read itself failed): nothing was changed.
   */
  abortedAfterFailure(outcome: { by: string; reason?: string }, step: string): Promise<ReenablementResult> {
    const lastGood = this.goodSets.at(-1);
    return this.finish(
      'needs_human_aborted',
      `${step} failed and ${outcome.by} aborted the run${outcome.reason ? `: ${outcome.reason}` : ''}; ${
        lastGood
          ? `the allowlist is ${this.detail.reposLive.join(',')}, the last good set ${lastGood.join(',')}`
          : 'the allowlist was not read and nothing was changed'
      }`,
    );
  }

  async waitWhilePaused(): Promise<'go' | 'aborted'> {
    const { detail, controls } = this;
    if (!detail.paused) return 'go';
    this.record.describe(`paused by ${detail.paused.by}: ${detail.paused.reason}; send "resume" to go on`);
    await condition(() => detail.paused === undefined || controls.aborted !== undefined);
    return controls.aborted ? 'aborted' : 'go';
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
    if (detail.paused.kind === 'inconclusive') this.resolveInconclusivePage(`resumed by ${by}`);
    delete detail.paused;
  }

  get inconclusivePageKey(): string {
    return `${this.record.status.workflowId}/inconclusive`;
  }

  /** The inconclusive pause's page, resolved once a person has resumed or the run has ended. */
  resolveInconclusivePage(why: string): void {
    if (!this.inconclusivePageOpen || !isPatched(PATCHES.inconclusivePageResolved)) return;
    this.inconclusivePageOpen = false;
    this.notices.send({
      kind: 'reenablement_inconclusive',
      severity: 'info',
      audience: 'incident_commander',
      recipients: [this.requestedBy],
      page: { action: 'resolve', dedupKey: this.inconclusivePageKey },
      subject: `${this.tag} inconclusive pause over: ${why}`,
      body: why,
    });
  }
}
