import { setHandler } from '@temporalio/workflow';
import type { RunbookPolicySnapshot } from '../../activities';
import type { NoticeKind } from '../../common/notice';
import { atHandle, sameHandle } from '../../common/identity';
import { describeIssuesInline } from '../../common/validation';
import { FailSafe } from '../shared/fail-safe';
import { handleDecision } from '../shared/decisions';
import { abortMessage, abortPayloadSchema, statusQuery } from '../shared/messages';
import { Notices } from '../shared/notices';
import { RunRecord } from '../shared/run-record';
import {
  RELEASE_ROLLBACK,
  type ReleaseRollbackDetail,
  type ReleaseRollbackInputParsed,
  type ReleaseRollbackOutcome,
  type ReleaseRollbackResult,
} from './definitions';

type Snapshot = RunbookPolicySnapshot<'releaseRollback'>;
export type ReleaseRollbackPolicySection = NonNullable<Snapshot['runbook']>;

/**
 * One release rollback: its record, notices and fail-safe, installed before the first await. An
 * `abort` answers a step that waits for a human, or the wait for the revert PR to merge and deploy.
 */
export class ReleaseRollbackRun {
  readonly record: RunRecord<ReleaseRollbackDetail>;
  readonly detail: ReleaseRollbackDetail;
  readonly notices: Notices;
  readonly failSafe: FailSafe;
  readonly requester: string;
  readonly tag: string;
  /** Set by an accepted abort while the run waits for the revert to merge and deploy. */
  abortRequested?: { by: string; reason: string };

  /** A fail-safe step a human ended (abort; no release rollback step offers skip): who and why, kept for the end. */
  stoppedBy(outcome: { by: string; reason?: string | undefined }): void {
    this.abortRequested ??= { by: outcome.by, reason: outcome.reason ?? 'no reason given' };
  }
  private policyValue?: ReleaseRollbackPolicySection;

  constructor(readonly input: ReleaseRollbackInputParsed) {
    this.requester = atHandle(input.requestedBy);
    this.record = new RunRecord<ReleaseRollbackDetail>(RELEASE_ROLLBACK, input.incidentId ?? input.storyId, {
      storyId: input.storyId,
      mergeSha: input.mergeSha,
      requestedBy: this.requester,
      reason: input.reason,
      mechanism: input.mechanism,
    });
    setHandler(statusQuery, () => this.record.status);
    this.detail = this.record.status.detail;
    this.notices = new Notices(this.record);
    this.tag = `[${input.storyId} release rollback ${input.mergeSha.slice(0, 7)}]`;
    this.record.setMemoSummary(
      `Release rollback of ${input.mergeSha.slice(0, 7)} (${input.storyId}), asked by ${this.requester}`,
    );
    this.failSafe = new FailSafe(this.record, this.notices, {
      tag: this.tag,
      incidentCommander: this.requester,
      mayDecide: (by) => this.mayDecide(by),
      account: () => this.account(),
    });
    handleDecision(this.record, abortMessage, (raw) => this.onAbort(raw));
  }

  get policy(): ReleaseRollbackPolicySection {
    return this.policyValue!;
  }

  configure(snapshot: Snapshot, section: ReleaseRollbackPolicySection): void {
    this.policyValue = section;
    this.notices.configure(snapshot.notifications);
    this.failSafe.configure(snapshot.failSafe);
    this.record.markTestOnlyIf(snapshot.testOnlyShortDurations);
  }

  /** The one who asked and the policy's deciders. */
  get people(): string[] {
    return [this.requester, ...(this.policyValue?.deciders ?? []).map(atHandle)];
  }

  mayDecide(by: string): boolean {
    return this.people.some((who) => sameHandle(who, by));
  }

  account(): string {
    const { helmPin, mergeRevert } = this.detail;
    const parts = [
      helmPin ? `helm pin to ${this.detail.pinTag}: ${helmPin.state}` : 'helm release not touched',
      mergeRevert?.pullRequest
        ? `revert PR #${mergeRevert.pullRequest.number} ${mergeRevert.state}`
        : 'no revert PR opened',
    ];
    return parts.join('; ');
  }

  notify(kind: NoticeKind, severity: 'info' | 'warning' | 'critical', subject: string, body: string): void {
    this.notices.send({
      kind,
      severity,
      audience: severity === 'critical' ? 'escalation' : 'owner',
      recipients: this.people,
      ...(severity === 'critical'
        ? { page: { action: 'trigger' as const, dedupKey: `${this.record.status.workflowId}/${kind}` } }
        : {}),
      subject: `${this.tag} ${subject}`,
      body,
    });
  }

  async finish(outcome: ReleaseRollbackOutcome, message: string): Promise<ReleaseRollbackResult> {
    const { record, detail } = this;
    record.finish(outcome, message);
    await this.notices.settle();
    return {
      runbook: RELEASE_ROLLBACK,
      outcome,
      message,
      workflowId: record.status.workflowId,
      storyId: this.input.storyId,
      mergeSha: this.input.mergeSha,
      ...(detail.helmPin ? { helmPin: detail.helmPin } : {}),
      ...(detail.mergeRevert ? { mergeRevert: detail.mergeRevert } : {}),
      ...(detail.dryRun ? { dryRun: detail.dryRun } : {}),
      ...record.resultTrail(),
    };
  }

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
    const by = atHandle(parsed.data.by);
    if (!this.mayDecide(by)) {
      this.record.refused({
        signal: 'abort',
        by,
        reason: 'not_authorized',
        detail: `${by} may not decide for this run (${this.people.join(', ')} may)`,
      });
      return;
    }
    if (this.failSafe.takeAbort(by, parsed.data.reason)) return;
    const awaiting = this.detail.mergeRevert?.state;
    if ((awaiting === 'awaiting_merge' || awaiting === 'awaiting_deploy') && !this.abortRequested) {
      this.abortRequested = { by, reason: parsed.data.reason };
      this.record.event('abort', `abort while ${awaiting}: ${parsed.data.reason}`, by);
      return;
    }
    this.record.refused({
      signal: 'abort',
      by,
      reason: 'gate_not_open',
      detail:
        'abort applies while a step waits for a human or while the revert PR waits to merge and deploy; the helm pin runs to its end',
    });
  }
}
