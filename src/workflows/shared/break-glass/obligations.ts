import { condition, proxyActivities } from '@temporalio/workflow';
import type { Database, RunbookActivities } from '../../../activities';
import type { NoticePage } from '../../../common/notice';
import { utcIso } from '../../../common/duration';
import { databaseRead, probe } from '../../activity-options';
import { describeFailure, type Notices } from '../notices';
import type { RunRecord } from '../run-record';
import type { ObligationSignals } from './obligation-signals';
import { postDraftComment } from './post-mortem-comment';
import type { BreakGlassDetail, PostMortemRecord, ReconciliationRecord } from './definitions';

const { findReconcilingWrite } = proxyActivities<RunbookActivities>(databaseRead);
const { probeConsole } = proxyActivities<RunbookActivities>(probe);

/**
 * The gating ritual's obligations after a break-glass write (seed 000):
 * - gate 2, reconciliation: a Console write carrying change_reason = 'break-glass-<incident>' within
 *   the policy's deadline (Procedure B first waits, probing, for the Console to come back);
 * - gate 3, post-mortem: marked filed within 24 h.
 * The workflow checks the table itself, periodically and at once on `checkReconciliation`.
 */

type AnyDetail = BreakGlassDetail<unknown, unknown, unknown>;

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

/** Watches both obligations side by side until each is met, missed or (reconciliation) late. */
export async function watchObligations(options: ObligationsOptions): Promise<void> {
  await new ObligationWatch(options).run();
}

class ObligationWatch {
  private readonly detail: AnyDetail;
  private readonly reconciliation: ReconciliationRecord;
  private readonly postMortem: PostMortemRecord;
  private readonly postMortemDueMs: number;
  private readonly consoleDueMs: number | undefined;
  private reconciliationDueMs: number;

  constructor(private readonly options: ObligationsOptions) {
    const { record, policy, executedAtMs } = options;
    this.detail = record.status.detail;
    this.postMortemDueMs = executedAtMs + policy.postMortemDeadline;
    this.reconciliationDueMs = executedAtMs + policy.reconciliationDeadline;
    this.reconciliation = { state: 'pending', dueAt: utcIso(this.reconciliationDueMs), checks: 0 };
    this.postMortem = { state: 'awaiting', dueAt: utcIso(this.postMortemDueMs), draft: '' };
    this.detail.reconciliation = this.reconciliation;
    this.detail.postMortem = this.postMortem;
    this.consoleDueMs = options.consoleRecovery ? executedAtMs + options.consoleRecovery.timeout : undefined;
  }

  async run(): Promise<void> {
    this.open();
    await Promise.all([this.watchReconciliation(), this.watchPostMortem()]);
  }

  /** Deadlines, the first step, and the post-mortem draft to the IC. */
  private open(): void {
    const { record, notices, incidentId, tag } = this.options;
    if (this.consoleDueMs !== undefined) {
      this.detail.consoleRecovery = { state: 'waiting', dueAt: utcIso(this.consoleDueMs), probes: 0 };
      record.setDeadline('console_recovery', this.consoleDueMs);
    } else {
      record.setDeadline('reconciliation', this.reconciliationDueMs);
    }
    record.setDeadline('post_mortem', this.postMortemDueMs);
    this.refreshDraft();
    if (this.consoleDueMs !== undefined) {
      record.enterStep(
        'awaiting_console_recovery',
        `probing the Console until it is back (by ${utcIso(this.consoleDueMs)}); post-mortem due ${this.postMortem.dueAt}`,
      );
    } else {
      record.enterStep(
        'awaiting_reconciliation',
        `waiting for a Console write with change_reason='break-glass-${incidentId}' by ${this.reconciliation.dueAt}; post-mortem due ${this.postMortem.dueAt}`,
      );
    }
    notices.send({
      kind: 'post_mortem_draft',
      severity: 'info',
      audience: 'incident_commander',
      subject: `${tag} post-mortem draft ready (due ${this.postMortem.dueAt})`,
      body: this.postMortem.draft,
    });
  }

  private refreshDraft(): void {
    this.postMortem.draft = this.options.renderDraft();
  }

  /** Waits for a check request or `ms`, whichever comes first, then clears the request. */
  private async nap(ms: number, summary: string): Promise<void> {
    const { signals } = this.options;
    await condition(() => signals.checkRequested, Math.max(ms, 1), { summary });
    signals.checkRequested = false;
  }

  /** Procedure B: probe until the Console answers again, or escalate at its deadline. */
  private async waitForConsole(): Promise<boolean> {
    const { record, notices, incidentId, tag } = this.options;
    const recovery = this.detail.consoleRecovery!;
    const dueMs = this.consoleDueMs!;
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
      if (Date.now() >= dueMs) break;
      await this.nap(
        Math.min(this.options.consoleRecovery!.probeInterval, dueMs - Date.now()),
        `Console probe (must be back by ${recovery.dueAt})`,
      );
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
      page: this.options.page('console'),
      subject: `${tag} ESCALATION: Console still down, reconciliation impossible`,
      body: message,
    });
    return false;
  }

  /** One look at the history table for the reconciling write. */
  private async check(): Promise<boolean> {
    const { record, incidentId } = this.options;
    this.reconciliation.checks += 1;
    let write;
    try {
      write = await findReconcilingWrite({
        incidentId,
        afterHistoryId: this.options.afterHistoryId,
        database: this.options.database,
      });
    } catch (error) {
      record.event(
        'reconciliation_check_failed',
        `could not check for the reconciling write: ${describeFailure(error)}`,
      );
      return false;
    }
    this.reconciliation.lastCheckedAt = write.checkedAt;
    if (!write.found) return false;
    this.reconciliation.write = write;
    this.reconciliation.seenAt = utcIso(Date.now());
    return true;
  }

  private async watchReconciliation(): Promise<void> {
    if (this.consoleDueMs !== undefined && !(await this.consoleBack())) return this.watchLate();
    if (await this.pollUntilDeadline()) return this.afterReconciliation();
    this.markMissed();
    this.afterReconciliation();
    return this.watchLate();
  }

  /** Procedure B: the reconciliation window opens when the Console is back. */
  private async consoleBack(): Promise<boolean> {
    const { record, incidentId, policy } = this.options;
    if (await this.waitForConsole()) {
      this.reconciliationDueMs = Date.now() + policy.reconciliationDeadline;
      this.reconciliation.dueAt = utcIso(this.reconciliationDueMs);
      record.setDeadline('reconciliation', this.reconciliationDueMs);
      record.enterStep(
        'awaiting_reconciliation',
        `Console is back: waiting for a Console write with change_reason='break-glass-${incidentId}' by ${this.reconciliation.dueAt}`,
      );
      return true;
    }
    this.reconciliation.dueAt = this.detail.consoleRecovery!.dueAt;
    this.reconciliation.state = 'missed';
    this.refreshDraft();
    this.afterReconciliation();
    return false;
  }

  /**
   * Inside the window: poll, or check at once when asked; one last check at the deadline.
   * True when the write was seen (in time, or at the deadline check but written late).
   */
  private async pollUntilDeadline(): Promise<boolean> {
    const { record, policy } = this.options;
    for (;;) {
      const atDeadline = Date.now() >= this.reconciliationDueMs;
      if (await this.check()) {
        const write = this.reconciliation.write!;
        const inTime = !atDeadline || Date.parse(write.changedAt) <= this.reconciliationDueMs;
        if (inTime) {
          this.reconciliation.state = 'found_in_time';
          record.resolveDeadline('reconciliation', 'met');
          record.event(
            'reconciled',
            `reconciling write id=${write.id} by ${write.changedBy} at ${write.changedAt}`,
          );
        } else {
          this.markMissed();
          this.reconciliation.state = 'late';
          record.event(
            'reconciled_late',
            `late reconciling write id=${write.id} by ${write.changedBy} at ${write.changedAt}`,
          );
        }
        return true;
      }
      if (atDeadline) return false;
      await this.nap(
        Math.min(policy.reconciliationPollInterval, this.reconciliationDueMs - Date.now()),
        `reconciliation: next check (deadline ${this.reconciliation.dueAt})`,
      );
    }
  }

  /** After a miss, keep looking until the post-mortem window closes so a late write is recorded. */
  private async watchLate(): Promise<void> {
    const { record, notices, policy, tag } = this.options;
    while (Date.now() < this.postMortemDueMs) {
      await this.nap(
        Math.min(policy.lateReconciliationPollInterval, this.postMortemDueMs - Date.now()),
        'reconciliation: watching for a late write',
      );
      if (await this.check()) {
        const write = this.reconciliation.write!;
        this.reconciliation.state = 'late';
        record.event(
          'reconciled_late',
          `late reconciling write id=${write.id} by ${write.changedBy} at ${write.changedAt}`,
        );
        notices.send({
          kind: 'reconciliation_late',
          severity: 'warning',
          audience: 'incident_commander',
          page: this.options.page('reconciliation', 'resolve'),
          subject: `${tag} reconciling write arrived late (id ${write.id})`,
          body: `Due ${this.reconciliation.dueAt}; written ${write.changedAt} by ${write.changedBy}. The run stays non-conforming.`,
        });
        this.refreshDraft();
        return;
      }
    }
  }

  private markMissed(): void {
    const { record, notices, incidentId, tag } = this.options;
    this.reconciliation.state = 'missed';
    record.resolveDeadline('reconciliation', 'missed');
    const message =
      `no Console write with change_reason='break-glass-${incidentId}' appeared by ${this.reconciliation.dueAt} ` +
      '(seed 000 gate 2): non-conforme ADR-68 + ADR-82, raise at the next pr_review committee';
    record.nonConformity('reconciliation_missed', message);
    notices.send({
      kind: 'reconciliation_missed',
      severity: 'critical',
      audience: 'escalation',
      page: this.options.page('reconciliation'),
      subject: `${tag} ESCALATION: reconciling Console write missed`,
      body: message,
    });
  }

  private afterReconciliation(): void {
    const { record } = this.options;
    this.refreshDraft();
    this.postDraft();
    if (this.postMortem.state === 'awaiting') {
      record.enterStep(
        'awaiting_post_mortem',
        `post-mortem due ${this.postMortem.dueAt}; send "postMortemFiled" {"by","link"}`,
      );
    } else if (this.reconciliation.state === 'missed') {
      record.enterStep(
        'watching_late_reconciliation',
        `reconciliation missed; still watching for a late write until ${utcIso(this.postMortemDueMs)}`,
      );
    }
  }

  /** Posts the draft as a comment on the configured work package / issue (once, idempotent). */
  private postDraft(): void {
    const { record, notices, tag, postMortemComment } = this.options;
    if (postMortemComment)
      postDraftComment({ record, notices, tag, target: postMortemComment, postMortem: this.postMortem });
  }

  private async watchPostMortem(): Promise<void> {
    const { record, notices, tag } = this.options;
    const postMortem = this.postMortem;
    const filed = await condition(
      () => postMortem.state === 'filed',
      Math.max(this.postMortemDueMs - Date.now(), 1),
      { summary: `post-mortem due ${postMortem.dueAt}` },
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
      page: this.options.page('post-mortem'),
      subject: `${tag} ESCALATION: post-mortem missed`,
      body: message,
    });
  }
}
