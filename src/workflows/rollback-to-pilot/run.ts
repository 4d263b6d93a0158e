import { handleDecision } from '../shared/decisions';
import { setHandler } from '@temporalio/workflow';
import type { z } from 'zod';
import type { NoticeKind } from '../../common/notice';
import type { RunbookPolicySnapshot } from '../../activities';
import { utcIso } from '../../common/duration';
import { normalizeHandle, sameHandle } from '../../common/identity';
import { describeIssuesInline } from '../../common/validation';
import { FailSafe } from '../shared/fail-safe';
import { abortPayloadSchema, abortMessage, statusQuery } from '../shared/messages';
import { Notices } from '../shared/notices';
import { RunRecord } from '../shared/run-record';
import { recordDrillNotCompleted } from '../shared/metrics';
import {
  confirmRollbackPayloadSchema,
  confirmRollbackMessage,
  rcaFiledPayloadSchema,
  rcaFiledMessage,
  ROLLBACK_TO_PILOT,
  type RollbackDetail,
  type RollbackOutcome,
  type RollbackResult,
  type rollbackToPilotInputSchema,
} from './definitions';

type ParsedInput = z.output<typeof rollbackToPilotInputSchema>;

export interface Confirmation {
  by: string;
  decision: 'go' | 'cancel';
  atMs: number;
  note?: string;
}

/**
 * One rollback run: its record, notices and the two messages it answers (the IC's confirmation
 * after the P2 triage, the RCA filed), installed before the first await; and the helpers every
 * step uses (evidence, escalation, the end of the run).
 */
export class RollbackRun {
  readonly record: RunRecord<RollbackDetail>;
  readonly detail: RollbackDetail;
  readonly notices: Notices;
  readonly ic: string;
  readonly tag: string;
  readonly startedMs = Date.now();
  confirmation?: Confirmation;
  readonly failSafe: FailSafe;
  private confirmers: string[];
  private snapshotValue?: RunbookPolicySnapshot<'rollbackToPilot'>;

  constructor(readonly input: ParsedInput) {
    this.ic = `@${normalizeHandle(input.incidentCommander)}`;
    this.confirmers = [this.ic];
    this.record = new RunRecord<RollbackDetail>(ROLLBACK_TO_PILOT, input.incidentId, {
      incidentCommander: this.ic,
      severity: input.severity,
      reason: input.reason,
      affectedRepos: input.affectedRepos,
      dryRun: input.dryRun,
      evidence: [],
    });
    setHandler(statusQuery, () => this.record.status);
    this.notices = new Notices(this.record);
    this.detail = this.record.status.detail;
    this.tag = `[RB-LAUNCH-002 ${input.incidentId}]`;
    this.record.setMemoSummary(
      `Rollback to pilot scope, incident ${input.incidentId} (${input.severity}), IC ${this.ic}`,
    );
    handleDecision(this.record, confirmRollbackMessage, (raw) => this.onConfirm(raw));
    handleDecision(this.record, rcaFiledMessage, (raw) => this.onRcaFiled(raw));
    this.failSafe = new FailSafe(this.record, this.notices, {
      tag: this.tag,
      incidentCommander: this.ic,
      mayDecide: (by) => this.mayDecide(by),
      account: () => this.account(),
    });
    handleDecision(this.record, abortMessage, (raw) => this.onAbort(raw));
  }

  /** Who may decide on a failed step: the IC, the confirmers, the Engineering TL and the DBA. */
  mayDecide(by: string): boolean {
    const escalation = this.snapshotValue ? Object.values(this.policy.escalation) : [];
    return [...this.confirmers, ...escalation].some((who) => sameHandle(who, by));
  }

  /** What was and was not done: the steps with evidence, in order. */
  account(): string {
    const done = this.detail.evidence.map((e) => `${e.step} ${e.ok ? 'done' : 'NOT OK'}`);
    const { writers } = this.detail;
    // Seed 003's pitfall: forgetting to unfreeze. An end before the unfreeze says so, every time.
    const frozen =
      writers?.frozen && !writers.unfrozen?.confirmed
        ? `; the writers are still FROZEN (${writers.frozen.writers.map((w) => `${w.deployment} was ${w.frozenFrom ?? '?'}`).join(', ')}): unfreeze them once green`
        : '';
    return (
      (done.length ? `${done.join(', ')}; nothing after that was changed` : 'nothing was changed yet') +
      frozen
    );
  }

  /** The policy the run read at its start. */
  get snapshot(): RunbookPolicySnapshot<'rollbackToPilot'> {
    return this.snapshotValue!;
  }

  get policy(): RunbookPolicySnapshot<'rollbackToPilot'>['runbook'] {
    return this.snapshot.runbook;
  }

  configure(snapshot: RunbookPolicySnapshot<'rollbackToPilot'>): void {
    this.snapshotValue = snapshot;
    this.notices.configure(snapshot.notifications);
    this.failSafe.configure(snapshot.failSafe);
    this.record.markTestOnlyIf(snapshot.testOnlyShortDurations);
    this.confirmers = [this.ic, ...snapshot.runbook.confirmers];
  }

  evidence(step: string, ok: boolean, data: unknown): void {
    this.detail.evidence.push({ step, ok, detail: data });
  }

  /** A critical notice that pages (one page per kind and run). */
  escalate(kind: NoticeKind, subject: string, body: string, to: string[]): void {
    this.notices.send({
      kind,
      severity: 'critical',
      audience: 'escalation',
      recipients: to,
      page: { action: 'trigger', dedupKey: `${this.record.status.workflowId}/${kind}` },
      subject: `${this.tag} ${subject}`,
      body,
    });
  }

  async finish(outcome: RollbackOutcome, message: string): Promise<RollbackResult> {
    const { record, detail } = this;
    // A drill that ends before its plan is timed (aborted, refused…) has no SLO verdict.
    if (this.input.drill && outcome !== 'drill_within_slo' && outcome !== 'drill_over_slo')
      recordDrillNotCompleted(ROLLBACK_TO_PILOT, outcome);
    record.finish(outcome, message);
    await this.notices.settle();
    return {
      runbook: ROLLBACK_TO_PILOT,
      outcome,
      message,
      incidentId: this.input.incidentId,
      workflowId: record.status.workflowId,
      ...(detail.decision ? { decision: detail.decision } : {}),
      evidence: detail.evidence,
      ...(detail.backups ? { backups: detail.backups } : {}),
      ...(detail.plan ? { plan: detail.plan } : {}),
      ...(detail.targets ? { targets: detail.targets } : {}),
      ...(detail.rca ? { rca: detail.rca } : {}),
      ...(detail.drill ? { drill: detail.drill } : {}),
      deadlines: record.status.deadlines,
      nonConformities: record.status.nonConformities,
      ...record.resultTrail(),
    };
  }

  private onConfirm(raw: unknown): void {
    const { record, detail } = this;
    const parsed = confirmRollbackPayloadSchema.safeParse(raw);
    if (!parsed.success) {
      record.refused({
        signal: 'confirmRollback',
        reason: 'invalid_payload',
        detail: describeIssuesInline(parsed.error, 'confirmRollback payload'),
      });
      return;
    }
    const by = `@${normalizeHandle(parsed.data.by)}`;
    if (!this.confirmers.some((who) => sameHandle(who, by))) {
      record.refused({
        signal: 'confirmRollback',
        by,
        reason: 'not_authorized',
        detail: `only the incident commander (${this.ic}) or ${this.confirmers.slice(1).join(', ') || 'no one else'} can confirm`,
      });
      return;
    }
    if (this.confirmation) {
      record.refused({
        signal: 'confirmRollback',
        by,
        reason: 'already_decided',
        detail: `already ${this.confirmation.decision} by ${this.confirmation.by}`,
      });
      return;
    }
    const note = parsed.data.note ? { note: parsed.data.note } : {};
    this.confirmation = { by, decision: parsed.data.decision, atMs: Date.now(), ...note };
    detail.confirmation = { by, decision: parsed.data.decision, at: utcIso(Date.now()), ...note };
    record.event('confirmation', `rollback ${parsed.data.decision} by ${by}`, by);
  }

  /** The rollback itself is not interrupted; `abort` answers a step that waits for a human. */
  private onAbort(raw: unknown): void {
    const parsed = abortPayloadSchema.safeParse(raw);
    if (!parsed.success) {
      this.record.refused({
        signal: 'abort',
        reason: 'invalid_payload',
        detail: describeIssuesInline(parsed.error, 'abort payload'),
      });
      return;
    }
    const by = `@${normalizeHandle(parsed.data.by)}`;
    if (!this.failSafe.waiting) {
      this.record.refused({
        signal: 'abort',
        by,
        reason: 'gate_not_open',
        detail:
          'abort applies while a step waits for a human (needs_human); the rollback runs to its end otherwise',
      });
      return;
    }
    if (!this.mayDecide(by)) {
      this.record.refused({
        signal: 'abort',
        by,
        reason: 'not_authorized',
        detail: `${by} may not decide for this run`,
      });
      return;
    }
    this.failSafe.takeAbort(by, parsed.data.reason);
  }

  private onRcaFiled(raw: unknown): void {
    const { record, detail } = this;
    const parsed = rcaFiledPayloadSchema.safeParse(raw);
    if (!parsed.success) {
      record.refused({
        signal: 'rcaFiled',
        reason: 'invalid_payload',
        detail: describeIssuesInline(parsed.error, 'rcaFiled payload'),
      });
      return;
    }
    const by = `@${normalizeHandle(parsed.data.by)}`;
    if (!detail.rca || detail.rca.state !== 'awaiting') {
      record.refused({
        signal: 'rcaFiled',
        by,
        reason: detail.rca ? 'already_decided' : 'gate_not_open',
        detail: detail.rca ? `RCA already ${detail.rca.state}` : 'the rollback has not completed yet',
      });
      return;
    }
    detail.rca = { ...detail.rca, state: 'filed', by, link: parsed.data.link, filedAt: utcIso(Date.now()) };
    record.event('rca_filed', `RCA filed: ${parsed.data.link}`, by);
  }
}
