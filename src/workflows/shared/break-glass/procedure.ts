import { proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { z } from 'zod';
import type {
  FreezeCheck,
  Inline,
  PlanAhead,
  PlanAheadOutcome,
  RunbookActivities,
  RunbookPolicySnapshot,
} from '../../../activities';
import type { BreakGlassRunbookName } from '../../../common/policy';
import { normalizeHandle } from '../../../common/identity';
import { policyRead, policyReadLocal } from '../../activity-options';
import { announcingCancellation, type CancellationAnnouncement } from '../cancellation';
import { changeFreezeAsk, refusedByChangeFreeze } from '../change-freeze';
import { FailSafe } from '../fail-safe';
import type { FreezeOverride } from '../freeze-override';
import { RunControls } from '../gates';
import { parseWorkflowInput } from '../input';
import { isPatched, PATCHES } from '../patches';
import { statusQuery } from '../messages';
import { Notices } from '../notices';
import { RunRecord } from '../run-record';
import { ConflictHold } from './conflict-hold';
import { committedWrite, type BreakGlassDetail, type BreakGlassResultBase } from './definitions';
import {
  approvalLineTemplate,
  pageFor,
  type ApprovedWriteSpec,
  type BreakGlassContext,
  type FlowEnd,
} from './context';
import { runApprovedWrite } from './flow';
import { ObligationSignals } from './obligation-signals';
import { renderPostMortem, type PostMortemFacts } from './post-mortem';

const { loadRunbookPolicy, openBreakGlassProcedure } = proxyActivities<RunbookActivities>(policyRead);
const local = proxyLocalActivities<RunbookActivities>(policyReadLocal);

/**
 * A break-glass procedure is its parts: how a run opens, what it does before the gate (inspect and
 * plan), the write it asks approval for, and what its result adds. `defineBreakGlassProcedure`
 * assembles them into the workflow every procedure shares (seed 000 gating ritual): record, gate
 * and obligation signals installed before the first await → the policy → the plan → dry run or
 * gate → pause → the one transaction → verify → obligations → result.
 */

type AnyDetail = BreakGlassDetail<unknown, unknown, unknown>;
type ExecutionOf<D extends AnyDetail> = NonNullable<D['execution']>;
type VerificationOf<D extends AnyDetail> = NonNullable<D['verification']>;
type Run<K extends BreakGlassRunbookName, Schema extends z.ZodType, Detail extends AnyDetail> = ProcedureRun<
  z.output<Schema>,
  Detail,
  K
>;

/** How a run ends: its outcome and a one-line message. */
export interface ProcedureEnd {
  outcome: string;
  message: string;
}

/** Who and what a run is about, from its validated input. */
export interface ProcedureOpening<Detail> {
  incidentId: string;
  requestedBy: string;
  rationale: string;
  dryRun: boolean;
  /** "[break-glass A INC-42]": prefix of every notice subject. */
  tag: string;
  memo: string;
  detail: Omit<Detail, 'requestedBy'>;
  /** The plan, when it is the procedure's first step: computed with the policy read (AheadReads). */
  planAhead?: PlanAhead;
}

/**
 * How old a read made at the opening may be when its step comes. In a run that goes straight on it
 * is the same workflow task; a run that waited first (a human deciding on a failed probe, say)
 * reads again, so a change freeze declared meanwhile is seen, as it was before the reads moved.
 */
const AHEAD_FRESH_MS = 60_000;

interface AheadAnswers {
  plan?: Inline<PlanAheadOutcome>;
  changeFreeze?: Inline<FreezeCheck>;
}
type AnswerOf<K extends keyof AheadAnswers> =
  NonNullable<AheadAnswers[K]> extends Inline<infer T> ? T : never;

/** Reads made with the policy at the opening, each used once by the step it belongs to. */
export class AheadReads {
  private readonly readAtMs = Date.now();

  constructor(
    private readonly record: RunRecord<unknown>,
    private answers: AheadAnswers,
  ) {}

  /** The plan read at the opening (once; a failed or stale one is recorded, and the step plans itself). */
  plan<Outcome extends PlanAheadOutcome>(): Outcome | undefined {
    return this.take('plan', 'plan') as Outcome | undefined;
  }

  /** The change freezes read at the opening (once; likewise). */
  changeFreeze(): FreezeCheck | undefined {
    return this.take('changeFreeze', 'change freeze check');
  }

  private take<K extends keyof AheadAnswers>(key: K, what: string): AnswerOf<K> | undefined {
    const answer = this.answers[key] as Inline<AnswerOf<K>> | undefined;
    this.answers = { ...this.answers, [key]: undefined };
    if (!answer) return undefined;
    const ageMs = Date.now() - this.readAtMs;
    const again =
      'failed' in answer
        ? `failed (${answer.failed})`
        : ageMs > AHEAD_FRESH_MS
          ? `is ${Math.round(ageMs / 1000)} s old`
          : undefined;
    if (again === undefined && 'value' in answer) return answer.value;
    this.record.event('read_again', `the ${what} with the policy read ${again}: reading again`);
    return undefined;
  }
}

/** Everything a procedure's parts may use during one run. */
export interface ProcedureRun<Input, Detail extends AnyDetail, K extends BreakGlassRunbookName> {
  input: Input;
  opening: ProcedureOpening<Detail> & { requestedBy: string };
  record: RunRecord<Detail>;
  detail: Detail;
  notices: Notices;
  controls: RunControls;
  signals: ObligationSignals;
  /** The failure discipline: a step the outside world fails for good waits for a human. */
  failSafe: FailSafe;
  /** CONFLICT > 0 after the write holds the run until the IC acknowledges it (A and D). */
  conflictHold: ConflictHold;
  snapshot: RunbookPolicySnapshot<K>;
  policy: RunbookPolicySnapshot<K>['runbook'];
  /** What the opening read ahead (nothing before break-glass-inline-steps-v1). */
  ahead: AheadReads;
  /** break-glass-inline-steps-v1: the transaction verifies its write inline. */
  inlineSteps: boolean;
}

/** The write a plan asks approval for (the gate, the transaction, its verification and obligations). */
export type PlannedWrite<Plan, Execution, Verification> = Omit<
  ApprovedWriteSpec<Execution, Verification>,
  'obligations'
> & {
  plan: Plan;
  /**
   * Reconciliation and post-mortem (seed 000 gates 2 and 3); omitted for the drill and D's
   * canonical seed path. B waits for the Console to come back first.
   */
  obligations?: { consoleRecovery?: { probeInterval: number; timeout: number } };
};

export interface BreakGlassProcedure<
  K extends BreakGlassRunbookName,
  Schema extends z.ZodType,
  Detail extends AnyDetail,
  Result,
> {
  runbook: K;
  inputSchema: Schema;
  open(input: z.output<Schema>): ProcedureOpening<Detail>;
  /** Everything before the gate: checks, inspection and the plan; or the end of the run. */
  plan(
    run: ProcedureRun<z.output<Schema>, Detail, K>,
  ): Promise<PlannedWrite<Detail['plan'], ExecutionOf<Detail>, VerificationOf<Detail>> | ProcedureEnd>;
  /** The post-mortem draft's procedure-specific lines (A, B, D; the drill has none). */
  postMortem?: (
    run: ProcedureRun<z.output<Schema>, Detail, K>,
  ) => Pick<PostMortemFacts, 'procedure' | 'rationale' | 'whatChanged' | 'verificationLines'>;
  /** After the write (the drill measures its SLO). */
  conclude?(run: ProcedureRun<z.output<Schema>, Detail, K>, end: FlowEnd): ProcedureEnd;
  /** Just before the run ends (the drill writes its log). */
  beforeFinish?(run: ProcedureRun<z.output<Schema>, Detail, K>, end: ProcedureEnd): Promise<void>;
  result(run: ProcedureRun<z.output<Schema>, Detail, K>, end: ProcedureEnd): Result;
}

/**
 * `defineBreakGlassProcedure<Detail>()({ runbook, inputSchema, open, plan, postMortem, result })`:
 * the status detail type is named, everything else is inferred from the parts.
 */
export function defineBreakGlassProcedure<Detail extends AnyDetail>() {
  return <K extends BreakGlassRunbookName, Schema extends z.ZodType, Result>(
    procedure: BreakGlassProcedure<K, Schema, Detail, Result>,
  ): ((rawInput?: z.input<Schema>) => Promise<Result>) => {
    const { workflow } = new AssembledProcedure(procedure);
    // The workflow type is the function's name (clients and child workflows start it by name).
    Object.defineProperty(workflow, 'name', { value: procedure.runbook });
    return workflow;
  };
}

/** One procedure's parts assembled into its workflow (the type parameters named once). */
class AssembledProcedure<
  K extends BreakGlassRunbookName,
  Schema extends z.ZodType,
  Detail extends AnyDetail,
  Result,
> {
  constructor(private readonly procedure: BreakGlassProcedure<K, Schema, Detail, Result>) {}

  readonly workflow = async (rawInput?: z.input<Schema>): Promise<Result> => {
    const { procedure } = this;
    const input = parseWorkflowInput(procedure.inputSchema, rawInput, `${procedure.runbook} input`);
    const opening = procedure.open(input);
    // The drill acts on staging only; every other procedure changes the target.
    const checksFreeze = procedure.runbook !== 'breakGlassDrill';
    const freezeOverride = (input as { freezeOverride?: FreezeOverride }).freezeOverride;
    const opened = await openBreakGlassRun(procedure.runbook, procedure.runbook, opening, {
      // Read with the policy when the run would check it (an override's crossing is recorded by
      // the check itself, so a run with one checks in its own step).
      changeFreeze: checksFreeze && !opening.dryRun && !freezeOverride,
    });
    const run: Run<K, Schema, Detail> = { ...opened, input };
    return announcingCancellation(
      run,
      () => this.proceed(run, checksFreeze, freezeOverride),
      () => cancellationOf(run),
    );
  };

  /** From the plan to the end: the gate, the pause, the write and its obligations. */
  private async proceed(
    run: Run<K, Schema, Detail>,
    checksFreeze: boolean,
    freezeOverride: FreezeOverride | undefined,
  ): Promise<Result> {
    const { procedure } = this;
    const inspected = await run.failSafe.step(
      {
        name: 'inspect_and_plan',
        what: 'inspect the target and compute the plan',
        owners: run.policy.approvers,
      },
      () => procedure.plan(run),
    );
    if (inspected.kind !== 'done')
      return this.finish(run, {
        outcome: 'aborted',
        message: `aborted by ${inspected.by} when the plan could not be computed${inspected.reason ? `: ${inspected.reason}` : ''}; nothing was changed`,
      });
    const planned = inspected.value;
    if (!('planHash' in planned)) return this.finish(run, planned);
    run.detail.plan = planned.plan;
    run.record.noteStep(planned.planSummary);
    const ctx = this.gateContext(run);
    run.detail.approvalLineTemplate = approvalLineTemplate(ctx);
    if (run.opening.dryRun) {
      return this.finish(run, {
        outcome: 'dry_run',
        message: `dry run: ${planned.planSummary}; planHash ${planned.planHash}; nothing was changed`,
      });
    }
    if (checksFreeze) {
      const frozen = await refusedByChangeFreeze({
        record: run.record,
        failSafe: run.failSafe,
        override: freezeOverride,
        checkedAhead: run.ahead.changeFreeze(),
      });
      if (frozen)
        return this.finish(run, {
          outcome: frozen.kind === 'aborted' ? 'aborted' : 'refused_change_freeze',
          message: frozen.message,
        });
    }
    const end = await runApprovedWrite(ctx, this.withObligations(run, planned));
    return this.finish(run, procedure.conclude ? procedure.conclude(run, end) : end);
  }

  private async finish(run: Run<K, Schema, Detail>, end: ProcedureEnd): Promise<Result> {
    await this.procedure.beforeFinish?.(run, end);
    run.record.finish(end.outcome, end.message);
    await run.notices.settle();
    return this.resultOf(run, end);
  }

  private gateContext(run: Run<K, Schema, Detail>): BreakGlassContext {
    return {
      runbook: this.procedure.runbook,
      incidentId: run.opening.incidentId,
      requestedBy: run.opening.requestedBy,
      rationale: run.opening.rationale,
      tag: run.opening.tag,
      story: run.snapshot.story,
      record: run.record,
      notices: run.notices,
      controls: run.controls,
      failSafe: run.failSafe,
      conflictHold: run.conflictHold,
      gate: run.policy,
      inlineSteps: run.inlineSteps,
    };
  }

  /** The planned write with the policy's obligations and the procedure's post-mortem draft attached. */
  private withObligations(
    run: Run<K, Schema, Detail>,
    planned: PlannedWrite<Detail['plan'], ExecutionOf<Detail>, VerificationOf<Detail>>,
  ): ApprovedWriteSpec<ExecutionOf<Detail>, VerificationOf<Detail>> {
    const { obligations, plan: _plan, ...write } = planned;
    if (!obligations || !('reconciliationDeadline' in run.policy)) return write;
    return {
      ...write,
      obligations: {
        signals: run.signals,
        database: 'target',
        policy: run.policy,
        ...(obligations.consoleRecovery ? { consoleRecovery: obligations.consoleRecovery } : {}),
        ...(run.snapshot.postMortemComment ? { postMortemComment: run.snapshot.postMortemComment } : {}),
        renderDraft: () => this.postMortemDraft(run),
      },
    };
  }

  /** Seed 000's post-mortem template filled from the run's record; empty until something was written. */
  private postMortemDraft(run: Run<K, Schema, Detail>): string {
    const { detail, record } = run;
    const write = committedWrite(detail.execution);
    if (!this.procedure.postMortem || !write || !detail.approval) return '';
    return renderPostMortem({
      ...this.procedure.postMortem(run),
      incidentId: run.opening.incidentId,
      workflowId: record.status.workflowId,
      runId: record.status.runId,
      approval: detail.approval,
      write,
      ...(detail.consoleRecovery ? { consoleRecovery: detail.consoleRecovery } : {}),
      ...(detail.reconciliation ? { reconciliation: detail.reconciliation } : {}),
      steps: record.stepDurations(),
      postMortemTarget: run.snapshot.postMortemTarget,
      ...(record.status.testOnlyShortDurations ? { testOnly: true } : {}),
    });
  }

  private resultOf(run: Run<K, Schema, Detail>, end: ProcedureEnd): Result {
    if (run.detail.postMortem) run.detail.postMortem.draft = this.postMortemDraft(run);
    return this.procedure.result(run, end);
  }
}

/**
 * The opening every break-glass workflow shares (C's included): the run record (search attributes,
 * memo, status query), notices, the gate's signal handlers and the obligation signals, all
 * installed before the first await so no early signal is lost; then the policy section of
 * `policyOf`, read through an activity.
 */
export async function openBreakGlassRun<K extends BreakGlassRunbookName, Detail extends AnyDetail>(
  runbook: string,
  policyOf: K,
  opening: ProcedureOpening<Detail>,
  readAhead: { changeFreeze?: boolean } = {},
): Promise<Omit<ProcedureRun<never, Detail, K>, 'input'>> {
  const requestedBy = `@${normalizeHandle(opening.requestedBy)}`;
  const record = new RunRecord<Detail>(runbook, opening.incidentId, {
    ...opening.detail,
    requestedBy,
  } as Detail);
  setHandler(statusQuery, () => record.status);
  const notices = new Notices(record);
  const controls = new RunControls(record, notices, requestedBy);
  record.setMemoSummary(opening.memo);
  const signals = new ObligationSignals(record);
  const failSafe = new FailSafe(record, notices, {
    tag: opening.tag,
    incidentCommander: requestedBy,
    mayDecide: (by) => controls.mayAbort(by),
    account: () => breakGlassAccount(record.status.detail),
  });
  controls.attachFailSafe(failSafe);
  const conflictHold = new ConflictHold(record, notices, {
    tag: opening.tag,
    incidentCommander: requestedBy,
    mayAcknowledge: (by) => controls.mayAbort(by),
    page: pageFor(record),
  });

  record.enterStep('load_policy', 'reading the worker policy');
  // Since break-glass-inline-steps-v1 the policy read carries the reads before the gate: each is a
  // workflow task and an activity less on the way to it.
  const inlineSteps = isPatched(PATCHES.breakGlassInlineSteps);
  // Since break-glass-open-local-v1 the opening is a local activity (it only reads): the worker
  // runs it inside the run's first workflow task, which goes on to the gate, where an activity
  // task and a second workflow task came between. Same bounds; a failure ends the run as before.
  const open =
    inlineSteps && isPatched(PATCHES.breakGlassOpensLocally)
      ? local.openBreakGlassProcedure
      : openBreakGlassProcedure;
  const { policy: snapshot, ...answers } = inlineSteps
    ? await open({
        runbook: policyOf,
        ...(opening.planAhead ? { plan: opening.planAhead } : {}),
        ...(readAhead.changeFreeze ? { changeFreeze: changeFreezeAsk(record, undefined) } : {}),
      })
    : { policy: await loadRunbookPolicy({ runbook: policyOf }) };
  controls.configure({
    approvers: snapshot.runbook.approvers,
    soleOperator: snapshot.runbook.soleOperator,
    quorum: snapshot.runbook.quorum,
    requireSignedApprovals: snapshot.runbook.requireSignedApprovals,
    signatureMaxAge: snapshot.runbook.signatureMaxAge,
  });
  notices.configure(snapshot.notifications);
  failSafe.configure(snapshot.failSafe);
  conflictHold.configure(snapshot.failSafe);
  record.markTestOnlyIf(snapshot.testOnlyShortDurations);
  return {
    opening: { ...opening, requestedBy },
    record,
    detail: record.status.detail,
    notices,
    controls,
    signals,
    failSafe,
    conflictHold,
    snapshot,
    policy: snapshot.runbook,
    ahead: new AheadReads(record, answers),
    inlineSteps,
  };
}

/** A cancelled break-glass run is told to its requester and the approvers its gate asks. */
function cancellationOf(run: {
  opening: { requestedBy: string };
  policy: { approvers: string[] };
  failSafe: FailSafe;
}): CancellationAnnouncement {
  return {
    ...run.failSafe.cancellation(),
    recipients: [...new Set([run.opening.requestedBy, ...run.policy.approvers])],
  };
}

/** What a break-glass run has and has not done, for a page. */
function breakGlassAccount(detail: AnyDetail): string {
  const write = committedWrite(detail.execution);
  if (write) return `committed: history row ${write.historyId} (ledger key ${write.ledgerKey})`;
  if (detail.approval)
    return `approved by ${detail.approval.approver}; nothing written yet (atomic transaction, ledgered)`;
  return 'nothing was written';
}

/** The result fields every break-glass procedure that writes returns, from its record. */
export function breakGlassResultBase<Plan, Execution, Verification>(
  run: {
    record: RunRecord<BreakGlassDetail<Plan, Execution, Verification>>;
    opening: { incidentId: string };
  },
  end: ProcedureEnd,
): BreakGlassResultBase<Plan, Execution, Verification> {
  const { record } = run;
  const detail = record.status.detail;
  const write = committedWrite(detail.execution);
  return {
    outcome: end.outcome,
    conforming: record.status.nonConformities.length === 0,
    message: end.message,
    incidentId: run.opening.incidentId,
    workflowId: record.status.workflowId,
    runId: record.status.runId,
    requestedBy: detail.requestedBy,
    ...(detail.plan !== undefined ? { plan: detail.plan } : {}),
    ...(detail.approval ? { approval: detail.approval } : {}),
    ...(detail.execution !== undefined ? { execution: detail.execution } : {}),
    ...(detail.verification !== undefined ? { verification: detail.verification } : {}),
    ...(detail.conflictHold ? { conflictHold: detail.conflictHold } : {}),
    ...(detail.consoleRecovery ? { consoleRecovery: detail.consoleRecovery } : {}),
    ...(detail.reconciliation ? { reconciliation: detail.reconciliation } : {}),
    ...(detail.postMortem ? { postMortem: detail.postMortem } : {}),
    idsCreated: { historyRowIds: write ? [write.historyId] : [], ledgerKeys: write ? [write.ledgerKey] : [] },
    deadlines: record.status.deadlines,
    nonConformities: record.status.nonConformities,
    ...record.resultTrail(),
  };
}
