import type { NoticeRecord } from './notices';
import type { HistoryBudgetRecord } from './history-budget';
import type { RefusalReason } from './refusal-reason';

/**
 * What a run's `status` query answers (RunRecord keeps it): its steps, refused attempts,
 * deadlines, notices, findings and the runbook's own detail.
 */

export interface StepRecord {
  name: string;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  note?: string;
}

export interface AuditEvent {
  at: string;
  kind: string;
  message: string;
  by?: string;
}

export interface RefusedAttempt {
  at: string;
  signal: string;
  by?: string;
  reason: RefusalReason;
  detail: string;
}

export type DeadlineState = 'pending' | 'met' | 'missed' | 'cancelled';

export interface DeadlineRecord {
  name: string;
  dueAt: string;
  state: DeadlineState;
  resolvedAt?: string;
}

export interface Finding {
  code: string;
  message: string;
  at: string;
}

/** A step that failed for good and waits for an operator (retry / skip / abort). */
export interface NeedsHumanRecord {
  /** The step that failed. */
  step: string;
  what: string;
  error: string;
  since: string;
  /** Who was paged (the IC and the owners the seed names). */
  paged: string[];
  pages: number;
  nextPageAt?: string;
  /** The safe-state action and how it went. */
  safeState?: {
    what: string;
    state: 'running' | 'done' | 'failing' | 'not_needed';
    attempts: number;
    account?: string;
    error?: string;
  };
  /** What was and was not done so far. */
  account?: string;
  /** The decisions that apply, and how to send one. */
  options: ('retry' | 'skip' | 'abort')[];
  howTo: string;
}

/**
 * What an approver needs, at the top of the status while a plan waits for approval (and kept after
 * as the record of the decision): the full planHash, the exact argument to paste, the CLI line.
 */
export interface ApprovalBlock {
  state: 'waiting' | 'approved' | 'rejected' | 'expired' | 'aborted';
  planHash: string;
  /** UTC instant the request expires. */
  expiresAt: string;
  /** Who may approve (the requester only on a sole-operator runbook). */
  mayApprove: string[];
  /** The JSON argument of "approve" (Web UI: Send an Update or Signal), with your handle for @you. */
  argument: { approver: string; planHash: string; signedAt?: string; signature?: string };
  cli: string;
  /** Signed approvals: the exact text to sign (`ssh-keygen -Y sign -n durable-runbooks`), with signedAt filled in. */
  signText?: string;
  lastRefused?: RefusedAttempt;
  decidedBy?: string;
  /** The two-person rule: approvals needed, and those counted so far. */
  quorum?: number;
  approvals?: { by: string; at: string; key?: string }[];
}

export interface RunbookStatus<Detail = unknown> {
  /** Present once a plan waits for approval; first, so it is what a person sees first. */
  approval?: ApprovalBlock;
  runbook: string;
  incidentId: string;
  workflowId: string;
  runId: string;
  startedAt: string;
  /** The step the run is in now (also the `RunbookStep` search attribute). */
  step: string;
  /** Set when the run has ended (also the `RunbookOutcome` search attribute). */
  outcome?: string;
  /** One line for a tired human: what is happening and what is expected of them. */
  currentDetails: string;
  steps: StepRecord[];
  deadlines: DeadlineRecord[];
  refusedAttempts: RefusedAttempt[];
  notices: NoticeRecord[];
  /** Breaches of the runbook's obligations (the run is "non-conforming"). */
  nonConformities: Finding[];
  /** Things the incident commander must look at (e.g. CONFLICT > 0) that are not breaches. */
  flags: Finding[];
  /** Set while a step that failed for good waits for an operator. */
  needsHuman?: NeedsHumanRecord;
  /**
   * When the human wait the run is in began, set when the fail-safe brought the run back to it
   * (needs_human, decided, back): that step's own entry starts at the return, and the open-run
   * gauges counted the wait from there (an overdue review showed on time again).
   */
  waitingSince?: string;
  /** Refused attempts in all (the status keeps the latest ones; the history keeps every message). */
  refusedTotal?: number;
  /** Audit events no longer in `events` (the status keeps the latest ones). */
  eventsOmitted?: number;
  /** Steps and notices no longer in `steps` / `notices` (the latest STEPS_KEPT / NOTICES_KEPT stay). */
  stepsOmitted?: number;
  noticesOmitted?: number;
  /** The run's policy allowed durations below the seeds' (a test-only policy): never a real incident. */
  testOnlyShortDurations?: true;
  /** Set when the run's history went over its budget: what repeats (pages, reminders) slowed to daily. */
  historyBudget?: HistoryBudgetRecord;
  events: AuditEvent[];
  detail: Detail;
}
