import { z } from 'zod';
import type { ChangeFreeze, IncidentRunState } from '../../activities';
import { incidentIdSchema } from '../../common/break-glass';
import { handleSchema } from '../../common/identity';
import { sharedOnFirstUse } from '../../common/shared-schemas';
import { GATE_MESSAGES, type MessageContract } from '../shared/messages';
import type { NoticeRecord } from '../shared/notices';
import type { Finding, RefusedAttempt, RunbookStatus, StepRecord } from '../shared/run-record';

export {
  abortSignal,
  approveSignal,
  rejectSignal,
  statusQuery,
  stepDecisionSignal,
} from '../shared/messages';

/**
 * Seed 004 §1.3 by hand: lifting an incident's change freeze when the incident's own run cannot
 * (it was cancelled, terminated or failed, or its lift was skipped). The incident lifts its freeze
 * when it is resolved; while it is open and unresolved this refuses.
 */
export const FREEZE_LIFT = 'freezeLift';

/** One lift at a time per incident (a second start while one runs is refused by Temporal). */
export function freezeLiftWorkflowId(incidentId: string): string {
  return `freeze-lift-${incidentId}`;
}

function buildInputSchema() {
  return z
    .object({
      incidentId: incidentIdSchema,
      requestedBy: handleSchema,
      reason: z
        .string({ error: 'must say why the freeze is lifted by hand' })
        .trim()
        .min(1, 'must say why the freeze is lifted by hand')
        .max(2_000),
      /** Only this environment's freeze; absent: every freeze of the incident still in force. */
      environment: z
        .string()
        .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a lower-case environment name like "production"')
        .optional(),
      /**
       * Plan only: the incident and its freezes are read and the lift is checked as a real one
       * (responder, incident resolved); the run ends `dry_run` naming the freezes it would lift.
       * Nothing is lifted, no approval asked, no notice sent. Optional with no default.
       */
      dryRun: z.boolean().optional(),
    })
    .strict();
}

export const freezeLiftInputSchema = sharedOnFirstUse('workflows/freeze-lift/definitions', buildInputSchema);

export type FreezeLiftInput = z.input<ReturnType<typeof buildInputSchema>>;
export type FreezeLiftInputParsed = z.output<ReturnType<typeof buildInputSchema>>;

export type FreezeLiftOutcome =
  | 'lifted'
  | 'not_frozen'
  | 'refused_incident_open'
  | 'refused_not_responder'
  | 'aborted'
  /** Signed lifts (incident policy requireSignedFreezeLifts): a responder rejected it; nothing lifted. */
  | 'rejected'
  /** Signed lifts: no signed approval in time; nothing lifted. */
  | 'approval_expired'
  /** Plan only (`dryRun`): what would be lifted is in `wouldLift`; nothing was lifted. */
  | 'dry_run';

export interface FreezeLiftDetail {
  incidentId: string;
  requestedBy: string;
  reason: string;
  environment?: string;
  /** The incident's run as read from Temporal. */
  incidentRun?: IncidentRunState;
  /** The incident's freezes as read before the lift (in force and lifted). */
  freezes?: ChangeFreeze[];
  /** The freezes this run lifted, as recorded. */
  lifted: ChangeFreeze[];
  /** Plan only (`dryRun`): the freezes in force a lift would lift, and whether a signed approval would be asked first. */
  dryRun?: { wouldLift: ChangeFreeze[]; signedApprovalRequired: boolean };
  /** Signed lifts: the responder whose signed approval let it lift (recorded as the lifter), and the key. */
  approvedBy?: string;
  approvalKey?: string;
}

export type FreezeLiftStatus = RunbookStatus<FreezeLiftDetail>;

export interface FreezeLiftResult {
  runbook: typeof FREEZE_LIFT;
  outcome: FreezeLiftOutcome;
  message: string;
  workflowId: string;
  incidentId: string;
  lifted: ChangeFreeze[];
  /** Plan only (`dryRun`). */
  dryRun?: FreezeLiftDetail['dryRun'];
  steps: StepRecord[];
  refusedAttempts: RefusedAttempt[];
  flags: Finding[];
  notices: NoticeRecord[];
  testOnlyShortDurations?: true;
}

/** The workflow's message contract (see MessageContract): additive changes only. */
export const freezeLiftContract: MessageContract = {
  workflowType: FREEZE_LIFT,
  version: 1,
  get input() {
    return freezeLiftInputSchema();
  },
  /** approve, reject and abort since signed lifts (additive). */
  messages: GATE_MESSAGES,
};
