import { freezeOverrideSchema } from '../shared/freeze-override';
import { BREAK_GLASS_MESSAGES } from '../shared/break-glass/definitions';
import type { MessageContract } from '../shared/messages';
import { z } from 'zod';
import type { ExecuteRestoreOutcome, RestorePlan, RestoreVerification } from '../../activities';
import { historyIdSchema, incidentIdSchema } from '../../common/break-glass';
import { handleSchema } from '../../common/identity';
import {
  rationaleSchema,
  type BreakGlassDetail,
  type BreakGlassResultBase,
} from '../shared/break-glass/definitions';
import type { RunbookStatus } from '../shared/run-record';

export { abortSignal, approveSignal, rejectSignal, statusQuery } from '../shared/messages';
export type { AbortPayload, ApprovePayload, RejectPayload } from '../shared/messages';
export {
  acknowledgeConflictSignal,
  checkReconciliationSignal,
  postMortemFiledPayloadSchema,
  postMortemFiledSignal,
  type AcknowledgeConflictPayload,
  type ApprovalRecord,
  type ConflictHoldRecord,
  type PostMortemComment,
  type PostMortemFiledPayload,
  type PostMortemRecord,
  type ReconciliationRecord,
} from '../shared/break-glass/definitions';

/** Break-glass Procedure A (seed 000): restore `ftf_config` from `ftf_config_history`. */
export const BREAK_GLASS_RESTORE = 'breakGlassRestore';

/** The documented workflow id: Temporal refuses a second concurrent run for the same incident. */
export function breakGlassRestoreWorkflowId(incidentId: string): string {
  return `break-glass-restore-${incidentId}`;
}

export const breakGlassRestoreInputSchema = z
  .object({
    incidentId: incidentIdSchema,
    targetHistoryId: historyIdSchema,
    requestedBy: handleSchema,
    rationale: rationaleSchema,
    dryRun: z.boolean().default(false),
    /** Cross an incident's change freeze on purpose (who and why; recorded and flagged). */
    freezeOverride: freezeOverrideSchema.optional(),
  })
  .strict();

export type BreakGlassRestoreInput = z.input<typeof breakGlassRestoreInputSchema>;

export type BreakGlassRestoreOutcome =
  /** An incident's change freeze is in force and the input does not cross it (seed 004 §1.3). */
  | 'refused_change_freeze'
  | 'dry_run'
  | 'rejected'
  | 'approval_expired'
  | 'aborted'
  | 'target_not_found'
  | 'live_row_missing'
  | 'plan_stale'
  | 'restored'
  | 'restored_non_conforming'
  | 'execution_failed';

export type BreakGlassRestoreDetail = BreakGlassDetail<
  RestorePlan,
  ExecuteRestoreOutcome,
  RestoreVerification
> & {
  targetHistoryId: number;
};

export type BreakGlassRestoreStatus = RunbookStatus<BreakGlassRestoreDetail>;

export interface BreakGlassRestoreResult extends BreakGlassResultBase<
  RestorePlan,
  ExecuteRestoreOutcome,
  RestoreVerification
> {
  runbook: typeof BREAK_GLASS_RESTORE;
  outcome: BreakGlassRestoreOutcome;
  targetHistoryId: number;
}

/** The workflow's message contract: its input and the payloads it handles (see MessageContract). */
export const breakGlassRestoreContract: MessageContract = {
  workflowType: BREAK_GLASS_RESTORE,
  version: 1,
  input: breakGlassRestoreInputSchema,
  messages: BREAK_GLASS_MESSAGES,
};
