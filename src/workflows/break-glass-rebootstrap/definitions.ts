import { freezeOverrideSchema } from '../shared/freeze-override';
import { BREAK_GLASS_MESSAGES } from '../shared/break-glass/definitions';
import type { MessageContract } from '../shared/messages';
import { z } from 'zod';
import type { ExecuteRebootstrapOutcome, RebootstrapPlan, RebootstrapVerification } from '../../activities';
import { incidentIdSchema } from '../../common/break-glass';
import { handleSchema } from '../../common/identity';
import {
  rationaleSchema,
  type BreakGlassDetail,
  type BreakGlassResultBase,
} from '../shared/break-glass/definitions';
import type { RunbookStatus } from '../shared/run-record';

export { abortSignal, approveSignal, rejectSignal, statusQuery } from '../shared/messages';
export { checkReconciliationSignal, postMortemFiledSignal } from '../shared/break-glass/definitions';

/** Break-glass Procedure D (seed 000): the live row is missing entirely. */
export const BREAK_GLASS_REBOOTSTRAP = 'breakGlassRebootstrap';

export function breakGlassRebootstrapWorkflowId(incidentId: string): string {
  return `break-glass-rebootstrap-${incidentId}`;
}

export const breakGlassRebootstrapInputSchema = z
  .object({
    incidentId: incidentIdSchema,
    requestedBy: handleSchema,
    rationale: rationaleSchema,
    dryRun: z.boolean().default(false),
    /** Cross an incident's change freeze on purpose (who and why; recorded and flagged). */
    freezeOverride: freezeOverrideSchema.optional(),
  })
  .strict();

export type BreakGlassRebootstrapInput = z.input<typeof breakGlassRebootstrapInputSchema>;

export type BreakGlassRebootstrapOutcome =
  /** An incident's change freeze is in force and the input does not cross it (seed 004 §1.3). */
  | 'refused_change_freeze'
  | 'dry_run'
  | 'row_exists'
  | 'rejected'
  | 'approval_expired'
  | 'aborted'
  | 'plan_stale'
  | 'rebootstrapped'
  | 'rebootstrapped_non_conforming'
  | 'canonical_seeded'
  | 'execution_failed';

export type BreakGlassRebootstrapDetail = BreakGlassDetail<
  RebootstrapPlan,
  ExecuteRebootstrapOutcome,
  RebootstrapVerification
> & {
  /** When refused because the row exists: the newest history id an IC would restore with Procedure A. */
  newestHistoryId?: number | null;
};

export type BreakGlassRebootstrapStatus = RunbookStatus<BreakGlassRebootstrapDetail>;

export interface BreakGlassRebootstrapResult extends BreakGlassResultBase<
  RebootstrapPlan,
  ExecuteRebootstrapOutcome,
  RebootstrapVerification
> {
  runbook: typeof BREAK_GLASS_REBOOTSTRAP;
  outcome: BreakGlassRebootstrapOutcome;
  newestHistoryId?: number | null;
}

/** The workflow's message contract: its input and the payloads it handles (see MessageContract). */
export const breakGlassRebootstrapContract: MessageContract = {
  workflowType: BREAK_GLASS_REBOOTSTRAP,
  version: 1,
  input: breakGlassRebootstrapInputSchema,
  messages: BREAK_GLASS_MESSAGES,
};
