import type { CommittedWrite, Inline } from '../../../activities';
import { formatDuration } from '../../../common/duration';
import type { NoticeKind } from '../../../common/notice';
import type { StepOutcome } from '../fail-safe';
import { isPatched, PATCHES } from '../patches';
import type { GateDecision } from '../gates';
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

/**
 * The one transaction, re-checked against the approved plan and ledgered. Failing for good, it
 * waits for a human (retry is safe: the ledger returns a committed result; abort ends the run).
 */
export async function executeOnce<E, V>(
  ctx: BreakGlassContext,
  spec: ApprovedWriteSpec<E, V>,
  decision: Approved,
  approval: ApprovalRecord,
): Promise<{ execution: E; verifiedAfter?: Inline<V> } | { end: FlowEnd }> {
  const { record, controls } = ctx;
  controls.passPointOfNoReturn('the break-glass transaction');
  record.enterStep('execute', `executing: ${spec.planSummary}`);
  const workflowId = record.status.workflowId;
  const ledgerKey = `${workflowId}/${record.status.runId}/execute`;
  const outcome = await ctx.failSafe.step(
    {
      name: 'execute',
      what: `the break-glass transaction (${spec.planSummary})`,
      owners: ctx.gate.approvers,
      // Atomic and ledgered: a failed transaction wrote nothing, or committed and the ledger has it;
      // a retry returns the committed result instead of writing again.
    },
    () =>
      spec.execute(
        {
          ledgerKey,
          workflowId,
          runId: record.status.runId,
          planHash: spec.planHash,
          requestedBy: ctx.requestedBy,
          approver: decision.approver,
          approvalLine: approval.line,
          rationale: approval.rationale,
        },
        ctx.inlineSteps,
      ),
  );
  if (outcome.kind !== 'done') {
    const message =
      `the break-glass transaction failed and ${outcome.by} aborted the run${outcome.reason ? ` (${outcome.reason})` : ''}. ` +
      `Whether it committed is recorded in runbook_ledger under key ${ledgerKey}; check it before starting again.`;
    record.nonConformity('execution_failed', message);
    return { end: { outcome: 'execution_failed', message } };
  }
  // The inline verification is the verify step's answer, not part of the execution's record.
  const { verifiedAfter, ...execution } = outcome.value;
  record.status.detail.execution = execution;
  return { execution: execution as E, ...(verifiedAfter ? { verifiedAfter } : {}) };
}

/** The transaction refused (plan stale, target gone, …): nothing was written. */
export function refusedByTheTransaction(ctx: BreakGlassContext, execution: unknown): FlowEnd {
  const refusal = execution as { status: NoticeKind; message: string };
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
  verifiedAfter?: Inline<V>,
): Promise<VerificationSummary> {
  const { record, notices, tag } = ctx;
  record.enterStep('verify', 'verifying the live row and the break-glass history row');
  if (verifiedAfter && 'failed' in verifiedAfter)
    record.event(
      'verify_again',
      `the verification with the write failed (${verifiedAfter.failed}): verifying again`,
    );
  const checked: StepOutcome<V> =
    verifiedAfter && 'value' in verifiedAfter
      ? { kind: 'done', value: verifiedAfter.value }
      : await ctx.failSafe.step(
          {
            name: 'verify',
            what: 'verify the committed write (live row, history row, canonical comparison)',
            owners: ctx.gate.approvers,
            skip: 'finish without the automatic verification: the IC verifies by hand',
          },
          () => spec.verify(write),
        );
  if (checked.kind === 'aborted')
    return { ok: false, problems: [`verification aborted by ${checked.by}`], aborted: true };
  const summary: VerificationSummary =
    checked.kind === 'done'
      ? spec.summarise((record.status.detail.verification = checked.value))
      : { ok: false, problems: [`verification failed and was skipped by ${checked.by}: verify by hand`] };
  if (!summary.ok) {
    const problems = summary.problems.join('; ');
    record.flag('verification_failed', `verification found problems: ${problems}`);
    // A write nobody has verified is not a conforming break-glass run: the outcome (search
    // attribute, dashboards) says so, where before only a flag inside the result did.
    if (isPatched(PATCHES.unverifiedWriteNonConforming))
      record.nonConformity('verification_failed', `the committed write is not verified: ${problems}`);
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
