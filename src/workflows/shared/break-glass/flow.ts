import { ApplicationFailure } from '@temporalio/workflow';
import type { CommittedWrite } from '../../../activities';
import { renderApprovalLine } from '../../../common/break-glass';
import { formatDuration, utcIso } from '../../../common/duration';
import type { NoticeDetail, NoticePage } from '../../../common/notice';
import type { GateDecision, RunControls } from '../gates';
import { describeFailure, type Notices } from '../notices';
import type { RunRecord } from '../run-record';
import { committedWrite, type ApprovalRecord, type BreakGlassDetail } from './definitions';
import { watchObligations, type ObligationSignals, type ObligationsOptions } from './obligations';

/**
 * The break-glass ritual every procedure that writes shares (seed 000 gating ritual):
 * approval gate → pause-and-think from the approval instant → the one transaction (re-checked
 * against the approved plan, ledgered) → verification → reconciliation and post-mortem
 * obligations. Procedures supply the plan, the transaction and the verification.
 */

type AnyDetail = BreakGlassDetail<unknown, unknown, unknown>;

export interface BreakGlassContext {
  runbook: string;
  incidentId: string;
  requestedBy: string;
  rationale: string;
  /** "[break-glass A INC-42]": prefix of every notice subject. */
  tag: string;
  story: string;
  record: RunRecord<AnyDetail>;
  notices: Notices;
  controls: RunControls;
  gate: { approvers: string[]; soleOperator: boolean; pause: number; approvalTimeout: number };
  /** Builds the run's result (for the failure details when the transaction cannot run). */
  resultFor(outcome: string, message: string): unknown;
}

/** What the flow hands to a procedure's transaction: who approved which plan, and the ledger key. */
export interface ApprovedWrite {
  ledgerKey: string;
  workflowId: string;
  runId: string;
  planHash: string;
  requestedBy: string;
  approver: string;
  approvalLine: string;
  rationale: string;
}

export interface VerificationSummary {
  ok: boolean;
  problems: string[];
  /** "NEW 0 / EQUAL 455 / CONFLICT 0", when the procedure compares with the canonical payload. */
  counts?: string;
  conflicts?: { count: number; keys: string[] };
}

export interface ApprovedWriteSpec<Execution, Verification> {
  planHash: string;
  /** One line: what the plan does. */
  planSummary: string;
  planDetails: NoticeDetail[];
  execute(approval: ApprovedWrite): Promise<Execution>;
  verify(write: CommittedWrite): Promise<Verification>;
  summarise(verification: Verification): VerificationSummary;
  /** The outcome, notice and message when the write committed (conforming or not). */
  done: {
    outcome: string;
    nonConformingOutcome: string;
    notice: { kind: string; label: string };
    message(write: CommittedWrite): string;
  };
  /** Reconciliation and post-mortem; omitted for a drill and for D's canonical seed path. */
  obligations?: Omit<
    ObligationsOptions,
    'record' | 'notices' | 'incidentId' | 'tag' | 'executedAtMs' | 'afterHistoryId' | 'page'
  > & {
    signals: ObligationSignals;
  };
}

export interface FlowEnd {
  outcome: string;
  message: string;
  write?: CommittedWrite;
  executedAtMs?: number;
}

type Approved = Extract<GateDecision, { kind: 'approved' }>;

export function pageFor(record: RunRecord<AnyDetail>) {
  return (topic: string, action: NoticePage['action'] = 'trigger'): NoticePage => ({
    action,
    dedupKey: `${record.status.workflowId}/${topic}`,
  });
}

export function approvalLineTemplate(ctx: BreakGlassContext): string {
  return renderApprovalLine({
    incidentId: ctx.incidentId,
    story: ctx.story,
    rationale: ctx.rationale,
    approver: '@<approver>',
    approvalTs: '<UTC iso at approval>',
  });
}

export async function runApprovedWrite<Execution, Verification>(
  ctx: BreakGlassContext,
  spec: ApprovedWriteSpec<Execution, Verification>,
): Promise<FlowEnd> {
  requestApproval(ctx, spec);
  const decision = await ctx.controls.awaitDecision(spec.planHash, ctx.gate.approvalTimeout);
  if (decision.kind !== 'approved') return closedWithoutApproval(ctx, decision);
  const approval = recordApproval(ctx, spec, decision);
  const aborted = await pauseAndThink(ctx, decision, approval);
  if (aborted) return aborted;
  const execution = await executeOnce(ctx, spec, decision, approval);
  const write = committedWrite(execution);
  if (!write) return refusedByTheTransaction(ctx, execution);
  const executedAtMs = Date.now();
  ctx.record.event(
    'executed',
    `committed: history row id=${write.historyId}, live version ${write.liveVersion}`,
  );
  const summary = await verify(ctx, spec, write);
  announceDone(ctx, spec, write, summary);
  if (spec.obligations) {
    await watchObligations({
      ...spec.obligations,
      record: ctx.record,
      notices: ctx.notices,
      incidentId: ctx.incidentId,
      tag: ctx.tag,
      executedAtMs,
      afterHistoryId: write.historyId,
      page: pageFor(ctx.record),
    });
  }
  const conforming = ctx.record.status.nonConformities.length === 0;
  return {
    outcome: conforming ? spec.done.outcome : spec.done.nonConformingOutcome,
    message:
      spec.done.message(write) +
      (conforming
        ? '; all obligations met'
        : `; non-conforming: ${ctx.record.status.nonConformities.map((n) => n.code).join(', ')}`),
    write,
    executedAtMs,
  };
}

/** Opens the gate: the step, and the approval request to the roster with everything needed to decide. */
function requestApproval<E, V>(ctx: BreakGlassContext, spec: ApprovedWriteSpec<E, V>): void {
  const { record, notices, gate, tag } = ctx;
  const lineTemplate = (record.status.detail.approvalLineTemplate ??= approvalLineTemplate(ctx));
  record.enterStep(
    'awaiting_approval',
    `awaiting approval of planHash ${spec.planHash.slice(0, 12)}… by ${gate.approvers.join(', ')} — expires in ${formatDuration(gate.approvalTimeout)}`,
  );
  const approvalDueAt = utcIso(Date.now() + gate.approvalTimeout);
  const workflowId = record.status.workflowId;
  const cliLine = `npm run cli -- approve --workflow-id ${workflowId} --approver @you --plan-hash ${spec.planHash}`;
  notices.send({
    kind: 'approval_request',
    severity: 'warning',
    audience: 'approvers',
    recipients: gate.approvers,
    subject: `${tag} approval requested by ${ctx.requestedBy}: ${spec.planSummary}`,
    body: [
      `Requested by ${ctx.requestedBy}: ${ctx.rationale}`,
      `Plan: ${spec.planSummary}.`,
      `planHash: ${spec.planHash}`,
      `Approvers: ${gate.approvers.join(', ')}${gate.soleOperator ? ' (sole operator)' : ''}; the request expires in ${formatDuration(gate.approvalTimeout)}.`,
      `Approve: signal "approve" to workflow ${workflowId} with {"approver":"@you","planHash":"${spec.planHash}"}`,
      `  CLI: ${cliLine}`,
      `Reject: signal "reject" with {"approver":"@you","reason":"…"}`,
      `After approval the SQL runs no earlier than ${formatDuration(gate.pause)} later (pause-and-think); "abort" {"by","reason"} stops it.`,
      `Approval line that will be recorded: ${lineTemplate}`,
    ].join('\n'),
    details: [
      ...spec.planDetails,
      { label: 'Requested by', value: ctx.requestedBy },
      { label: 'Approve by', value: approvalDueAt },
      { label: 'Pause after approval', value: formatDuration(gate.pause) },
    ],
    code: [
      { label: 'planHash', text: spec.planHash },
      { label: 'Approval line (recorded at approval)', text: lineTemplate },
      {
        label: `Approve: signal "approve" to ${workflowId}`,
        text: JSON.stringify({ approver: '@you', planHash: spec.planHash }),
      },
      { label: 'or from a terminal', text: cliLine },
    ],
  });
}

/** Rejected, expired or aborted at the gate: nothing was executed. */
function closedWithoutApproval(
  ctx: BreakGlassContext,
  decision: Exclude<GateDecision, { kind: 'approved' }>,
): FlowEnd {
  const { notices, tag, gate } = ctx;
  if (decision.kind === 'rejected') {
    notices.send({
      kind: 'rejected',
      severity: 'info',
      audience: 'incident_commander',
      subject: `${tag} rejected by ${decision.approver}`,
      body: decision.reason,
    });
    return {
      outcome: 'rejected',
      message: `rejected by ${decision.approver}: ${decision.reason}; nothing was executed`,
    };
  }
  if (decision.kind === 'expired') {
    notices.send({
      kind: 'approval_expired',
      severity: 'warning',
      audience: 'incident_commander',
      subject: `${tag} approval expired`,
      body: `No decision within ${formatDuration(gate.approvalTimeout)}; nothing was executed. Start a new run if still needed.`,
    });
    return {
      outcome: 'approval_expired',
      message: `no approval within ${formatDuration(gate.approvalTimeout)}; nothing was executed`,
    };
  }
  return {
    outcome: 'aborted',
    message: `aborted by ${decision.by} before approval: ${decision.reason}; nothing was executed`,
  };
}

/** The seed's approval line, with the approver and the approval instant filled in. */
function recordApproval<E, V>(
  ctx: BreakGlassContext,
  spec: ApprovedWriteSpec<E, V>,
  decision: Approved,
): ApprovalRecord {
  const approvalTs = utcIso(decision.atMs);
  const rationale = decision.rationale ?? ctx.rationale;
  const approval: ApprovalRecord = {
    approver: decision.approver,
    approvedAt: approvalTs,
    planHash: spec.planHash,
    rationale,
    line: renderApprovalLine({
      incidentId: ctx.incidentId,
      story: ctx.story,
      rationale,
      approver: decision.approver,
      approvalTs,
    }),
  };
  ctx.record.status.detail.approval = approval;
  return approval;
}

/** Pause-and-think, measured from the approval instant. Returns the end of the run on an abort. */
async function pauseAndThink(
  ctx: BreakGlassContext,
  decision: Approved,
  approval: ApprovalRecord,
): Promise<FlowEnd | undefined> {
  const { record, notices, controls, tag } = ctx;
  const executesAtMs = decision.atMs + ctx.gate.pause;
  const executesAt = utcIso(executesAtMs);
  record.status.detail.executesAt = executesAt;
  record.enterStep(
    'pause_and_think',
    `approved by ${decision.approver}; SQL executes at ${executesAt} unless aborted (signal "abort")`,
  );
  notices.send({
    details: [
      { label: 'Approved by', value: decision.approver },
      { label: 'SQL executes at (UTC)', value: executesAt },
    ],
    code: [{ label: 'Approval line', text: approval.line }],
    kind: 'pause_started',
    severity: 'warning',
    audience: 'incident_commander',
    subject: `${tag} approved by ${decision.approver}; SQL executes at ${executesAt}`,
    body: `${approval.line}\nThe transaction runs at ${executesAt} (UTC). Send "abort" {"by","reason"} before then to stop it.`,
  });
  const paused = await controls.pauseUntil(executesAtMs);
  if (paused.kind !== 'aborted') return undefined;
  notices.send({
    kind: 'aborted',
    severity: 'info',
    audience: 'incident_commander',
    subject: `${tag} aborted by ${paused.abort.by} during the pause`,
    body: `${paused.abort.reason}\nNothing was executed.`,
  });
  return {
    outcome: 'aborted',
    message: `aborted by ${paused.abort.by} during the pause: ${paused.abort.reason}; nothing was executed`,
  };
}

/** The one transaction, re-checked against the approved plan and ledgered. */
async function executeOnce<E, V>(
  ctx: BreakGlassContext,
  spec: ApprovedWriteSpec<E, V>,
  decision: Approved,
  approval: ApprovalRecord,
): Promise<E> {
  const { record, notices, controls, tag } = ctx;
  controls.passPointOfNoReturn('the break-glass transaction');
  record.enterStep('execute', `executing: ${spec.planSummary}`);
  const workflowId = record.status.workflowId;
  const ledgerKey = `${workflowId}/${record.status.runId}/execute`;
  let execution: E;
  try {
    execution = await spec.execute({
      ledgerKey,
      workflowId,
      runId: record.status.runId,
      planHash: spec.planHash,
      requestedBy: ctx.requestedBy,
      approver: decision.approver,
      approvalLine: approval.line,
      rationale: approval.rationale,
    });
  } catch (error) {
    const message =
      `the break-glass transaction failed after its retries: ${describeFailure(error)}. Whether it committed is recorded in ` +
      `runbook_ledger under key ${ledgerKey}; check it before retrying.`;
    record.nonConformity('execution_failed', message);
    notices.send({
      kind: 'execution_failed',
      severity: 'critical',
      audience: 'escalation',
      page: pageFor(record)('execute'),
      subject: `${tag} transaction FAILED`,
      body: message,
    });
    record.finish('execution_failed', message);
    await notices.settle();
    throw ApplicationFailure.create({
      message,
      type: 'ExecutionFailed',
      nonRetryable: true,
      details: [ctx.resultFor('execution_failed', message)],
    });
  }
  record.status.detail.execution = execution;
  return execution;
}

/** The transaction refused (plan stale, target gone, …): nothing was written. */
function refusedByTheTransaction(ctx: BreakGlassContext, execution: unknown): FlowEnd {
  const refusal = execution as { status: string; message: string };
  ctx.notices.send({
    kind: refusal.status,
    severity: 'warning',
    audience: 'incident_commander',
    subject: `${ctx.tag} refused: ${refusal.status}`,
    body: refusal.message,
  });
  return { outcome: refusal.status, message: refusal.message };
}

/** Verification of the committed write; problems and canonical conflicts are flagged to the IC. */
async function verify<E, V>(
  ctx: BreakGlassContext,
  spec: ApprovedWriteSpec<E, V>,
  write: CommittedWrite,
): Promise<VerificationSummary> {
  const { record, notices, tag } = ctx;
  record.enterStep('verify', 'verifying the live row and the break-glass history row');
  const verification = await spec.verify(write);
  record.status.detail.verification = verification;
  const summary = spec.summarise(verification);
  if (!summary.ok) {
    const problems = summary.problems.join('; ');
    record.flag('verification_failed', `verification found problems: ${problems}`);
    notices.send({
      kind: 'verification_failed',
      severity: 'critical',
      audience: 'incident_commander',
      page: pageFor(record)('verify'),
      subject: `${tag} verification FAILED`,
      body: problems,
    });
  }
  if (summary.conflicts && summary.conflicts.count > 0) {
    record.flag(
      'canonical_conflict',
      `CONFLICT ${summary.conflicts.count} vs the canonical payload (${summary.conflicts.keys.slice(0, 10).join(', ')}` +
        `${summary.conflicts.count > 10 ? ', …' : ''}): intended if restoring an operator-tuned snapshot, otherwise the wrong id — pause and verify`,
    );
  }
  return summary;
}

/** The "done" notice: what was written, how it verified, and what is owed next. */
function announceDone<E, V>(
  ctx: BreakGlassContext,
  spec: ApprovedWriteSpec<E, V>,
  write: CommittedWrite,
  summary: VerificationSummary,
): void {
  const obligations = spec.obligations;
  ctx.notices.send({
    kind: spec.done.notice.kind,
    severity: summary.ok && !summary.conflicts?.count ? 'info' : 'warning',
    audience: 'incident_commander',
    subject: `${ctx.tag} ${spec.done.notice.label}: history id ${write.historyId}${summary.counts ? `, ${summary.counts}` : ''}`,
    body:
      `Live version ${write.liveVersion}. Verification: ${summary.ok ? 'OK' : `NOT OK (${summary.problems.join('; ')})`}` +
      `${summary.counts ? `, canonical ${summary.counts}` : ''}.` +
      (obligations
        ? `\nNow: a Console write with change_reason='break-glass-${ctx.incidentId}' within ${formatDuration(obligations.policy.reconciliationDeadline)}` +
          `${obligations.consoleRecovery ? ' of the Console coming back' : ''}, and the post-mortem within ${formatDuration(obligations.policy.postMortemDeadline)}.`
        : ''),
  });
}
