import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { isCancellation, ParentClosePolicy, proxyActivities, startChild } from '@temporalio/workflow';
import type { z } from 'zod';
import type { PreClobberOutcome, RunbookActivities } from '../../activities';
import { databaseRead } from '../activity-options';
import { breakGlassRestoreWorkflowId } from '../break-glass-restore/definitions';
import { breakGlassRestore } from '../break-glass-restore/workflow';
import type { FreezeOverride } from '../shared/freeze-override';
import { announcingCancellation, isAnnouncedCancellation } from '../shared/cancellation';
import { parseWorkflowInput } from '../shared/input';
import { openBreakGlassRun } from '../shared/break-glass/procedure';
import { describeFailure } from '../shared/notices';
import { isPatched, PATCHES } from '../shared/patches';
import {
  BREAK_GLASS_OVERWRITE_RECOVERY,
  breakGlassOverwriteRecoveryInputSchema,
  type BreakGlassOverwriteRecoveryDetail,
  type BreakGlassOverwriteRecoveryInput,
  type BreakGlassOverwriteRecoveryResult,
} from './definitions';

const { findPreClobber } = proxyActivities<RunbookActivities>(databaseRead);

type OpenedRun = Awaited<
  ReturnType<typeof openBreakGlassRun<'breakGlassRestore', BreakGlassOverwriteRecoveryDetail>>
>;

/**
 * Break-glass Procedure C: find the pre-clobber history id (the newest row before the newest
 * seeding write whose change_reason is not the seeding reason), show it and why, then run
 * Procedure A on it as a child workflow — with A's own gate, pause and obligations.
 */
export async function breakGlassOverwriteRecovery(
  rawInput: BreakGlassOverwriteRecoveryInput,
): Promise<BreakGlassOverwriteRecoveryResult> {
  const input = parseWorkflowInput(
    breakGlassOverwriteRecoveryInputSchema,
    rawInput,
    'breakGlassOverwriteRecovery input',
  );
  const opened = await openBreakGlassRun<'breakGlassRestore', BreakGlassOverwriteRecoveryDetail>(
    BREAK_GLASS_OVERWRITE_RECOVERY,
    'breakGlassRestore',
    {
      incidentId: input.incidentId,
      requestedBy: input.requestedBy,
      rationale: input.rationale,
      dryRun: input.dryRun,
      tag: `[break-glass C ${input.incidentId}]`,
      memo: `Procedure C: recover from a --force-overwrite for incident ${input.incidentId}`,
      detail: { rationale: input.rationale, dryRun: input.dryRun },
    },
  );
  // A cancellation reaches Procedure A too, which announces its own; this run announces it and
  // ends CANCELED (before overwrite-recovery-cancelled-with-child-v1, one during A ended it
  // COMPLETED procedure_a_failed, below).
  return announcingCancellation(opened, () => recover(input, opened));
}

/** The pre-clobber search, then Procedure A on what it found. */
async function recover(
  input: z.output<typeof breakGlassOverwriteRecoveryInputSchema>,
  opened: OpenedRun,
): Promise<BreakGlassOverwriteRecoveryResult> {
  const { opening, record, notices, detail, snapshot, failSafe } = opened;
  const { requestedBy, tag } = opening;

  record.enterStep(
    'find_pre_clobber',
    `looking for the newest row before the newest '${snapshot.seedingChangeReason}' write`,
  );
  let preClobber: PreClobberOutcome | undefined;
  const finish = async (
    outcome: string,
    message: string,
    procedureA?: BreakGlassOverwriteRecoveryResult['procedureA'],
  ) => {
    record.finish(outcome, message);
    await notices.settle();
    return {
      runbook: BREAK_GLASS_OVERWRITE_RECOVERY,
      outcome,
      message,
      incidentId: input.incidentId,
      workflowId: record.status.workflowId,
      ...(preClobber ? { preClobber } : {}),
      ...(procedureA ? { procedureA } : {}),
      steps: record.stepDurations(),
      ...record.resultMarks,
    } satisfies BreakGlassOverwriteRecoveryResult;
  };
  const search = () =>
    findPreClobber({ incidentId: input.incidentId, seedingChangeReason: snapshot.seedingChangeReason });
  if (isPatched(PATCHES.breakGlassReadsNeedHuman)) {
    const found = await failSafe.step(
      { name: 'find_pre_clobber', what: 'search the history for the pre-clobber row' },
      search,
    );
    if (found.kind !== 'done')
      return finish(
        'aborted',
        `aborted by ${found.by} when the history could not be searched${found.reason ? `: ${found.reason}` : ''}; nothing was changed`,
      );
    preClobber = found.value;
  } else preClobber = await search();
  detail.preClobber = preClobber;
  record.noteStep(preClobber.explanation);
  if (preClobber.status !== 'candidate') {
    notices.send({
      kind: preClobber.status,
      severity: 'warning',
      audience: 'incident_commander',
      subject: `${tag} nothing to recover`,
      body: preClobber.explanation,
    });
    return finish(preClobber.status, preClobber.explanation);
  }

  const procedureA = await restoreThroughProcedureA(
    input,
    requestedBy,
    detail,
    preClobber.candidate.id,
    record,
  );
  return finish(procedureA.outcome, procedureA.message, procedureA.result);
}

/**
 * Procedure A on the candidate, as a child with the documented id (approvals go to the child). A's
 * reconciliation and post-mortem obligations outlive this wrapper if it is stopped.
 */
async function restoreThroughProcedureA(
  input: {
    incidentId: string;
    rationale: string;
    dryRun: boolean;
    freezeOverride?: FreezeOverride | undefined;
  },
  requestedBy: string,
  detail: BreakGlassOverwriteRecoveryDetail,
  candidateId: number,
  record: { enterStep(name: string, details: string): void },
): Promise<{ outcome: string; message: string; result?: BreakGlassOverwriteRecoveryResult['procedureA'] }> {
  const childId = breakGlassRestoreWorkflowId(input.incidentId);
  detail.child = { workflowId: childId, state: 'not_started' };
  record.enterStep(
    'restore_via_procedure_a',
    `Procedure A on history id ${candidateId} runs as ${childId}: read its status and approve it there`,
  );
  let child;
  try {
    child = await startChild(breakGlassRestore, {
      workflowId: childId,
      args: [
        {
          incidentId: input.incidentId,
          targetHistoryId: candidateId,
          requestedBy,
          rationale: `${input.rationale} (Procedure C: pre-clobber id ${candidateId})`,
          dryRun: input.dryRun,
          ...(input.freezeOverride ? { freezeOverride: input.freezeOverride } : {}),
        },
      ],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    detail.child.state = 'failed';
    detail.child.error = `${childId} is already running for this incident`;
    return {
      outcome: 'procedure_a_already_running',
      message: `${childId} is already running: follow it instead (candidate id ${candidateId})`,
    };
  }
  detail.child = { workflowId: childId, runId: child.firstExecutionRunId, state: 'running' };
  try {
    const procedureA = await child.result();
    detail.child.state = 'completed';
    return {
      outcome: procedureA.outcome,
      message: `Procedure A on pre-clobber id ${candidateId}: ${procedureA.message}`,
      result: procedureA,
    };
  } catch (error) {
    if (isAnnouncedCancellation(error) && isPatched(PATCHES.overwriteRecoveryCancelledWithChild)) {
      detail.child.state = 'cancelled';
      detail.child.error =
        'cancelled with this run; its run_cancelled notice and status say what it had done';
      throw error;
    }
    detail.child.state = 'failed';
    // A cancelled (this run's cancellation reaches it too) says what it had done in its own notice.
    const cancelled = isCancellation(error);
    detail.child.error = cancelled
      ? 'cancelled; its run_cancelled notice and status say what it had done'
      : describeFailure(error);
    return {
      outcome: 'procedure_a_failed',
      message: `Procedure A (${childId}) ${cancelled ? 'was' : 'failed'}: ${detail.child.error}`,
    };
  }
}
