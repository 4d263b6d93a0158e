import { freezeOverrideSchema } from '../shared/freeze-override';
import { BREAK_GLASS_MESSAGES } from '../shared/break-glass/definitions';
import type { MessageContract } from '../shared/messages';
import { z } from 'zod';
import type {
  ConsoleEditPlan,
  ConsoleEditVerification,
  ExecuteConsoleEditOutcome,
  HttpProbe,
  PodReadiness,
} from '../../activities';
import { hpoKeyFields, incidentIdSchema } from '../../common/break-glass';
import { handleSchema } from '../../common/identity';
import {
  rationaleSchema,
  type BreakGlassDetail,
  type BreakGlassResultBase,
} from '../shared/break-glass/definitions';
import type { RunbookStatus } from '../shared/run-record';

export { abortSignal, approveSignal, rejectSignal, statusQuery } from '../shared/messages';
export { checkReconciliationSignal, postMortemFiledSignal } from '../shared/break-glass/definitions';

/** Break-glass Procedure B (seed 000): Console UI down, urgent single-key edit. */
export const BREAK_GLASS_CONSOLE_EDIT = 'breakGlassConsoleEdit';

export function breakGlassConsoleEditWorkflowId(incidentId: string): string {
  return `break-glass-console-edit-${incidentId}`;
}

export const breakGlassConsoleEditInputSchema = z
  .object({
    incidentId: incidentIdSchema,
    ...hpoKeyFields,
    /** Stored verbatim as a JSON string (bound parameter); numeric keys need a numeric value. */
    newValue: z.string({ error: 'is required (a string, e.g. "0.07")' }).min(1, 'is required').max(10_000),
    requestedBy: handleSchema,
    rationale: rationaleSchema,
    dryRun: z.boolean().default(false),
    /**
     * Seed 000 Procedure B step 2: the operator's own attestation of why the edit cannot wait for
     * the Console to come back (typically < 4 h). Runs since `console-edit-urgency-v1` refuse to
     * plan without it ("prefer waiting"); it is shown to the approvers and kept in the record.
     */
    urgency: z
      .string()
      .trim()
      .min(1, 'must say why the edit cannot wait for the Console (typically back within 4 h)')
      .max(1_000)
      .optional(),
    /** Cross an incident's change freeze on purpose (who and why; recorded and flagged). */
    freezeOverride: freezeOverrideSchema.optional(),
  })
  .strict();

export type BreakGlassConsoleEditInput = z.input<typeof breakGlassConsoleEditInputSchema>;

/** Step 1 of the seed: is break-glass justified? Both checks and the verdict, with evidence. */
export interface Justification {
  verdict: 'justified' | 'console_up' | 'ingress_dns' | 'cannot_verify';
  reason: string;
  pods?: PodReadiness;
  podsError?: string;
  http: HttpProbe;
}

export type BreakGlassConsoleEditOutcome =
  /** An incident's change freeze is in force and the input does not cross it (seed 004 §1.3). */
  | 'refused_change_freeze'
  /** The operator did not attest that the edit cannot wait for the Console (seed 000 B step 2). */
  | 'not_attested'
  /** The value cannot be confirmed by eye and nobody besides the requester may approve (seed 000 rule 5). */
  | 'pair_review_unavailable'
  | 'dry_run'
  | 'not_justified_console_up'
  | 'not_justified_ingress'
  | 'not_justified_unverified'
  | 'key_not_found'
  | 'invalid_value'
  | 'unchanged'
  | 'live_row_missing'
  | 'rejected'
  | 'approval_expired'
  | 'aborted'
  | 'plan_stale'
  | 'edited'
  | 'edited_non_conforming'
  | 'execution_failed';

export type BreakGlassConsoleEditDetail = BreakGlassDetail<
  ConsoleEditPlan,
  ExecuteConsoleEditOutcome,
  ConsoleEditVerification
> & {
  key: string;
  justification?: Justification;
  /** Seed 000 rule 5: why the value needs a second operator, and who may approve it. */
  pairReview?: { why: string; reviewers: string[] };
};

export type BreakGlassConsoleEditStatus = RunbookStatus<BreakGlassConsoleEditDetail>;

export interface BreakGlassConsoleEditResult extends BreakGlassResultBase<
  ConsoleEditPlan,
  ExecuteConsoleEditOutcome,
  ConsoleEditVerification
> {
  runbook: typeof BREAK_GLASS_CONSOLE_EDIT;
  outcome: BreakGlassConsoleEditOutcome;
  key: string;
  justification?: Justification;
}

/** The workflow's message contract: its input and the payloads it handles (see MessageContract). */
export const breakGlassConsoleEditContract: MessageContract = {
  workflowType: BREAK_GLASS_CONSOLE_EDIT,
  version: 1,
  input: breakGlassConsoleEditInputSchema,
  messages: BREAK_GLASS_MESSAGES,
};
