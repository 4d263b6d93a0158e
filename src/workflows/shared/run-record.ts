import { z } from 'zod';
import { sharedOnFirstUse } from '../../common/shared-schemas';
import {
  log,
  setCurrentDetails,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { utcIso } from '../../common/duration';
import { cutHead } from '../../common/text';
import {
  runStartSearchAttributes,
  type KeywordPair,
  RunbookOutcomeKey,
  RunbookStepKey,
  RunbookTestOnlyKey,
} from '../../common/search-attributes';
import type { NoticeRecord } from './notices';
import { foldHolds, isPatched, PATCHES } from './patches';
import { isHumanWaitStep } from '../../common/metrics';
import {
  recordApprovalToExecution,
  recordFinished,
  recordRefusal,
  recordStepEntered,
  recordStepEnded,
} from './metrics';
import { setRunLogContextSource } from './log-context';
import type { DeadlineState, Finding, RefusedAttempt, RunbookStatus, StepRecord } from './run-status';

/** The safety pause after an approval: waiting, not yet acting (break-glass/approval.ts). */
const SAFETY_PAUSE_STEP = 'pause_and_think';

/**
 * The run's own audit trail: every step with UTC start/end, every refused attempt, deadline,
 * notice and non-conformity. The `status` query returns it as is; the result is built from it.
 * Only deterministic workflow APIs are used here (workflow time, upserts).
 */

const REFUSED_KEPT = 50;
/** A refusal's detail may quote what was sent: cut, as the status and result are bounded (below). */
export const REFUSAL_DETAIL_MAX = 2_000;

/** How much of the earlier runs' trail a continued run shows again (the latest). */
export const STEPS_CARRIED = 200;
export const NOTICES_CARRIED = 100;

/**
 * The audit trail a run hands to the run it continues as new (same workflow id): its steps,
 * notices and findings, so `status` keeps showing the whole programme, not only the latest run.
 */
function buildRunTrailSchema() {
  return z
    .object({
      steps: z
        .array(
          z
            .object({
              name: z.string(),
              startedAt: z.string(),
              endedAt: z.string().optional(),
              durationMs: z.number().optional(),
              note: z.string().optional(),
            })
            .strict(),
        )
        .max(STEPS_CARRIED),
      notices: z
        .array(
          z.looseObject({
            kind: z.string(),
            subject: z.string(),
            deliveryKey: z.string(),
            requestedAt: z.string(),
            state: z.enum(['sending', 'delivered', 'partial', 'failed']),
            deliveries: z.array(z.looseObject({ channel: z.string() })),
          }),
        )
        .max(NOTICES_CARRIED),
      flags: z.array(z.object({ code: z.string(), message: z.string(), at: z.string() }).strict()),
      /** The latest refused attempts (refusedTotal counts them all). */
      refused: z
        .array(z.looseObject({ at: z.string(), signal: z.string(), reason: z.string(), detail: z.string() }))
        .max(REFUSED_KEPT)
        .default([]),
      refusedTotal: z.number().int().min(0).optional(),
    })
    .strict();
}

/** Built on first use and shared, like every schema only a continued run needs (see backstopCarrySchema). */
export const runTrailSchema = sharedOnFirstUse('workflows/shared/run-record#trail', buildRunTrailSchema);
export type RunTrail = z.output<ReturnType<typeof buildRunTrailSchema>>;

export type {
  ApprovalBlock,
  AuditEvent,
  DeadlineRecord,
  DeadlineState,
  Finding,
  NeedsHumanRecord,
  RefusedAttempt,
  RunbookStatus,
  StepRecord,
} from './run-status';
export type { RefusalReason } from './refusal-reason';

/** The status stays small however many messages arrive: the latest refused attempts and events. */
const REFUSED_EVENTS_KEPT = 20;
const EVENTS_KEPT = 500;
/**
 * …and the latest steps (and notices, NOTICES_KEPT): the status is a query's answer (2 MB at most) and
 * the result carries both (2 MB); past that the task ending the run fails for ever (README "A status that stays small").
 */
export const STEPS_KEPT = 500;

export class RunRecord<Detail> {
  readonly status: RunbookStatus<Detail>;
  private openStepStartedMs?: number;
  /** When the gate's approval came, until the first step that acts (for the approval→execution metric). */
  private approvedAtMs?: number;
  /** Shown before whatever the run is doing, until cleared (e.g. a CONFLICT hold). */
  private attention?: string;
  private details = 'starting';
  /** The step a check interrupted (enterSubStep), with its description and time so far. */
  private suspended?: { name: string; details: string; elapsedMs: number };
  /** Time the open step spent before a check interrupted it, added to its recorded time. */
  private carriedMs = 0;
  /**
   * The human wait the run before this one was in when it handed over (its time not recorded
   * there): the step that takes it up records the whole wait, once.
   */
  private handedOverIn?: string;
  /**
   * A human wait a guarded step interrupts (holdWait): its time so far (`partMs`, once it closes)
   * is held, and recorded whole if the run comes back to it, else as it was when the step is done.
   */
  private heldWait?: { name: string; partMs?: number };

  constructor(runbook: string, incidentId: string, detail: Detail) {
    const info = workflowInfo();
    this.status = {
      approval: undefined,
      runbook,
      incidentId,
      workflowId: info.workflowId,
      runId: info.runId,
      startedAt: utcIso(Date.now()),
      step: 'starting',
      currentDetails: 'starting',
      steps: [],
      deadlines: [],
      refusedAttempts: [],
      notices: [],
      nonConformities: [],
      flags: [],
      events: [],
      detail,
    };
    upsertChanged(runStartSearchAttributes(runbook, incidentId));
    setRunLogContextSource(() => this.logContext());
  }

  /**
   * A test-only policy (durations below the seeds') is said everywhere a person looks: the status,
   * the result, the post-mortem, and the RunbookTestOnly search attribute.
   */
  markTestOnlyIf(testOnlyShortDurations: boolean | undefined): void {
    if (!testOnlyShortDurations || !isPatched(PATCHES.testOnlyMarked)) return;
    this.status.testOnlyShortDurations = true;
    upsertSearchAttributes([{ key: RunbookTestOnlyKey, value: 'true' }]);
    this.event(
      'test_only_policy',
      "this run's policy allows durations below the seeds': a test, never a real incident",
    );
  }

  /** Result fields every runbook adds: the test-only mark. */
  get resultMarks(): { testOnlyShortDurations?: true } {
    return this.status.testOnlyShortDurations ? { testOnlyShortDurations: true } : {};
  }

  /**
   * The record's part of every runbook's result: step durations, refused attempts, flags, notices
   * and the test-only mark (deadlines and non-conformities are added by the runbooks that keep them).
   */
  resultTrail(): {
    steps: StepRecord[];
    refusedAttempts: RefusedAttempt[];
    flags: Finding[];
    notices: NoticeRecord[];
    testOnlyShortDurations?: true;
  } {
    const { refusedAttempts, flags, notices } = this.status;
    return { steps: this.stepDurations(), refusedAttempts, flags, notices, ...this.resultMarks };
  }

  /**
   * Closes the current step (if any) and opens `name`; the step shows in the UI search attribute.
   * `waitingSince`: back to a human wait a detour interrupted, when that wait began (see the status).
   */
  enterStep(name: string, details: string, waitingSince?: string): void {
    this.closeStep();
    this.openStep(name, details);
    if (waitingSince === undefined) return;
    this.status.waitingSince = waitingSince;
    // Back to a wait a failed step interrupted: one wait, recorded whole when it ends.
    if (this.heldWait?.name === name && this.heldWait.partMs !== undefined) {
      this.heldWait = undefined;
      this.carriedMs = Math.max(0, Date.now() - Date.parse(waitingSince));
    }
  }

  /**
   * A step guarded by the fail-safe begins while the run waits for a human: should it fail and
   * interrupt the wait (needs_human), the wait's time is held until releaseWait(). Before, a gate a
   * failed write interrupted was recorded in runbooks_gate_wait_seconds as two shorter waits.
   * Returns whether this call holds it (one hold at a time; only its holder releases it).
   */
  holdWait(name: string): boolean {
    if (this.heldWait || !isHumanWaitStep(name)) return false;
    this.heldWait = { name };
    return true;
  }

  /**
   * The guarded step is done: a held wait the run did not come back to is recorded as it was
   * (`record: false`: a wait the next run comes back to, and records whole).
   */
  releaseWait({ record = true } = {}): void {
    const held = this.heldWait;
    this.heldWait = undefined;
    if (record && held?.partMs !== undefined) recordStepEnded(this.status.runbook, held.name, held.partMs);
  }

  /**
   * The step a run before this one was in (a wait it carried): shown again, not counted as entered
   * again. The wait it handed over in is recorded whole when it ends, from `waitingSince`: before,
   * each run recorded its own part, so a wait across two hand-overs was three short waits in
   * runbooks_gate_wait_seconds.
   */
  takeUpStep(name: string, details: string, waitingSince: string): void {
    this.closeStep();
    this.openStep(name, details, { counted: false });
    this.status.waitingSince = waitingSince;
    if (name === this.handedOverIn) {
      this.handedOverIn = undefined;
      this.carriedMs = Math.max(0, Date.now() - Date.parse(waitingSince));
    }
  }

  private openStep(name: string, details: string, { counted } = { counted: true }): void {
    const now = Date.now();
    delete this.status.waitingSince;
    if (counted) recordStepEntered(this.status.runbook, name);
    if (this.approvedAtMs !== undefined && !isHumanWaitStep(name) && name !== SAFETY_PAUSE_STEP) {
      recordApprovalToExecution(this.status.runbook, now - this.approvedAtMs);
      this.approvedAtMs = undefined;
    }
    this.openStepStartedMs = now;
    this.status.step = name;
    this.status.steps.push({ name, startedAt: utcIso(now) });
    if (this.status.steps.length > STEPS_KEPT)
      this.status.stepsOmitted = (this.status.stepsOmitted ?? 0) + this.status.steps.splice(0, 1).length;
    upsertSearchAttributes([{ key: RunbookStepKey, value: name }]);
    this.describe(details);
    log.info(`step ${name}: ${details}`, { ...this.logContext(), event: 'step' });
  }

  /**
   * Opens `name` as a check the current step makes (the change-freeze read inside the plan):
   * resumeStep() goes back to the step. The step's time is recorded once, both parts together,
   * and its own description shows again. Before, the step was recorded twice per run (the
   * dashboard's step times halved) and came back described as the check ("step inspect_and_plan:
   * reading the change freezes in force").
   */
  enterSubStep(name: string, details: string): void {
    const interrupted = { name: this.status.step, details: this.details };
    this.suspended = { ...interrupted, elapsedMs: this.closeStep({ recordTime: false }) };
    this.openStep(name, details);
  }

  /** Back to the step a check interrupted (enterSubStep), if any. */
  resumeStep(): void {
    const outer = this.suspended;
    if (!outer) return;
    this.suspended = undefined;
    this.enterStep(outer.name, outer.details);
    this.carriedMs = outer.elapsedMs;
  }

  /** What each of the run's log lines says beside the SDK's ids (workflowId, runId, workflowType). */
  private logContext(): { runbook: string; incidentId: string; step: string } {
    return { runbook: this.status.runbook, incidentId: this.status.incidentId, step: this.status.step };
  }

  /** The gate opened on an approval at `atMs`: the next step that acts measures the wait from it. */
  approvalGranted(atMs: number): void {
    this.approvedAtMs = atMs;
  }

  /** Updates the one-line "what is happening" shown in the status and the Web UI. */
  describe(details: string): void {
    this.details = details;
    const shown = this.attention ? `${this.attention} | ${details}` : details;
    this.status.currentDetails = shown;
    setCurrentDetails(shown);
  }

  /** A line that stays at the front of current details while the run does other things. */
  setAttention(line: string | undefined): void {
    this.attention = line;
    this.describe(this.details);
  }

  noteStep(note: string): void {
    const current = this.status.steps.at(-1);
    if (current && current.endedAt === undefined) current.note = note;
  }

  event(kind: string, message: string, by?: string): void {
    this.status.events.push({ at: utcIso(Date.now()), kind, message, ...(by ? { by } : {}) });
    log.info(message, { ...this.logContext(), event: kind, ...(by ? { by } : {}) });
    if (this.status.events.length > EVENTS_KEPT) {
      this.status.events.splice(0, this.status.events.length - EVENTS_KEPT);
      this.status.eventsOmitted = (this.status.eventsOmitted ?? 0) + 1;
    }
  }

  /** `refused` bound to one signal, for a handler's early returns. */
  refuser(signal: string): (reason: RefusedAttempt['reason'], detail: string, by?: string) => void {
    return (reason, detail, by) => void this.refused({ signal, reason, detail, ...(by ? { by } : {}) });
  }

  refused(attempt: Omit<RefusedAttempt, 'at'>): RefusedAttempt {
    const detail = cutHead(attempt.detail, REFUSAL_DETAIL_MAX);
    const recorded = { at: utcIso(Date.now()), ...attempt, detail };
    this.status.refusedAttempts.push(recorded);
    this.status.refusedTotal = (this.status.refusedTotal ?? 0) + 1;
    recordRefusal(this.status.runbook, attempt.signal, attempt.reason);
    if (this.status.refusedAttempts.length > REFUSED_KEPT) this.status.refusedAttempts.shift();
    this.event('refused', `${attempt.signal} refused (${attempt.reason}): ${detail}`, attempt.by);
    // A flood of refusals must not push the run's own events out of the log: only the latest few
    // stay there (refusedAttempts keeps more of them, the history keeps every one). No command
    // depends on the event log, so this needs no patch.
    if (this.status.refusedTotal > REFUSED_EVENTS_KEPT) {
      const oldest = this.status.events.findIndex((event) => event.kind === 'refused');
      if (oldest >= 0) {
        this.status.events.splice(oldest, 1);
        this.status.eventsOmitted = (this.status.eventsOmitted ?? 0) + 1;
      }
    }
    return recorded;
  }

  setDeadline(name: string, dueMs: number): void {
    const existing = this.status.deadlines.find((d) => d.name === name);
    if (existing) {
      existing.dueAt = utcIso(dueMs);
      existing.state = 'pending';
      delete existing.resolvedAt;
    } else {
      this.status.deadlines.push({ name, dueAt: utcIso(dueMs), state: 'pending' });
    }
  }

  resolveDeadline(name: string, state: Exclude<DeadlineState, 'pending'>): void {
    const deadline = this.status.deadlines.find((d) => d.name === name);
    if (deadline && deadline.state === 'pending') {
      deadline.state = state;
      deadline.resolvedAt = utcIso(Date.now());
    }
  }

  nonConformity(code: string, message: string): void {
    this.status.nonConformities.push({ code, message, at: utcIso(Date.now()) });
    this.event('non_conformity', message);
  }

  flag(code: string, message: string): void {
    this.status.flags.push({ code, message, at: utcIso(Date.now()) });
    this.event('flag', message);
  }

  /** Ends the run's record: closes the step, sets the outcome search attribute and memo. */
  finish(outcome: string, summary: string): void {
    this.closeStep();
    this.status.step = 'done';
    this.status.outcome = outcome;
    recordFinished(this.status.runbook, outcome);
    upsertSearchAttributes([
      { key: RunbookStepKey, value: 'done' },
      { key: RunbookOutcomeKey, value: outcome },
    ]);
    upsertMemo({ summary });
    this.describe(`done: ${outcome}: ${summary}`);
  }

  /** The memo's summary; from 0.33.0 not written again when the run's start (or the run it continues) holds it. */
  setMemoSummary(summary: string): void {
    if (foldHolds(PATCHES.startAttributesKept) && workflowInfo().memo?.summary === summary) return;
    upsertMemo({ summary });
  }

  /** Per-step wall clock, for the result. */
  stepDurations(): StepRecord[] {
    return this.status.steps.map((step) => ({ ...step }));
  }

  /**
   * For a run that continues as new: its trail, the open step closed now (see runTrailSchema).
   * `waitGoesOn`: the next run takes up a human wait open now (takeUpStep) and records it whole; a
   * runbook that hands over after its wait ended (a backstop's waiver) records it here.
   */
  trailToCarry({ waitGoesOn = false } = {}): RunTrail {
    this.closeStep({ recordTime: !(waitGoesOn && isHumanWaitStep(this.status.step)) });
    return {
      steps: this.stepDurations().slice(-STEPS_CARRIED),
      notices: this.status.notices.slice(-NOTICES_CARRIED) as unknown as RunTrail['notices'],
      flags: this.status.flags,
      refused: this.status.refusedAttempts as unknown as RunTrail['refused'],
      ...(this.status.refusedTotal ? { refusedTotal: this.status.refusedTotal } : {}),
    };
  }

  /** The trail of the runs before this one, shown before this run's own. */
  carryTrail(trail: RunTrail): void {
    const last = trail.steps.at(-1)?.name;
    if (last !== undefined && isHumanWaitStep(last)) this.handedOverIn = last;
    this.status.steps.unshift(...trail.steps);
    this.status.notices.unshift(...(trail.notices as unknown as NoticeRecord[]));
    this.status.flags.unshift(...trail.flags);
    this.status.refusedAttempts.unshift(...(trail.refused as unknown as RefusedAttempt[]));
    if (trail.refusedTotal) this.status.refusedTotal = (this.status.refusedTotal ?? 0) + trail.refusedTotal;
  }

  /**
   * Ends the open step (if any) and returns its time, the part before a check included; a step a
   * check interrupts (`recordTime: false`) is recorded when it ends for good.
   */
  private closeStep({ recordTime } = { recordTime: true }): number {
    let stepMs = this.carriedMs;
    const current = this.status.steps.at(-1);
    if (current && current.endedAt === undefined && this.openStepStartedMs !== undefined) {
      const now = Date.now();
      current.endedAt = utcIso(now);
      current.durationMs = now - this.openStepStartedMs;
      stepMs += current.durationMs;
      if (recordTime && this.heldWait?.name === current.name && this.heldWait.partMs === undefined)
        this.heldWait.partMs = stepMs;
      else if (recordTime) recordStepEnded(this.status.runbook, current.name, stepMs);
    }
    this.openStepStartedMs = undefined;
    this.carriedMs = 0;
    return stepMs;
  }
}

/**
 * Upserts the pairs; in a run started with the fold that keeps start attributes (0.33.0), only those
 * whose value the run does not hold already (from its start request, or the run it continues, whose
 * search attributes the server carries over): none, no command. Each upsert is a history event and
 * a visibility write.
 */
function upsertChanged(pairs: KeywordPair[]): void {
  const held = workflowInfo().typedSearchAttributes;
  const changed = foldHolds(PATCHES.startAttributesKept)
    ? pairs.filter((pair) => held.get(pair.key) !== pair.value)
    : pairs;
  if (changed.length > 0) upsertSearchAttributes(changed);
}
