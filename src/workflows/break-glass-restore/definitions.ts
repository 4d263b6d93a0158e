import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { historyIdSchema, incidentIdSchema } from '../../common/break-glass';
import { handleSchema } from '../../common/identity';
import type {
  ExecuteRestoreOutcome,
  ReconcilingWrite,
  RestoreCommitted,
  RestorePlan,
  RestoreVerification,
} from '../../activities';
import type { NoticeRecord } from '../shared/notices';
import type {
  DeadlineRecord,
  Finding,
  RefusedAttempt,
  RunbookStatus,
  StepRecord,
} from '../shared/run-record';

export { abortSignal, approveSignal, rejectSignal, statusQuery } from '../shared/messages';
export type { AbortPayload, ApprovePayload, RejectPayload } from '../shared/messages';

/** Break-glass Procedure A (seed 000): restore `ftf_config` from `ftf_config_history`. */
export const BREAK_GLASS_RESTORE = 'breakGlassRestore';

/** The documented workflow id: Temporal refuses a second run for the same incident. */
export function breakGlassRestoreWorkflowId(incidentId: string): string {
  return `break-glass-restore-${incidentId}`;
}

export const breakGlassRestoreInputSchema = z
  .object({
    incidentId: incidentIdSchema,
    targetHistoryId: historyIdSchema,
    requestedBy: handleSchema,
    rationale: z
      .string({ error: 'is required: one sentence on what is broken and why the Console cannot fix it' })
      .trim()
      .min(1, 'is required: one sentence on what is broken and why the Console cannot fix it')
      .max(500, 'must be one sentence (at most 500 characters)'),
    dryRun: z.boolean().default(false),
  })
  .strict();

export type BreakGlassRestoreInput = z.input<typeof breakGlassRestoreInputSchema>;

// ---------------------------------------------------------------------------------------------
// Signals specific to Procedure A (approve / reject / abort / status are shared)

export const postMortemFiledPayloadSchema = z
  .object({
    by: handleSchema,
    link: z
      .string()
      .trim()
      .min(1, 'must link the filed post-mortem (e.g. the OP wp#153 comment URL)')
      .max(2_000),
  })
  .strict();
export type PostMortemFiledPayload = z.input<typeof postMortemFiledPayloadSchema>;

/** Marks the post-mortem as filed (gating ritual gate 3). */
export const postMortemFiledSignal = defineSignal<[PostMortemFiledPayload]>('postMortemFiled');

/** Asks the workflow to look for the reconciling Console write now instead of at the next poll. */
export const checkReconciliationSignal = defineSignal<[unknown?]>('checkReconciliation');

// ---------------------------------------------------------------------------------------------
// Status detail and result

export type BreakGlassRestoreOutcome =
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

export interface ApprovalRecord {
  approver: string;
  approvedAt: string;
  planHash: string;
  rationale: string;
  /** The seed's `event=break_glass_approval …` line. */
  line: string;
}

export interface ReconciliationRecord {
  state: 'pending' | 'found_in_time' | 'missed' | 'late';
  dueAt: string;
  checks: number;
  lastCheckedAt?: string;
  write?: Extract<ReconcilingWrite, { found: true }>;
  /** Workflow time at which the write was seen. */
  seenAt?: string;
}

export interface PostMortemComment {
  channel: string;
  target: string;
  state: 'posting' | 'posted' | 'failed';
  url?: string;
  error?: string;
}

export interface PostMortemRecord {
  state: 'awaiting' | 'filed' | 'missed';
  dueAt: string;
  draft: string;
  /** The draft posted on the tracker (policy `postMortemComment`). */
  comment?: PostMortemComment;
  filedBy?: string;
  link?: string;
  filedAt?: string;
}

export interface BreakGlassRestoreDetail {
  requestedBy: string;
  targetHistoryId: number;
  rationale: string;
  dryRun: boolean;
  plan?: RestorePlan;
  /** Approval-request template (approver and timestamp filled in when someone approves). */
  approvalLineTemplate?: string;
  approval?: ApprovalRecord;
  /** When the SQL will run (approval + pause), UTC. */
  executesAt?: string;
  execution?: ExecuteRestoreOutcome;
  verification?: RestoreVerification;
  reconciliation?: ReconciliationRecord;
  postMortem?: PostMortemRecord;
}

export type BreakGlassRestoreStatus = RunbookStatus<BreakGlassRestoreDetail>;

export interface BreakGlassRestoreResult {
  runbook: typeof BREAK_GLASS_RESTORE;
  outcome: BreakGlassRestoreOutcome;
  /** False when any obligation of the gating ritual was breached. */
  conforming: boolean;
  message: string;
  incidentId: string;
  workflowId: string;
  runId: string;
  requestedBy: string;
  targetHistoryId: number;
  plan?: RestorePlan;
  approval?: ApprovalRecord;
  execution?: ExecuteRestoreOutcome;
  verification?: RestoreVerification;
  reconciliation?: ReconciliationRecord;
  postMortem?: PostMortemRecord;
  idsCreated: { historyRowIds: number[]; ledgerKeys: string[] };
  steps: StepRecord[];
  deadlines: DeadlineRecord[];
  refusedAttempts: RefusedAttempt[];
  nonConformities: Finding[];
  flags: Finding[];
  notices: NoticeRecord[];
}

export type { RestoreCommitted };
