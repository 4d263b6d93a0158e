import { ApplicationFailure } from '@temporalio/workflow';
import type { CommittedWrite } from '../../../activities';
import { formatDuration } from '../../../common/duration';
import type { GateDecision } from '../gates';
import { describeFailure } from '../notices';
import type { ApprovalRecord } from './definitions';
import {
  pageFor,
  type ApprovedWriteSpec,
  type BreakGlassContext,
  type FlowEnd,
  type VerificationSummary,
} from './context';

/** The write half of the ritual: the one transaction, its verification and the "done" notice. */

type Approved = Extract<GateDecision, { kind: 'approved' }>;

/** The one transaction, re-checked against the approved plan and ledgered. */
export async function executeOnce<E, V>(
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
export function refusedByTheTransaction(ctx: BreakGlassContext, execution: unknown): FlowEnd {
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
export async function verify<E, V>(
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
export function announceDone<E, V>(
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
