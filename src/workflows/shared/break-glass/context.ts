import type { CommittedWrite, Verified } from '../../../activities';
import { renderApprovalLine } from '../../../common/break-glass';
import type { NoticeDetail, NoticeKind, NoticePage } from '../../../common/notice';
import type { FailSafe } from '../fail-safe';
import type { ConflictHold } from './conflict-hold';
import type { RunControls } from '../gates';
import type { Notices } from '../notices';
import type { RunRecord } from '../run-record';
import type { BreakGlassDetail } from './definitions';
import type { ObligationSignals } from './obligation-signals';
import type { ObligationsOptions } from './obligations';

/** What the break-glass ritual's steps share: the run's context, the write a plan asks for, how it ends. */

type AnyDetail = BreakGlassDetail<unknown, unknown, unknown>;

export interface BreakGlassContext {
  runbook: string;
  incidentId: string;
  requestedBy: string;
  rationale: string;
  /** "[break-glass A INC-42]": prefix of every notice subject. */
  tag: string;
  story: string;
  record: RunRecord<AnyDetail>;
  notices: Notices;
  controls: RunControls;
  failSafe: FailSafe;
  conflictHold: ConflictHold;
  gate: {
    approvers: string[];
    soleOperator: boolean;
    pause: number;
    approvalTimeout: number;
    /** Absent in policies recorded before signatures: unsigned. */
    requireSignedApprovals?: boolean;
  };
  /** break-glass-inline-steps-v1 (the run's answer): the transaction verifies its write in the same activity. */
  inlineSteps: boolean;
}

/** What the flow hands to a procedure's transaction: who approved which plan, and the ledger key. */
export interface ApprovedWrite {
  ledgerKey: string;
  workflowId: string;
  runId: string;
  planHash: string;
  requestedBy: string;
  approver: string;
  approvalLine: string;
  rationale: string;
}

export interface VerificationSummary {
  ok: boolean;
  /** A human aborted the run when the verification could not run. */
  aborted?: boolean;
  problems: string[];
  /** "NEW 0 / EQUAL 455 / CONFLICT 0", when the procedure compares with the canonical payload. */
  counts?: string;
  conflicts?: { count: number; keys: string[] };
}

export interface ApprovedWriteSpec<Execution, Verification> {
  planHash: string;
  /** One line: what the plan does. */
  planSummary: string;
  planDetails: NoticeDetail[];
  /** The transaction; asked `verifyAfter`, its activity also verifies the write it commits (`verifiedAfter`). */
  execute(approval: ApprovedWrite, verifyAfter: boolean): Promise<Verified<Execution, Verification>>;
  verify(write: CommittedWrite): Promise<Verification>;
  summarise(verification: Verification): VerificationSummary;
  /** Seed 000 step 4.3: CONFLICT > 0 after the write holds the run until the IC acknowledges (A, D). */
  holdOnConflict?: boolean;
  /** The outcome, notice and message when the write committed (conforming or not). */
  done: {
    outcome: string;
    nonConformingOutcome: string;
    notice: { kind: NoticeKind; label: string };
    message(write: CommittedWrite): string;
  };
  /** Reconciliation and post-mortem; omitted for a drill and for D's canonical seed path. */
  obligations?: Omit<
    ObligationsOptions,
    'record' | 'notices' | 'incidentId' | 'tag' | 'executedAtMs' | 'afterHistoryId' | 'page'
  > & {
    signals: ObligationSignals;
  };
}

export interface FlowEnd {
  outcome: string;
  message: string;
  write?: CommittedWrite;
  executedAtMs?: number;
}

export function pageFor(record: RunRecord<AnyDetail>) {
  return (topic: string, action: NoticePage['action'] = 'trigger'): NoticePage => ({
    action,
    dedupKey: `${record.status.workflowId}/${topic}`,
  });
}

export function approvalLineTemplate(ctx: BreakGlassContext): string {
  return renderApprovalLine({
    incidentId: ctx.incidentId,
    story: ctx.story,
    rationale: ctx.rationale,
    approver: '@<approver>',
    approvalTs: '<UTC iso at approval>',
  });
}
