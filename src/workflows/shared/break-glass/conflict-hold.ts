import { handleDecision } from '../decisions';
import { repeatInterval } from '../history-budget';
import { condition } from '@temporalio/workflow';
import { DEFAULT_FAIL_SAFE, type FailSafePolicy } from '../../../common/policy/fail-safe';
import { utcIso } from '../../../common/duration';
import { normalizeHandle } from '../../../common/identity';
import type { NoticePage } from '../../../common/notice';
import { describeIssuesInline } from '../../../common/validation';
import type { Notices } from '../notices';
import type { RunRecord } from '../run-record';
import {
  acknowledgeConflictPayloadSchema,
  acknowledgeConflictMessage,
  type BreakGlassDetail,
  type ConflictHoldRecord,
} from './definitions';

type AnyDetail = BreakGlassDetail<unknown, unknown, unknown>;

/** Conflicting keys listed in the status and the page (the verification keeps them all). */
const KEYS_SHOWN = 20;

/**
 * Seed 000 step 4.3: CONFLICT > 0 against the canonical payload after a restore is either intended
 * (an operator-tuned snapshot) or the wrong id: "pause and verify". The run does not end until the
 * incident commander (or an approver) acknowledges it with `acknowledgeConflict` {"by","note"};
 * meanwhile the obligations' clocks keep running, the IC is paged and reminded every fail-safe
 * re-page interval, and the hold shows in current details. Installed at workflow start so an early
 * acknowledgement is refused and recorded.
 */
export class ConflictHold {
  private reminderInterval = DEFAULT_FAIL_SAFE.repageInterval;
  private hold?: ConflictHoldRecord;

  constructor(
    private readonly record: RunRecord<AnyDetail>,
    private readonly notices: Notices,
    private readonly options: {
      tag: string;
      incidentCommander: string;
      mayAcknowledge(by: string): boolean;
      page(topic: string, action?: NoticePage['action']): NoticePage;
    },
  ) {
    handleDecision(record, acknowledgeConflictMessage, (raw) => this.onAcknowledge(raw));
  }

  configure(policy: FailSafePolicy | undefined): void {
    if (policy) this.reminderInterval = policy.repageInterval;
  }

  get holding(): boolean {
    return this.hold?.state === 'awaiting_acknowledgement';
  }

  /** Opens the hold (the verification has flagged the conflict): current details, the page to the IC. */
  open(conflicts: { count: number; keys: string[] }): void {
    const keys = conflicts.keys.slice(0, KEYS_SHOWN);
    const more = conflicts.count > keys.length ? `, … (${conflicts.count - keys.length} more)` : '';
    this.hold = {
      state: 'awaiting_acknowledgement',
      count: conflicts.count,
      keys,
      since: utcIso(Date.now()),
      reminders: 0,
    };
    this.record.status.detail.conflictHold = this.hold;
    this.record.setAttention(
      `HOLD: CONFLICT ${conflicts.count} vs the canonical payload — the IC must verify and send "acknowledgeConflict" {"by","note"}`,
    );
    this.notify('canonical_conflict_hold', `CONFLICT ${conflicts.count}: pause and verify`, keys, more);
  }

  /** Resolves when acknowledged; reminds the IC every interval until then. */
  async acknowledged(): Promise<void> {
    let repeat = repeatInterval(this.record, this.reminderInterval, Date.parse(this.hold!.since));
    while (this.holding) {
      const released = await condition(() => !this.holding, repeat.ms, {
        summary: `CONFLICT hold: waiting for "acknowledgeConflict"`,
      });
      if (released) break;
      // Read before the reminder: one over the run's history budget says why the next comes later.
      repeat = repeatInterval(this.record, this.reminderInterval, Date.parse(this.hold!.since));
      this.hold!.reminders += 1;
      this.notify(
        'canonical_conflict_reminder',
        `CONFLICT ${this.hold!.count} still unacknowledged (reminder ${this.hold!.reminders})`,
        this.hold!.keys,
        '',
        repeat.note,
      );
    }
  }

  /** For the final message: who acknowledged the conflict, and why it is fine. */
  get line(): string {
    const hold = this.hold;
    if (!hold || hold.state !== 'acknowledged') return '';
    return `; CONFLICT ${hold.count} vs the canonical payload acknowledged by ${hold.acknowledgedBy}: ${hold.note}`;
  }

  private notify(
    kind: 'canonical_conflict_hold' | 'canonical_conflict_reminder',
    headline: string,
    keys: string[],
    more: string,
    slowed?: string,
  ): void {
    this.notices.send({
      kind,
      severity: 'warning',
      audience: 'incident_commander',
      recipients: [this.options.incidentCommander],
      page: this.options.page('conflict'),
      subject: `${this.options.tag} ${headline}`,
      body: [
        `The restored config differs from the canonical (legacy bundle) payload on ${this.hold!.count} keys: ${keys.join(', ')}${more}.`,
        'Intended if you restored an operator-tuned snapshot; otherwise you may have picked the wrong id (seed 000 step 4.3: pause and verify).',
        'The run stays open until you acknowledge: signal "acknowledgeConflict" {"by":"@you","note":"what you checked"} ' +
          `(CLI: npm run cli -- acknowledge-conflict --workflow-id ${this.record.status.workflowId} --by @you --note "…").`,
        'The reconciliation and post-mortem clocks keep running meanwhile.',
        ...(slowed ? [slowed] : []),
      ].join('\n'),
    });
  }

  private onAcknowledge(raw: unknown): void {
    const parsed = acknowledgeConflictPayloadSchema.safeParse(raw);
    const refuse = this.record.refuser('acknowledgeConflict');
    if (!parsed.success)
      return refuse('invalid_payload', describeIssuesInline(parsed.error, 'acknowledgeConflict payload'));
    const by = `@${normalizeHandle(parsed.data.by)}`;
    const hold = this.hold;
    if (!hold) return refuse('gate_not_open', 'no CONFLICT is waiting for acknowledgement', by);
    if (hold.state === 'acknowledged')
      return refuse('already_decided', `already acknowledged by ${hold.acknowledgedBy}`, by);
    if (!this.options.mayAcknowledge(by))
      return refuse(
        'not_authorized',
        `${by} may not acknowledge: the incident commander or an approver can`,
        by,
      );
    hold.state = 'acknowledged';
    hold.acknowledgedBy = by;
    hold.acknowledgedAt = utcIso(Date.now());
    hold.note = parsed.data.note;
    this.record.event(
      'conflict_acknowledged',
      `CONFLICT ${hold.count} acknowledged: ${parsed.data.note}`,
      by,
    );
    this.record.setAttention(undefined);
    this.notices.send({
      kind: 'canonical_conflict_acknowledged',
      severity: 'info',
      audience: 'incident_commander',
      page: this.options.page('conflict', 'resolve'),
      subject: `${this.options.tag} CONFLICT ${hold.count} acknowledged by ${by}`,
      body: parsed.data.note,
    });
  }
}
