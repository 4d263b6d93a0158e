import { isPatched, PATCHES } from '../patches';
import { watchObligations } from './obligations';
import { closedWithoutApproval, pauseAndThink, recordApproval, requestApproval } from './approval';
import {
  pageFor,
  type ApprovedWriteSpec,
  type BreakGlassContext,
  type FlowEnd,
  type VerificationSummary,
} from './context';
import { committedWrite } from './definitions';
import { announceDone, executeOnce, refusedByTheTransaction, verify } from './write';

/**
 * The break-glass ritual every procedure that writes shares (seed 000 gating ritual):
 * approval gate → pause-and-think from the approval instant → the one transaction (re-checked
 * against the approved plan, ledgered) → verification → reconciliation and post-mortem
 * obligations. Procedures supply the plan, the transaction and the verification.
 */
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
  const executed = await executeOnce(ctx, spec, decision, approval);
  if ('end' in executed) return executed.end;
  const write = committedWrite(executed.execution);
  if (!write) return refusedByTheTransaction(ctx, executed.execution);
  const executedAtMs = Date.now();
  ctx.record.event(
    'executed',
    `committed: history row id=${write.historyId}, live version ${write.liveVersion}`,
  );
  const summary = await verify(ctx, spec, write, executed.verifiedAfter);
  if (summary.aborted)
    return {
      outcome: 'aborted',
      message: `${summary.problems.join('; ')} after the write committed`,
      write,
      executedAtMs,
    };
  announceDone(ctx, spec, write, summary);
  const held = holdOnConflict(ctx, spec, summary);
  // A cancellation of the run during the obligations below throws there, before this is awaited:
  // its rejection (the same cancellation) is handled here, or it fails every workflow task after it.
  void held.catch(() => undefined);
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
  if (ctx.conflictHold.holding)
    ctx.record.enterStep(
      'awaiting_conflict_acknowledgement',
      `CONFLICT vs the canonical payload: waiting for "acknowledgeConflict" {"by","note"} from the IC`,
    );
  await held;
  const conforming = ctx.record.status.nonConformities.length === 0;
  return {
    outcome: conforming ? spec.done.outcome : spec.done.nonConformingOutcome,
    message:
      spec.done.message(write) +
      ctx.conflictHold.line +
      (conforming
        ? '; all obligations met'
        : `; non-conforming: ${ctx.record.status.nonConformities.map((n) => n.code).join(', ')}`),
    write,
    executedAtMs,
  };
}

/**
 * Seed 000 step 4.3, "pause and verify": a CONFLICT > 0 holds the run (not the obligations, whose
 * clocks run from the write) until the IC acknowledges it. Resolves at once when there is none.
 */
function holdOnConflict<E, V>(
  ctx: BreakGlassContext,
  spec: ApprovedWriteSpec<E, V>,
  summary: VerificationSummary,
): Promise<void> {
  const conflicts = summary.conflicts;
  if (!spec.holdOnConflict || !conflicts || conflicts.count === 0 || !isPatched(PATCHES.conflictHold))
    return Promise.resolve();
  ctx.conflictHold.open(conflicts);
  return ctx.conflictHold.acknowledged();
}
