import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Database, RunbookActivities } from '../../activities';
import type { NoticePage } from '../../common/notice';
import { utcIso } from '../../common/duration';
import { normalizeHandle } from '../../common/identity';
import { describeIssuesInline } from '../../common/validation';
import { databaseRead, notification, probe } from '../activity-options';
import { describeFailure, type Notices } from '../shared/notices';
import type { RunRecord } from '../shared/run-record';
import {
  checkReconciliationSignal,
  postMortemFiledPayloadSchema,
  postMortemFiledSignal,
  type BreakGlassDetail,
  type PostMortemComment,
} from './definitions';

const { findReconcilingWrite } = proxyActivities<RunbookActivities>(databaseRead);
const { probeConsole } = proxyActivities<RunbookActivities>(probe);
const { commentOnWorkPackage, commentOnGitHubIssue } = proxyActivities<RunbookActivities>(notification);

/**
 * The gating ritual's obligations after a break-glass write (seed 000):
 * - gate 2, reconciliation: a Console write carrying change_reason = 'break-glass-<incident>' within
 *   the policy's deadline (Procedure B first waits, probing, for the Console to come back);
 * - gate 3, post-mortem: marked filed within 24 h.
 * The workflow checks the table itself, periodically and at once on `checkReconciliation`.
 */

type AnyDetail = BreakGlassDetail<unknown, unknown, unknown>;

/** Installed at workflow start, so an early or stray signal is refused and recorded. */
export class ObligationSignals {
  checkRequested = false;

  constructor(private readonly record: RunRecord<AnyDetail>) {
    setHandler(checkReconciliationSignal, () => {
      this.checkRequested = true;
    });
    setHandler(postMortemFiledSignal, (raw) => this.onPostMortemFiled(raw));
  }

  private onPostMortemFiled(raw: unknown): void {
    const parsed = postMortemFiledPayloadSchema.safeParse(raw);
    if (!parsed.success) {
      this.record.refused({
        signal: 'postMortemFiled',
        reason: 'invalid_payload',
        detail: describeIssuesInline(parsed.error, 'postMortemFiled payload'),
      });
      return;
    }
    const by = `@${normalizeHandle(parsed.data.by)}`;
    const postMortem = this.record.status.detail.postMortem;
    if (!postMortem) {
      this.record.refused({
        signal: 'postMortemFiled',
        by,
        reason: 'gate_not_open',
        detail: 'nothing has been executed yet',
      });
      return;
    }
    if (postMortem.state !== 'awaiting') {
      this.record.refused({
        signal: 'postMortemFiled',
        by,
        reason: 'already_decided',
        detail: `post-mortem is already ${postMortem.state}`,
      });
      return;
    }
    postMortem.state = 'filed';
    postMortem.filedBy = by;
    postMortem.link = parsed.data.link;
    postMortem.filedAt = utcIso(Date.now());
    this.record.event('post_mortem_filed', `post-mortem filed: ${parsed.data.link}`, by);
    if (this.record.status.step === 'awaiting_post_mortem')
      this.record.describe('post-mortem filed; finishing');
  }
}

export interface ObligationPolicy {
  reconciliationDeadline: number;
  reconciliationPollInterval: number;
  lateReconciliationPollInterval: number;
  postMortemDeadline: number;
}

export interface ObligationsOptions {
  record: RunRecord<AnyDetail>;
  notices: Notices;
  signals: ObligationSignals;
  incidentId: string;
  tag: string;
  database: Database;
  executedAtMs: number;
  /** The break-glass history row: the reconciling write must come after it. */
  afterHistoryId: number;
  policy: ObligationPolicy;
  /** Procedure B: wait (probing) for the Console before the reconciliation window opens. */
  consoleRecovery?: { probeInterval: number; timeout: number };
  postMortemComment?: { channel: string; workPackageId: number } | { channel: string; issueNumber: number };
  /** The procedure's post-mortem text from the current record. */
  renderDraft: () => string;
  page: (topic: string, action?: NoticePage['action']) => NoticePage;
}

export async function watchObligations(options: ObligationsOptions): Promise<void> {
  const { record, notices, signals, incidentId, tag, policy } = options;
  const detail = record.status.detail;
  const postMortemDueMs = options.executedAtMs + policy.postMortemDeadline;
  let reconciliationDueMs = options.executedAtMs + policy.reconciliationDeadline;
  detail.reconciliation = { state: 'pending', dueAt: utcIso(reconciliationDueMs), checks: 0 };
  detail.postMortem = { state: 'awaiting', dueAt: utcIso(postMortemDueMs), draft: '' };
  const reconciliation = detail.reconciliation;
  const postMortem = detail.postMortem;
  const consoleDueMs = options.consoleRecovery
    ? options.executedAtMs + options.consoleRecovery.timeout
    : undefined;
  if (consoleDueMs !== undefined) {
    detail.consoleRecovery = { state: 'waiting', dueAt: utcIso(consoleDueMs), probes: 0 };
    record.setDeadline('console_recovery', consoleDueMs);
  } else {
    record.setDeadline('reconciliation', reconciliationDueMs);
  }
  record.setDeadline('post_mortem', postMortemDueMs);
  refreshDraft();
  if (consoleDueMs !== undefined) {
    record.enterStep(
      'awaiting_console_recovery',
      `probing the Console until it is back (by ${utcIso(consoleDueMs)}); post-mortem due ${postMortem.dueAt}`,
    );
  } else {
    record.enterStep(
      'awaiting_reconciliation',
      `waiting for a Console write with change_reason='break-glass-${incidentId}' by ${reconciliation.dueAt}; post-mortem due ${postMortem.dueAt}`,
    );
  }
  notices.send({
    kind: 'post_mortem_draft',
    severity: 'info',
    audience: 'incident_commander',
    subject: `${tag} post-mortem draft ready (due ${postMortem.dueAt})`,
    body: postMortem.draft,
  });
  await Promise.all([watchReconciliation(), watchPostMortem()]);

  // -------------------------------------------------------------------------------------------

  function refreshDraft(): void {
    postMortem.draft = options.renderDraft();
  }

  async function waitForConsole(): Promise<boolean> {
    const recovery = detail.consoleRecovery!;
    for (;;) {
      recovery.probes += 1;
      let up = false;
      try {
        recovery.lastProbe = await probeConsole();
        up = recovery.lastProbe.up;
      } catch (error) {
        record.event('console_probe_failed', `could not probe the Console: ${describeFailure(error)}`);
      }
      if (up) {
        recovery.state = 'recovered';
        recovery.recoveredAt = utcIso(Date.now());
        record.resolveDeadline('console_recovery', 'met');
        record.event(
          'console_recovered',
          `the Console answers again (HTTP ${recovery.lastProbe?.status ?? '?'})`,
        );
        return true;
      }
      if (Date.now() >= consoleDueMs!) break;
      const wait = Math.max(Math.min(options.consoleRecovery!.probeInterval, consoleDueMs! - Date.now()), 1);
      await condition(() => signals.checkRequested, wait, {
        summary: `Console probe (must be back by ${recovery.dueAt})`,
      });
      signals.checkRequested = false;
    }
    recovery.state = 'not_recovered';
    record.resolveDeadline('console_recovery', 'missed');
    const message =
      `the Console was not back by ${recovery.dueAt} (${recovery.probes} probes): the reconciling Console write ` +
      `(change_reason='break-glass-${incidentId}') cannot be made; escalate to platform`;
    record.nonConformity('console_not_recovered', message);
    notices.send({
      kind: 'console_not_recovered',
      severity: 'critical',
      audience: 'escalation',
      page: options.page('console'),
      subject: `${tag} ESCALATION: Console still down, reconciliation impossible`,
      body: message,
    });
    return false;
  }

  async function check(): Promise<boolean> {
    reconciliation.checks += 1;
    let write;
    try {
      write = await findReconcilingWrite({
        incidentId,
        afterHistoryId: options.afterHistoryId,
        database: options.database,
      });
    } catch (error) {
      record.event(
        'reconciliation_check_failed',
        `could not check for the reconciling write: ${describeFailure(error)}`,
      );
      return false;
    }
    reconciliation.lastCheckedAt = write.checkedAt;
    if (!write.found) return false;
    reconciliation.write = write;
    reconciliation.seenAt = utcIso(Date.now());
    return true;
  }

  async function watchReconciliation(): Promise<void> {
    if (consoleDueMs !== undefined) {
      const recovered = await waitForConsole();
      if (recovered) {
        reconciliationDueMs = Date.now() + policy.reconciliationDeadline;
        reconciliation.dueAt = utcIso(reconciliationDueMs);
        record.setDeadline('reconciliation', reconciliationDueMs);
        record.enterStep(
          'awaiting_reconciliation',
          `Console is back: waiting for a Console write with change_reason='break-glass-${incidentId}' by ${reconciliation.dueAt}`,
        );
      } else {
        reconciliation.dueAt = detail.consoleRecovery!.dueAt;
        reconciliation.state = 'missed';
        refreshDraft();
        afterReconciliation();
        return watchLate();
      }
    }
    // Inside the window: poll, or check at once when asked; one last check at the deadline.
    for (;;) {
      const atDeadline = Date.now() >= reconciliationDueMs;
      if (await check()) {
        const write = reconciliation.write!;
        const inTime = !atDeadline || Date.parse(write.changedAt) <= reconciliationDueMs;
        if (inTime) {
          reconciliation.state = 'found_in_time';
          record.resolveDeadline('reconciliation', 'met');
          record.event(
            'reconciled',
            `reconciling write id=${write.id} by ${write.changedBy} at ${write.changedAt}`,
          );
        } else {
          markMissed();
          reconciliation.state = 'late';
          record.event(
            'reconciled_late',
            `late reconciling write id=${write.id} by ${write.changedBy} at ${write.changedAt}`,
          );
        }
        return afterReconciliation();
      }
      if (atDeadline) break;
      const wait = Math.max(Math.min(policy.reconciliationPollInterval, reconciliationDueMs - Date.now()), 1);
      await condition(() => signals.checkRequested, wait, {
        summary: `reconciliation: next check (deadline ${reconciliation.dueAt})`,
      });
      signals.checkRequested = false;
    }
    markMissed();
    afterReconciliation();
    return watchLate();
  }

  /** After a miss, keep looking until the post-mortem window closes so a late write is recorded. */
  async function watchLate(): Promise<void> {
    while (Date.now() < postMortemDueMs) {
      const wait = Math.max(Math.min(policy.lateReconciliationPollInterval, postMortemDueMs - Date.now()), 1);
      await condition(() => signals.checkRequested, wait, {
        summary: 'reconciliation: watching for a late write',
      });
      signals.checkRequested = false;
      if (await check()) {
        const write = reconciliation.write!;
        reconciliation.state = 'late';
        record.event(
          'reconciled_late',
          `late reconciling write id=${write.id} by ${write.changedBy} at ${write.changedAt}`,
        );
        notices.send({
          kind: 'reconciliation_late',
          severity: 'warning',
          audience: 'incident_commander',
          page: options.page('reconciliation', 'resolve'),
          subject: `${tag} reconciling write arrived late (id ${write.id})`,
          body: `Due ${reconciliation.dueAt}; written ${write.changedAt} by ${write.changedBy}. The run stays non-conforming.`,
        });
        refreshDraft();
        return;
      }
    }
  }

  function markMissed(): void {
    reconciliation.state = 'missed';
    record.resolveDeadline('reconciliation', 'missed');
    const message =
      `no Console write with change_reason='break-glass-${incidentId}' appeared by ${reconciliation.dueAt} ` +
      '(seed 000 gate 2): non-conforme ADR-68 + ADR-82, raise at the next pr_review committee';
    record.nonConformity('reconciliation_missed', message);
    notices.send({
      kind: 'reconciliation_missed',
      severity: 'critical',
      audience: 'escalation',
      page: options.page('reconciliation'),
      subject: `${tag} ESCALATION: reconciling Console write missed`,
      body: message,
    });
  }

  function afterReconciliation(): void {
    refreshDraft();
    postDraft();
    if (postMortem.state === 'awaiting') {
      record.enterStep(
        'awaiting_post_mortem',
        `post-mortem due ${postMortem.dueAt}; send "postMortemFiled" {"by","link"}`,
      );
    } else if (reconciliation.state === 'missed') {
      record.enterStep(
        'watching_late_reconciliation',
        `reconciliation missed; still watching for a late write until ${utcIso(postMortemDueMs)}`,
      );
    }
  }

  /** Posts the draft as a comment on the configured work package / issue (once, idempotent). */
  function postDraft(): void {
    const target = options.postMortemComment;
    if (!target || postMortem.comment) return;
    const deliveryKey = `${record.status.workflowId}/${record.status.runId}/post-mortem-draft`;
    const where =
      'workPackageId' in target ? `work package #${target.workPackageId}` : `issue #${target.issueNumber}`;
    const comment: PostMortemComment = { channel: target.channel, target: where, state: 'posting' };
    postMortem.comment = comment;
    const posting =
      'workPackageId' in target
        ? commentOnWorkPackage({
            channel: target.channel,
            workPackageId: target.workPackageId,
            markdown: postMortem.draft,
            deliveryKey,
          }).then(() => undefined)
        : commentOnGitHubIssue({
            channel: target.channel,
            issueNumber: target.issueNumber,
            body: postMortem.draft,
            deliveryKey,
          }).then((receipt) => {
            comment.url = receipt.url;
          });
    notices.track(
      posting.then(
        () => {
          comment.state = 'posted';
          record.event('post_mortem_draft_posted', `post-mortem draft posted on ${target.channel} ${where}`);
        },
        (error: unknown) => {
          comment.state = 'failed';
          comment.error = describeFailure(error);
          record.event(
            'post_mortem_draft_failed',
            `post-mortem draft not posted on ${target.channel} ${where}: ${comment.error}`,
          );
          notices.send({
            kind: 'post_mortem_draft_failed',
            severity: 'warning',
            audience: 'incident_commander',
            subject: `${tag} could not post the post-mortem draft on ${where}`,
            body: `${comment.error}\nThe draft is in the run's status (detail.postMortem.draft); file it by hand.`,
          });
        },
      ),
    );
  }

  async function watchPostMortem(): Promise<void> {
    const filed = await condition(
      () => postMortem.state === 'filed',
      Math.max(postMortemDueMs - Date.now(), 1),
      {
        summary: `post-mortem due ${postMortem.dueAt}`,
      },
    );
    if (filed) {
      record.resolveDeadline('post_mortem', 'met');
      return;
    }
    postMortem.state = 'missed';
    record.resolveDeadline('post_mortem', 'missed');
    const message = `post-mortem not marked filed by ${postMortem.dueAt} (seed 000 gate 3): non-conforme ADR-68 + ADR-82`;
    record.nonConformity('post_mortem_missed', message);
    notices.send({
      kind: 'post_mortem_missed',
      severity: 'critical',
      audience: 'escalation',
      page: options.page('post-mortem'),
      subject: `${tag} ESCALATION: post-mortem missed`,
      body: message,
    });
  }
}
