import { freezeOverrideSchema } from '../shared/freeze-override';
import { BREAK_GLASS_MESSAGES } from '../shared/break-glass/definitions';
import type { MessageContract } from '../shared/messages';
import { z } from 'zod';
import type {
  ExecuteRestoreOutcome,
  PreClobberOutcome,
  RestorePlan,
  RestoreVerification,
} from '../../activities';
import { incidentIdSchema } from '../../common/break-glass';
import { handleSchema } from '../../common/identity';
import { rationaleSchema, type BreakGlassResultBase } from '../shared/break-glass/definitions';
import type { RunbookStatus, StepRecord } from '../shared/run-record';

export { statusQuery } from '../shared/messages';

/** Break-glass Procedure C (seed 000): recovery after a `--force-overwrite` accident. */
export const BREAK_GLASS_OVERWRITE_RECOVERY = 'breakGlassOverwriteRecovery';

export function breakGlassOverwriteRecoveryWorkflowId(incidentId: string): string {
  return `break-glass-overwrite-recovery-${incidentId}`;
}

export const breakGlassOverwriteRecoveryInputSchema = z
  .object({
    incidentId: incidentIdSchema,
    requestedBy: handleSchema,
    rationale: rationaleSchema,
    dryRun: z.boolean().default(false),
    /** Cross an incident's change freeze on purpose (who and why; recorded and flagged). */
    freezeOverride: freezeOverrideSchema.optional(),
  })
  .strict();

export type BreakGlassOverwriteRecoveryInput = z.input<typeof breakGlassOverwriteRecoveryInputSchema>;

export interface BreakGlassOverwriteRecoveryDetail {
  requestedBy: string;
  rationale: string;
  dryRun: boolean;
  /** The candidate and why (the plan), or why there is none. */
  preClobber?: PreClobberOutcome;
  /** The Procedure A run that restores the candidate (approve it there). */
  child?: {
    workflowId: string;
    runId?: string;
    state: 'running' | 'completed' | 'failed' | 'not_started' | 'cancelled';
    error?: string;
  };
}

export type BreakGlassOverwriteRecoveryStatus = RunbookStatus<BreakGlassOverwriteRecoveryDetail>;

export interface BreakGlassOverwriteRecoveryResult {
  runbook: typeof BREAK_GLASS_OVERWRITE_RECOVERY;
  /** `no_seeding_row` / `no_candidate`, or Procedure A's outcome. */
  outcome: string;
  message: string;
  incidentId: string;
  workflowId: string;
  /** Absent only when the run was aborted before the history could be searched. */
  preClobber?: PreClobberOutcome;
  /** The result of the Procedure A child (breakGlassRestore) that restored the candidate. */
  procedureA?: BreakGlassResultBase<RestorePlan, ExecuteRestoreOutcome, RestoreVerification> & {
    runbook: 'breakGlassRestore';
    targetHistoryId: number;
  };
  steps: StepRecord[];
  /** The run's policy was a test-only one (durations below the seeds'). */
  testOnlyShortDurations?: true;
}

/** The workflow's message contract: its input and the payloads it handles (see MessageContract). */
export const breakGlassOverwriteRecoveryContract: MessageContract = {
  workflowType: BREAK_GLASS_OVERWRITE_RECOVERY,
  version: 1,
  input: breakGlassOverwriteRecoveryInputSchema,
  messages: BREAK_GLASS_MESSAGES,
};
