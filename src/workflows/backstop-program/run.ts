import { handleDecision } from '../shared/decisions';
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { RunbookActivities, RunbookPolicySnapshot } from '../../activities';
import { checkpointSchedule, mergeDayStartMs, type CheckpointName } from '../../common/backstop';
import type { StoryProgram } from '../../common/policy';
import { utcIso } from '../../common/duration';
import { normalizeHandle, sameHandle } from '../../common/identity';
import { describeIssuesInline } from '../../common/validation';
import { notification } from '../activity-options';
import { FailSafe, type GuardedStep } from '../shared/fail-safe';
import { statusQuery } from '../shared/messages';
import { isPatched, PATCHES } from '../shared/patches';
import { describeFailure, Notices } from '../shared/notices';
import { RunRecord } from '../shared/run-record';
import { sleepRecordingDecisions } from './sleep';
import { keepDecision, keepEnd } from './story-ledger';
import {
  BACKSTOP_PROGRAM,
  backstopMemoSummary,
  EVIDENCE_CARRIED,
  LISTED_CARRIED,
  decisionPayloadSchema,
  recordDecisionMessage,
  type BackstopCarry,
  type BackstopDetail,
  type BackstopInput,
  type ParsedBackstopInput,
  type BackstopOutcome,
  type BackstopResult,
  type CheckpointEvidence,
  targetsInInput,
  type DecisionRecord,
} from './definitions';

const trackers = proxyActivities<RunbookActivities>(notification);

/** The backstop section, and whether the worker runs release rollbacks (a revert then starts one). */
type Policy = RunbookPolicySnapshot<'backstop'>['runbook'] & { releaseRollbackServed?: boolean };

/** Runs started before the policy declared story programs carried their targets in the input. */
function programFromInput(input: ParsedBackstopInput): StoryProgram {
  return {
    dri: `@${normalizeHandle(input.dri ?? 'unassigned')}`,
    deciders: [],
    openProject: input.openProject ?? { epicId: 1, storyWorkPackageId: 1 },
    github: input.github ?? { repository: 'unknown/unknown', gateFailureLabel: 'gate-failure' },
    consoleRestoreProbeUrl: input.consoleRestoreProbeUrl ?? 'http://127.0.0.1:9/',
  };
}

/**
 * The story's program as the policy declares it. The input names the story and the merge only:
 * one that also names targets, or a story the policy does not declare, fails the program at once.
 */
function programFromPolicy(
  input: ParsedBackstopInput,
  policy: Policy,
  storiesDeclared: number | undefined,
): StoryProgram {
  const chosen = targetsInInput(input);
  if (chosen.length)
    throw ApplicationFailure.create({
      type: 'InvalidInput',
      nonRetryable: true,
      message: `backstopProgram input: ${chosen.join(', ')} come from the policy (runbooks.backstop.stories["${input.storyId}"]), not from whoever starts the program; give only storyId, mergeSha and mergedAt`,
    });
  const declared = policy.stories[input.storyId];
  if (!declared)
    throw ApplicationFailure.create({
      type: 'RunbookNotServed',
      nonRetryable: true,
      message: `backstopProgram: story ${input.storyId} is not declared in this worker's policy (runbooks.backstop.stories); ${storiesDeclared === undefined ? `declared: ${Object.keys(policy.stories).join(', ') || 'none'}` : `it declares ${storiesDeclared} other${storiesDeclared === 1 ? '' : 's'}`}`,
    });
  return { ...declared, dri: `@${normalizeHandle(declared.dri)}` };
}

/** A checkpoint's reading for the next run: its lists trimmed (the counts say how many there were). */
function summariseEvidence(evidence: CheckpointEvidence): CheckpointEvidence {
  const { children, gateFailureIssues } = evidence;
  return {
    ...evidence,
    ...(children ? { children: children.slice(0, LISTED_CARRIED), childrenTotal: children.length } : {}),
    ...(gateFailureIssues
      ? {
          gateFailureIssues: gateFailureIssues.slice(0, LISTED_CARRIED),
          gateFailureIssuesTotal: gateFailureIssues.length,
        }
      : {}),
  };
}

/** The DRI (or a decider) aborted the program while a step waited for a human. */
export class ProgramAborted extends Error {
  override name = 'ProgramAborted';
  constructor(
    readonly by: string,
    readonly step: string,
    readonly reason?: string,
  ) {
    super(`aborted by ${by} while ${step} waited for a human${reason ? `: ${reason}` : ''}`);
  }
}

/**
 * One backstop program: its record, notices and the decision message (accepted only while a
 * decision is asked for, only from the DRI or the policy's deciders), installed before the first
 * await; and what every checkpoint does: comment on the trackers, write decisions down, sleep.
 */
export class BackstopRun {
  readonly record: RunRecord<BackstopDetail>;
  readonly detail: BackstopDetail;
  readonly notices: Notices;
  readonly failSafe: FailSafe;
  readonly tag: string;
  readonly workflowId: string;
  /** Whom the program pages and what it reads: from the policy (or, for runs before that, the input). */
  private programValue: StoryProgram;
  readonly schedule: ReturnType<typeof checkpointSchedule>;
  /** Decisions received and not yet written on the story's work package. */
  private readonly inbox: DecisionRecord[] = [];
  private deciderList: string[] = [];
  /** Decisions and the end are kept per story in Postgres (runs since backstop-story-ledger-v1). */
  storyLedger = false;
  /** The story's DRI, trackers and probe come from the policy (runs since backstop-story-from-policy-v1). */
  storyFromPolicy = false;
  /** The first checkpoint this run handles (a continued run starts after the ones before it). */
  readonly firstCheckpointIndex: number;
  /** When the program's first run started: checkpoints past by then are caught up (marked late). */
  readonly programStartedMs: number;
  /** `guarded`, bound: for helpers that take the fail-safe as a function. */
  readonly guard = <T>(step: GuardedStep, work: () => Promise<T>): Promise<T | undefined> =>
    this.guarded(step, work);
  private policyValue?: Policy;

  constructor(readonly input: ParsedBackstopInput) {
    const mergedAtMs = Date.parse(input.mergedAt);
    const carry = input.continued;
    this.programValue = programFromInput(input);
    if (carry) {
      this.programValue.dri = carry.dri;
      this.deciderList = carry.deciders;
      this.storyLedger = carry.modes.storyLedger;
    }
    this.firstCheckpointIndex = carry?.nextCheckpointIndex ?? 0;
    this.programStartedMs = carry ? Date.parse(carry.programStartedAt) : workflowInfo().startTime.getTime();
    this.schedule = checkpointSchedule(mergedAtMs);
    this.record = new RunRecord<BackstopDetail>(BACKSTOP_PROGRAM, input.storyId, {
      storyId: input.storyId,
      mergeSha: input.mergeSha,
      mergedAt: utcIso(mergedAtMs),
      mergeDay: utcIso(mergeDayStartMs(mergedAtMs)),
      dri: this.programValue.dri,
      checkpoints: carry
        ? carry.checkpoints
        : this.schedule.map((cp) => ({ name: cp.name, at: utcIso(cp.atMs), state: 'pending' })),
      evidence: (carry?.evidence ?? []) as unknown as CheckpointEvidence[],
      decisions: carry?.decisions ?? [],
      ...(carry?.awaiting ? { awaiting: carry.awaiting } : {}),
      ...(carry?.waiver ? { waiver: carry.waiver } : {}),
      ...(carry?.story ? { story: carry.story } : {}),
      ...(carry?.gateFailureIssue ? { gateFailureIssue: carry.gateFailureIssue } : {}),
      ...(carry ? { program: { run: carry.runsBefore + 1, startedAt: carry.programStartedAt } } : {}),
    });
    if (carry) {
      this.record.carryTrail(carry.trail);
      // Decisions the previous run had not yet written on the work package are written by this one.
      this.inbox.push(...this.record.status.detail.decisions.filter((d) => d.recordedOn === undefined));
    }
    setHandler(statusQuery, () => this.record.status);
    this.detail = this.record.status.detail;
    this.notices = new Notices(this.record);
    this.workflowId = workflowInfo().workflowId;
    this.tag = `[backstop ${input.storyId}]`;
    this.record.setMemoSummary(
      backstopMemoSummary(
        input.storyId,
        input.mergeSha,
        this.detail.mergeDay,
        this.detail.checkpoints[2]!.at,
      ),
    );
    handleDecision(this.record, recordDecisionMessage, (raw) => this.onDecision(raw));
    const driNow = (): string => this.dri;
    this.failSafe = new FailSafe(this.record, this.notices, {
      tag: this.tag,
      // Read when a page goes out: the DRI is known once the policy is read.
      get incidentCommander() {
        return driNow();
      },
      mayDecide: (by) => this.mayDecide(by),
      account: () =>
        this.detail.checkpoints
          .map((cp) => `${cp.name} ${cp.state}${cp.verdict ? ` (${cp.verdict})` : ''}`)
          .join('; '),
    });
  }

  get policy(): Policy {
    return this.policyValue!;
  }

  get program(): StoryProgram {
    return this.programValue;
  }

  get dri(): string {
    return this.programValue.dri;
  }

  /** Text the gate-failure search looks for. */
  get search(): string {
    return this.programValue.github.search ?? this.input.storyId;
  }

  /** The DRI and the policy's deciders decide, for the program and its failed steps. */
  mayDecide(by: string): boolean {
    return sameHandle(by, this.dri) || this.deciderList.some((who) => sameHandle(who, by));
  }

  /** Besides the DRI, who may record a decision. */
  get deciders(): string[] {
    return this.deciderList;
  }

  configure(snapshot: RunbookPolicySnapshot<'backstop'>): void {
    this.policyValue = { ...snapshot.runbook, releaseRollbackServed: !!snapshot.releaseRollbackServed };
    this.deciderList = snapshot.runbook.deciders;
    // A continued run takes its story the way the program's first run did.
    const carried = this.input.continued?.modes.storyFromPolicy;
    if (carried ?? isPatched(PATCHES.backstopStoryFromPolicy)) {
      this.storyFromPolicy = true;
      this.programValue = programFromPolicy(this.input, snapshot.runbook, snapshot.storiesDeclared);
      this.detail.dri = this.programValue.dri;
      this.deciderList = [...snapshot.runbook.deciders, ...this.programValue.deciders];
    }
    this.notices.configure(snapshot.notifications);
    this.failSafe.configure(snapshot.failSafe);
    this.record.markTestOnlyIf(snapshot.testOnlyShortDurations);
  }

  /** Comments on the story's work package (and the epic's when asked), once per key. */
  async comment(key: string, markdown: string, alsoEpic = false): Promise<void> {
    const { openProject } = this.program;
    const targets = [openProject.storyWorkPackageId, ...(alsoEpic ? [openProject.epicId] : [])];
    for (const workPackageId of targets) {
      if (isPatched(PATCHES.backstopFailSafe)) {
        await this.guarded(
          {
            name: 'tracker_comment',
            what: `comment on wp#${workPackageId} (${key})`,
            skip: 'go on without this comment (post it by hand)',
          },
          () =>
            trackers.commentOnWorkPackage({
              channel: this.policy.openProjectChannel,
              workPackageId,
              markdown,
              deliveryKey: `${this.workflowId}/${key}/wp-${workPackageId}`,
            }),
        );
        continue;
      }
      try {
        await trackers.commentOnWorkPackage({
          channel: this.policy.openProjectChannel,
          workPackageId,
          markdown,
          deliveryKey: `${this.workflowId}/${key}/wp-${workPackageId}`,
        });
      } catch (error) {
        this.record.flag(
          'comment_failed',
          `could not comment on wp#${workPackageId}: ${describeFailure(error)}`,
        );
      }
    }
  }

  /**
   * A step under the fail-safe: when it fails for good the DRI is paged and decides; a skip is
   * flagged and returns undefined; an abort ends the program (see ProgramAborted).
   */
  async guarded<T>(step: GuardedStep, work: () => Promise<T>): Promise<T | undefined> {
    const outcome = await this.failSafe.step(step, work);
    if (outcome.kind === 'done') return outcome.value;
    if (outcome.kind === 'aborted') throw new ProgramAborted(outcome.by, step.name, outcome.reason);
    this.record.flag(
      `${step.name}_skipped`,
      `${step.what}: skipped by ${outcome.by}${outcome.reason ? ` (${outcome.reason})` : ''}`,
    );
    return undefined;
  }

  /** Writes the decisions received so far on the story's work package (the seed's "log decision in wp#…"). */
  async recordDecisions(): Promise<void> {
    while (this.inbox.length) {
      const entry = this.inbox.shift()!;
      await this.comment(
        `decision-${this.detail.decisions.indexOf(entry)}`,
        `**${entry.checkpoint} decision (${this.input.storyId}): ${entry.decision}** by ${entry.by} at ${entry.at}\n\n${entry.rationale}`,
      );
      entry.recordedOn = this.program.openProject.storyWorkPackageId;
      if (this.storyLedger)
        await keepDecision(this.input.storyId, entry, this.detail.decisions.indexOf(entry), this.guard);
    }
  }

  /** Sleeps until `atMs` on a durable timer, writing down decisions as they come. */
  sleepUntil(atMs: number, what: string): Promise<void> {
    return sleepRecordingDecisions(atMs, what, {
      waiting: () => this.inbox.length > 0,
      record: () => this.recordDecisions(),
    });
  }

  async finish(outcome: BackstopOutcome, message: string): Promise<BackstopResult> {
    const { record, detail } = this;
    // After an abort nothing more is written on the trackers (that may be what failed).
    if (outcome !== 'aborted') await this.recordDecisions();
    delete detail.next;
    // A dry run's checkpoints stay as planned (pending); the plan is in detail.dryRun.
    if (outcome !== 'dry_run')
      for (const cp of detail.checkpoints) if (cp.state === 'pending') cp.state = 'not_needed';
    if (this.storyLedger) {
      try {
        await keepEnd(this.input.storyId, outcome, this.guard);
      } catch (error) {
        if (!(error instanceof ProgramAborted)) throw error;
        record.flag('story_end_not_kept', `the program's end was not kept: ${error.message}`);
      }
    }
    record.finish(outcome, message);
    await this.notices.settle();
    return {
      runbook: BACKSTOP_PROGRAM,
      outcome,
      message,
      storyId: this.input.storyId,
      workflowId: this.workflowId,
      detail,
      ...(detail.program ? { runs: detail.program.run } : {}),
      ...record.resultTrail(),
    };
  }

  /**
   * Hands the program to a new run of the same workflow id after a checkpoint: decisions (written
   * down first), waiver, awaited decision, catch-up marks, the evidence summarised and the trail.
   * Messages being handled are finished first and notices delivered.
   */
  async continueAsNew(nextCheckpointIndex: number, modes: BackstopCarry['modes']): Promise<never> {
    const { detail, record, input } = this;
    await this.recordDecisions();
    await this.notices.settle();
    await condition(allHandlersFinished);
    const carry: BackstopCarry = {
      runsBefore: (input.continued?.runsBefore ?? 0) + 1,
      programStartedAt: input.continued?.programStartedAt ?? utcIso(this.programStartedMs),
      nextCheckpointIndex,
      modes,
      dri: this.dri,
      deciders: this.deciderList,
      checkpoints: detail.checkpoints,
      evidence: detail.evidence
        .slice(-EVIDENCE_CARRIED)
        .map(summariseEvidence) as unknown as BackstopCarry['evidence'],
      ...(detail.awaiting ? { awaiting: detail.awaiting } : {}),
      decisions: detail.decisions,
      ...(detail.waiver ? { waiver: detail.waiver } : {}),
      ...(detail.story ? { story: detail.story } : {}),
      ...(detail.gateFailureIssue ? { gateFailureIssue: detail.gateFailureIssue } : {}),
      trail: record.trailToCarry(),
    };
    record.event(
      'continued_as_new',
      `run ${carry.runsBefore} done: ${this.schedule[nextCheckpointIndex - 1]!.name} evaluated; the program goes on in a new run (same workflow id) to ${this.schedule[nextCheckpointIndex]!.name}`,
    );
    return continueAsNew<(input: BackstopInput) => Promise<BackstopResult>>({ ...input, continued: carry });
  }

  /** Decisions: only while one is asked for, only from the DRI or the policy's deciders. */
  private onDecision(raw: unknown): void {
    const { record, detail, dri } = this;
    const deciders = this.deciderList;
    const parsed = decisionPayloadSchema.safeParse(raw);
    if (!parsed.success)
      return void record.refused({
        signal: 'recordDecision',
        reason: 'invalid_payload',
        detail: describeIssuesInline(parsed.error, 'recordDecision payload'),
      });
    const by = `@${normalizeHandle(parsed.data.by)}`;
    const { decision, rationale } = parsed.data;
    // The DRI and deciders are known once the policy is read (runs whose input named them, and
    // continued runs, knew at once).
    if (!this.policyValue && !this.input.continued && !targetsInInput(this.input).length)
      return void record.refused({
        signal: 'recordDecision',
        by,
        reason: 'gate_not_open',
        detail:
          'the program is starting (its policy, DRI and deciders are not read yet); no decision is asked for now',
      });
    if (!this.mayDecide(by))
      return void record.refused({
        signal: 'recordDecision',
        by,
        reason: 'not_authorized',
        detail: `only the DRI ${dri}${deciders.length ? ` or ${deciders.join(', ')}` : ''} decides`,
      });
    // Single-use per story: one granted by an earlier program of the story counts too.
    const earlierWaiver = detail.decisions.find((d) => d.decision === 'waiver');
    const priorWaiver = detail.story?.waiverUsed;
    if (decision === 'waiver' && (earlierWaiver ?? priorWaiver))
      return void record.refused({
        signal: 'recordDecision',
        by,
        reason: 'waiver_already_used',
        detail: earlierWaiver
          ? `the waiver is single-use: granted by ${earlierWaiver.by} at ${earlierWaiver.at}`
          : `the waiver is single-use per story: granted by ${priorWaiver!.by} at ${priorWaiver!.at} in an earlier program (${priorWaiver!.workflowId}, run ${priorWaiver!.runId})`,
      });
    const capMs = this.schedule[3]!.atMs;
    if (decision === 'waiver' && Date.now() >= capMs && isPatched(PATCHES.backstopWaiverCap))
      return void record.refused({
        signal: 'recordDecision',
        by,
        reason: 'too_late',
        detail: `T+120 (${utcIso(capMs)}) has passed: a waiver cannot run past it (seed 001's cap), so the mandatory revert applies; decide revert or park`,
      });
    const wanted = detail.awaiting?.kind;
    const fits =
      wanted === 'self_review'
        ? decision === 'self_review'
        : wanted === 't90_decision' && decision !== 'self_review';
    if (!fits)
      return void record.refused({
        signal: 'recordDecision',
        by,
        reason: 'gate_not_open',
        detail: wanted
          ? `a ${wanted === 'self_review' ? '"self_review"' : 'waiver, revert or park'} decision is expected now`
          : 'no decision is asked for now',
      });
    const checkpoint: CheckpointName = wanted === 'self_review' ? 'T+60' : 'T+90';
    const entry: DecisionRecord = { by, decision, rationale, at: utcIso(Date.now()), checkpoint };
    detail.decisions.push(entry);
    this.inbox.push(entry);
    if (decision === 'self_review') delete detail.awaiting;
    record.event('decision', `${decision}: ${rationale}`, by);
  }
}
