import { defineSignal, defineUpdate } from '@temporalio/workflow';
import { GATE_MESSAGES, type DecisionAnswer } from '../messages';
import { z } from 'zod';
import type { CommittedWrite, HttpProbe, ReconcilingWrite } from '../../../activities';
import { handleSchema } from '../../../common/identity';
import type { NoticeRecord } from '../notices';
import type { DeadlineRecord, Finding, RefusedAttempt, StepRecord } from '../run-record';

/** What every break-glass procedure (A, B, D, drill) shares: signals, records, result fields. */

/** Seed 000: every break-glass run names what is broken and why the Console cannot fix it. */
export const rationaleSchema = z
  .string({ error: 'is required: one sentence on what is broken and why the Console cannot fix it' })
  .trim()
  .min(1, 'is required: one sentence on what is broken and why the Console cannot fix it')
  .max(500, 'must be one sentence (at most 500 characters)');

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
export const postMortemFiledMessage = {
  signal: postMortemFiledSignal,
  update: defineUpdate<DecisionAnswer, [PostMortemFiledPayload]>('postMortemFiled'),
  schema: postMortemFiledPayloadSchema,
};

export const acknowledgeConflictPayloadSchema = z
  .object({
    by: handleSchema,
    note: z
      .string()
      .trim()
      .min(1, 'must say what you verified (e.g. "operator-tuned snapshot from the March sweep, intended")')
      .max(1_000),
  })
  .strict();
export type AcknowledgeConflictPayload = z.input<typeof acknowledgeConflictPayloadSchema>;

/** Releases the hold a CONFLICT > 0 puts on a restore (seed 000 step 4.3: pause and verify). */
export const acknowledgeConflictSignal = defineSignal<[AcknowledgeConflictPayload]>('acknowledgeConflict');
export const acknowledgeConflictMessage = {
  signal: acknowledgeConflictSignal,
  update: defineUpdate<DecisionAnswer, [AcknowledgeConflictPayload]>('acknowledgeConflict'),
  schema: acknowledgeConflictPayloadSchema,
};

/** Asks the workflow to look for the reconciling Console write now instead of at the next poll. */
export const checkReconciliationSignal = defineSignal<[unknown?]>('checkReconciliation');
export const checkReconciliationMessage = {
  signal: checkReconciliationSignal,
  update: defineUpdate<DecisionAnswer, [unknown?]>('checkReconciliation'),
};

/** The messages every break-glass procedure handles (checkReconciliation carries nothing). */
export const BREAK_GLASS_MESSAGES = {
  ...GATE_MESSAGES,
  postMortemFiled: postMortemFiledPayloadSchema,
  acknowledgeConflict: acknowledgeConflictPayloadSchema,
  checkReconciliation: z.unknown(),
};

export interface ApprovalRecord {
  approver: string;
  approvedAt: string;
  planHash: string;
  rationale: string;
  /** Signed approvals: the verified key fingerprint of each approver. */
  keys?: string[];
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

/** Procedure B: the Console must come back before the reconciling write can be made. */
export interface ConsoleRecoveryRecord {
  state: 'waiting' | 'recovered' | 'not_recovered';
  dueAt: string;
  probes: number;
  lastProbe?: HttpProbe;
  recoveredAt?: string;
}

/** CONFLICT > 0 after the write: the run holds until the IC acknowledges it. */
export interface ConflictHoldRecord {
  state: 'awaiting_acknowledgement' | 'acknowledged';
  count: number;
  /** The first conflicting keys (all of them are in the verification). */
  keys: string[];
  since: string;
  reminders: number;
  acknowledgedBy?: string;
  acknowledgedAt?: string;
  note?: string;
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

/** Status detail fields the shared flow fills in, typed by each procedure's plan/execute/verify. */
export interface BreakGlassDetail<Plan, Execution, Verification> {
  requestedBy: string;
  rationale: string;
  dryRun: boolean;
  plan?: Plan;
  /** Approval-request template (approver and timestamp filled in when someone approves). */
  approvalLineTemplate?: string;
  approval?: ApprovalRecord;
  /** When the SQL will run (approval + pause), UTC. */
  executesAt?: string;
  execution?: Execution;
  verification?: Verification;
  conflictHold?: ConflictHoldRecord;
  consoleRecovery?: ConsoleRecoveryRecord;
  reconciliation?: ReconciliationRecord;
  postMortem?: PostMortemRecord;
}

/** Result fields every break-glass procedure returns. */
export interface BreakGlassResultBase<Plan, Execution, Verification> {
  outcome: string;
  /** False when any obligation of the gating ritual was breached. */
  conforming: boolean;
  message: string;
  incidentId: string;
  workflowId: string;
  runId: string;
  requestedBy: string;
  plan?: Plan;
  approval?: ApprovalRecord;
  execution?: Execution;
  verification?: Verification;
  conflictHold?: ConflictHoldRecord;
  consoleRecovery?: ConsoleRecoveryRecord;
  reconciliation?: ReconciliationRecord;
  postMortem?: PostMortemRecord;
  idsCreated: { historyRowIds: number[]; ledgerKeys: string[] };
  steps: StepRecord[];
  deadlines: DeadlineRecord[];
  refusedAttempts: RefusedAttempt[];
  nonConformities: Finding[];
  flags: Finding[];
  notices: NoticeRecord[];
  /** The run's policy was a test-only one (durations below the seeds'). */
  testOnlyShortDurations?: true;
}

/** The committed write inside an execution outcome, if it is one. */
export function committedWrite(execution: unknown): CommittedWrite | undefined {
  if (execution && typeof execution === 'object' && 'historyId' in execution && 'ledgerKey' in execution) {
    return execution as CommittedWrite;
  }
  return undefined;
}
