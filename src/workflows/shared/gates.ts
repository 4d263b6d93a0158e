import { condition } from '@temporalio/workflow';
import { formatDuration, utcIso } from '../../common/duration';
import { normalizeHandle, sameHandle } from '../../common/identity';
import { describeIssuesInline } from '../../common/validation';
import { approvalBlock, personIn } from './approval-block';
import { handleDecision } from './decisions';
import { verifySignedApproval } from './signed-approval';
import {
  abortMessage,
  abortPayloadSchema,
  approveMessage,
  approvePayloadSchema,
  rejectMessage,
  rejectPayloadSchema,
} from './messages';
import type { Notices } from './notices';
import { isPatched, PATCHES } from './patches';
import type { RefusalReason, RefusedAttempt, RunRecord } from './run-record';

/**
 * The approval gate and the pause-and-think timer shared by every gated runbook.
 *
 * Rules (seed 000, the break-glass gating ritual):
 * - only roster approvers count; the requester cannot approve their own run unless the policy
 *   marks the runbook sole-operator;
 * - an approval names the plan it approves (planHash); any other hash is refused as stale;
 * - every refused attempt is recorded and announced;
 * - the pause runs from the approval instant; an abort during it ends the run, nothing executed.
 */

export interface GateRoster {
  approvers: string[];
  soleOperator: boolean;
  /** Approvals must be signed (absent in policies recorded before signatures: false). */
  requireSignedApprovals?: boolean;
  signatureMaxAge?: number;
  /** Distinct approvers needed (absent in policies recorded before the two-person rule: 1). */
  quorum?: number;
  /** Seed 000 rule 5: why this run needs a second operator (the sole-operator exception is off). */
  pairReview?: string;
}

export type GateDecision =
  | {
      kind: 'approved';
      /** The approval that opened the gate (the last one, under a quorum). */
      approver: string;
      atMs: number;
      rationale?: string;
      /** Under a quorum of 2 or more: every approver, in order. */
      approvers?: string[];
      /** Signed approvals: the verified key fingerprint of each approval, in order. */
      keys?: string[];
    }
  | { kind: 'rejected'; approver: string; atMs: number; reason: string }
  | { kind: 'expired'; atMs: number }
  | { kind: 'aborted'; by: string; atMs: number; reason: string };

export interface AbortRequest {
  by: string;
  reason: string;
  atMs: number;
  /** Re-enablement: keep the current allowlist rather than go back to the last good set. */
  keepLive?: boolean;
}

export type PauseOutcome = { kind: 'elapsed'; atMs: number } | { kind: 'aborted'; abort: AbortRequest };

interface OpenGate {
  planHash: string;
  deadlineMs: number;
}

/** The fail-safe as the controls see it: the step waiting for a human, and an abort as its decision. */
type AbortTaker = { waiting: string | undefined; takeAbort(by: string, reason: string): boolean };

/** Refused attempts announced per person before one summary (all are recorded). */
const REFUSALS_ANNOUNCED = 3;

export class RunControls {
  private roster?: GateRoster;
  private gate?: OpenGate;
  private decision?: GateDecision;
  private abortRequest?: AbortRequest;
  /** Set once the first side effect has started: an abort can no longer stop it. */
  private pointOfNoReturn?: string;
  private readonly refusalsBy = new Map<string, number>();
  private failSafe?: AbortTaker;
  /** The gate's one-line details while it is open. */
  private gateLine?: string;
  /** Approvals counted so far (a quorum opens the gate on the last one). */
  private readonly approvals: { by: string; atMs: number; rationale?: string; fingerprint?: string }[] = [];

  constructor(
    private readonly record: RunRecord<unknown>,
    private readonly notices: Notices,
    private readonly requestedBy: string,
  ) {
    handleDecision(record, approveMessage, (payload) => this.onApprove(payload));
    handleDecision(record, rejectMessage, (payload) => this.onReject(payload));
    handleDecision(record, abortMessage, (payload) => this.onAbort(payload));
  }

  /** While a failed step waits for a human, an `abort` is that human's decision. */
  attachFailSafe(failSafe: AbortTaker): void {
    this.failSafe = failSafe;
  }

  /** Who may approve, once the policy is loaded. Signals before this are refused as too early. */
  configure(roster: GateRoster): void {
    this.roster = roster;
  }

  /**
   * Seed 000 rule 5: this run needs a second operator's review, so the sole-operator exception
   * does not apply (the requester cannot approve it). Returns who else may approve (none: no review possible).
   */
  requirePairReview(why: string): string[] {
    if (this.roster) this.roster = { ...this.roster, soleOperator: false, pairReview: why };
    return this.stillMayApprove();
  }

  get aborted(): AbortRequest | undefined {
    return this.abortRequest;
  }

  /**
   * Opens the gate for `planHash` and waits for a decision until `timeoutMs` after now.
   * An abort while waiting also ends the wait.
   */
  async awaitDecision(planHash: string, timeoutMs: number): Promise<GateDecision> {
    const deadlineMs = Date.now() + timeoutMs;
    this.gate = { planHash, deadlineMs };
    this.record.setDeadline('approval', deadlineMs);
    this.showGate(planHash, deadlineMs);
    const decided = await condition(
      () => this.decision !== undefined || this.abortRequest !== undefined,
      Math.max(deadlineMs - Date.now(), 1),
      { summary: `approval gate: expires ${utcIso(deadlineMs)}` },
    );
    if (this.decision) {
      this.record.resolveDeadline('approval', 'met');
    } else if (this.abortRequest) {
      this.record.resolveDeadline('approval', 'cancelled');
      this.decision = { kind: 'aborted', ...this.abortRequest };
    } else if (!decided) {
      this.record.resolveDeadline('approval', 'missed');
      this.decision = { kind: 'expired', atMs: Date.now() };
    }
    const decision = this.decision!;
    const block = this.record.status.approval;
    if (block) {
      block.state = decision.kind;
      if (decision.kind === 'approved' || decision.kind === 'rejected') block.decidedBy = decision.approver;
      if (decision.kind === 'aborted') block.decidedBy = decision.by;
    }
    return decision;
  }

  /**
   * Pause-and-think: a durable timer until `untilMs` (approval instant + policy pause).
   * Returns early only for an abort.
   */
  async pauseUntil(untilMs: number): Promise<PauseOutcome> {
    this.record.setDeadline('pause_and_think', untilMs);
    const remaining = untilMs - Date.now();
    if (remaining > 0 && !this.abortRequest) {
      await condition(() => this.abortRequest !== undefined, remaining, {
        summary: `pause-and-think until ${utcIso(untilMs)} (${formatDuration(remaining)})`,
      });
    }
    if (this.abortRequest) {
      this.record.resolveDeadline('pause_and_think', 'cancelled');
      return { kind: 'aborted', abort: this.abortRequest };
    }
    this.record.resolveDeadline('pause_and_think', 'met');
    return { kind: 'elapsed', atMs: Date.now() };
  }

  /** The approval block and the one-line details: who may approve, until when (UTC), what to paste. */
  private showGate(planHash: string, deadlineMs: number): void {
    const block = approvalBlock({
      planHash,
      deadlineMs,
      mayApprove: this.stillMayApprove(),
      quorum: this.quorum,
      signed: this.roster?.requireSignedApprovals ?? false,
    });
    this.record.status.approval = block;
    this.describeGate();
  }

  private get quorum(): number {
    return this.roster?.quorum ?? 1;
  }

  /** The requester may approve only a sole-operator runbook with quorum 1; nobody counts twice. */
  private mayApprove(handle: string): boolean {
    const roster = this.roster;
    if (!roster?.approvers.some((member) => sameHandle(member, handle))) return false;
    return !sameHandle(handle, this.requestedBy) || (roster.soleOperator && this.quorum === 1);
  }

  private stillMayApprove(): string[] {
    return (this.roster?.approvers ?? [])
      .filter((member) => this.mayApprove(member))
      .filter((member) => !this.approvals.some((approval) => sameHandle(approval.by, member)))
      .map((member) => `@${normalizeHandle(member)}`);
  }

  private approvalsShown(): { by: string; at: string; key?: string }[] {
    return this.approvals.map((approval) => ({
      by: approval.by,
      at: utcIso(approval.atMs),
      ...(approval.fingerprint ? { key: approval.fingerprint } : {}),
    }));
  }

  private describeGate(): void {
    const block = this.record.status.approval!;
    const counted = this.quorum > 1 ? ` (${this.approvals.length} of ${this.quorum} approvals)` : '';
    this.gateLine = `awaiting approval${counted} by ${block.mayApprove.join(' or ') || '(nobody on the roster)'} until ${block.expiresAt} — planHash ${block.planHash}`;
    this.record.describe(this.gateLine);
  }

  /** From here on an abort is refused: the side effect is under way. */
  passPointOfNoReturn(what: string): void {
    this.pointOfNoReturn = what;
  }

  /** Returns the refusal, or null when the approval counted (the Update's answer, whatever else arrives meanwhile). */
  private async onApprove(raw: unknown): Promise<RefusedAttempt | null> {
    const parsed = approvePayloadSchema.safeParse(raw);
    if (!parsed.success)
      return this.refuse(
        'approve',
        raw,
        'invalid_payload',
        describeIssuesInline(parsed.error, 'approve payload'),
      );
    const approval = parsed.data;
    const early = this.approvalRefusal(approval);
    if (early) return this.refuse('approve', raw, early.reason, early.detail);
    let fingerprint: string | undefined;
    if (this.roster?.requireSignedApprovals || approval.signature) {
      const verdict = await verifySignedApproval(approval, this.roster?.signatureMaxAge);
      if (!verdict.ok) return this.refuse('approve', raw, verdict.reason, verdict.detail);
      // The gate may have closed while the signature was checked.
      const late = this.approvalRefusal(approval);
      if (late) return this.refuse('approve', raw, late.reason, late.detail);
      fingerprint = verdict.fingerprint;
    }
    return this.countApproval(
      raw,
      `@${normalizeHandle(approval.approver)}`,
      approval.planHash,
      approval.rationale,
      fingerprint,
    );
  }

  /** Why an approval cannot count now (gate, roster, requester, plan), or undefined. */
  private approvalRefusal({
    approver,
    planHash,
  }: {
    approver: string;
    planHash: string;
  }): { reason: RefusalReason; detail: string } | undefined {
    const who = `@${normalizeHandle(approver)}`;
    if (!this.gate || !this.roster)
      return { reason: 'gate_not_open', detail: 'no plan is awaiting approval yet' };
    if (this.decision)
      return { reason: 'already_decided', detail: `the gate is already closed (${this.decision.kind})` };
    if (!this.roster.approvers.some((member) => sameHandle(member, approver)))
      return {
        reason: 'not_on_roster',
        detail: `${who} is not an approver for this runbook (roster: ${this.rosterText()})`,
      };
    if (!this.mayApprove(approver))
      return {
        reason: 'self_approval',
        detail: `${who} requested this run and cannot approve it (${this.roster.pairReview ? `a second operator must review: ${this.roster.pairReview}` : this.roster.soleOperator ? `a quorum of ${this.quorum} needs others` : 'the policy does not mark this runbook sole-operator'})`,
      };
    if (planHash !== this.gate.planHash)
      return {
        reason: 'plan_hash_mismatch',
        detail: `planHash ${planHash} is not the plan awaiting approval, ${this.gate.planHash}; copy it from the status's approval block`,
      };
    return undefined;
  }

  /** One approval: refused if this person already approved; the gate opens on the quorum's last. */
  private countApproval(
    raw: unknown,
    by: string,
    planHash: string,
    rationale: string | undefined,
    fingerprint: string | undefined,
  ): RefusedAttempt | null {
    const earlier = this.approvals.find((approval) => sameHandle(approval.by, by));
    if (earlier)
      return this.refuse(
        'approve',
        raw,
        'already_approved',
        `${by} already approved at ${utcIso(earlier.atMs)}; ${this.quorum} different approvers are needed`,
      );
    const atMs = Date.now();
    this.approvals.push({
      by,
      atMs,
      ...(rationale ? { rationale } : {}),
      ...(fingerprint ? { fingerprint } : {}),
    });
    if (this.approvals.length < this.quorum) {
      const block = this.record.status.approval!;
      block.approvals = this.approvalsShown();
      block.mayApprove = this.stillMayApprove();
      this.record.event(
        'approval_counted',
        `approval ${this.approvals.length} of ${this.quorum} for plan ${planHash}${fingerprint ? ` (signed, key ${fingerprint})` : ''}`,
        by,
      );
      this.describeGate();
      return null;
    }
    // The gate opens on the last approval the quorum needs; the pause runs from it.
    this.decision = {
      kind: 'approved',
      approver: by,
      atMs,
      ...(rationale ? { rationale } : {}),
      ...(this.quorum > 1 ? { approvers: this.approvals.map((approval) => approval.by) } : {}),
      ...(this.approvals.some((approval) => approval.fingerprint)
        ? { keys: this.approvals.map((approval) => approval.fingerprint ?? 'unsigned') }
        : {}),
    };
    if (this.quorum > 1) {
      const block = this.record.status.approval!;
      block.approvals = this.approvalsShown();
    }
    this.record.approvalGranted(atMs);
    this.record.event(
      'approved',
      `approved plan ${planHash}${fingerprint ? ` (signed, key ${fingerprint})` : ''}`,
      this.decision.approver,
    );
    return null;
  }

  private onReject(raw: unknown): RefusedAttempt | undefined {
    const parsed = rejectPayloadSchema.safeParse(raw);
    if (!parsed.success)
      return this.refuse(
        'reject',
        raw,
        'invalid_payload',
        describeIssuesInline(parsed.error, 'reject payload'),
      );
    const { approver, reason } = parsed.data;
    if (!this.gate || !this.roster) {
      return this.refuse('reject', raw, 'gate_not_open', 'no plan is awaiting approval yet');
    }
    if (this.decision) {
      return this.refuse(
        'reject',
        raw,
        'already_decided',
        `the gate is already closed (${this.decision.kind})`,
      );
    }
    const mayReject =
      this.roster.approvers.some((member) => sameHandle(member, approver)) ||
      sameHandle(approver, this.requestedBy);
    if (!mayReject) {
      return this.refuse(
        'reject',
        raw,
        'not_on_roster',
        `@${normalizeHandle(approver)} may not reject: only the approvers (${this.rosterText()}) or the requester can`,
      );
    }
    this.decision = { kind: 'rejected', approver: `@${normalizeHandle(approver)}`, atMs: Date.now(), reason };
    this.record.event('rejected', `rejected: ${reason}`, this.decision.approver);
  }

  private onAbort(raw: unknown): RefusedAttempt | undefined {
    const parsed = abortPayloadSchema.safeParse(raw);
    if (!parsed.success)
      return this.refuse(
        'abort',
        raw,
        'invalid_payload',
        describeIssuesInline(parsed.error, 'abort payload'),
      );
    const { by, reason, keepLive } = parsed.data;
    if (this.failSafe?.waiting && this.mayAbort(by)) {
      this.failSafe.takeAbort(by, reason);
      return;
    }
    if (this.pointOfNoReturn) {
      return this.refuse(
        'abort',
        raw,
        'too_late',
        `${this.pointOfNoReturn} has already started; abort has no effect`,
      );
    }
    if (this.abortRequest) {
      return this.refuse('abort', raw, 'already_decided', `already aborted by ${this.abortRequest.by}`);
    }
    if (!this.mayAbort(by)) {
      return this.refuse(
        'abort',
        raw,
        'not_authorized',
        `@${normalizeHandle(by)} may not abort: only the requester (@${normalizeHandle(this.requestedBy)}) or the approvers (${this.rosterText()}) can`,
      );
    }
    this.abortRequest = {
      by: `@${normalizeHandle(by)}`,
      reason,
      atMs: Date.now(),
      ...(keepLive !== undefined ? { keepLive } : {}),
    };
    this.record.event('aborted', `abort requested: ${reason}`, this.abortRequest.by);
  }

  private refuse(signal: string, raw: unknown, reason: RefusalReason, detail: string): RefusedAttempt {
    const by = personIn(raw);
    const attempt = this.record.refused({ signal, reason, detail, ...(by ? { by } : {}) });
    // While the gate is open, the last refusal shows where the approver looks.
    const block = this.record.status.approval;
    if (block?.state === 'waiting' && !this.decision) {
      block.lastRefused = attempt;
      this.record.describe(
        `${this.gateLine ?? 'awaiting approval'} | last refused: ${signal} by ${by ?? '(unnamed)'} (${reason}): ${detail}`,
      );
    }
    // The first few refusals of each person are announced, then one summary: a flood of messages
    // (a script, a stuck button) must not become a flood of notices.
    const who = by ?? '(unnamed)';
    const count = (this.refusalsBy.get(who) ?? 0) + 1;
    this.refusalsBy.set(who, count);
    if (count > REFUSALS_ANNOUNCED && isPatched(PATCHES.refusalNoticesRateLimited)) {
      if (count === REFUSALS_ANNOUNCED + 1) {
        this.notices.send({
          kind: 'refused_attempts_summary',
          severity: 'warning',
          audience: 'incident_commander',
          subject: `[${this.record.status.runbook} ${this.record.status.incidentId}] more refused attempts by ${who}: recorded, no longer announced`,
          body: `${who} has had ${count} attempts refused; the latest: ${signal} (${reason}) ${detail}. Every attempt stays in the run's status (refusedAttempts, refusedTotal) and history.`,
        });
      }
      return attempt;
    }
    this.notices.send({
      kind: 'refused_attempt',
      severity: 'warning',
      audience: 'incident_commander',
      subject: `[${this.record.status.runbook} ${this.record.status.incidentId}] ${signal} refused (${reason})`,
      body: `${attempt.at} ${signal} by ${by ?? '(unnamed)'} refused: ${detail}`,
    });
    return attempt;
  }

  /** The requester or an approver. */
  mayAbort(by: string): boolean {
    return (
      sameHandle(by, this.requestedBy) ||
      (this.roster?.approvers ?? []).some((member) => sameHandle(member, by))
    );
  }

  private rosterText(): string {
    return (this.roster?.approvers ?? []).map((member) => `@${normalizeHandle(member)}`).join(', ');
  }
}
