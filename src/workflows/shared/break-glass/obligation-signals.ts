import { handleDecision } from '../decisions';
import { utcIso } from '../../../common/duration';
import { normalizeHandle } from '../../../common/identity';
import { describeIssuesInline } from '../../../common/validation';
import type { RunRecord } from '../run-record';
import {
  checkReconciliationMessage,
  postMortemFiledPayloadSchema,
  postMortemFiledMessage,
  type BreakGlassDetail,
} from './definitions';

type AnyDetail = BreakGlassDetail<unknown, unknown, unknown>;

/**
 * The obligations' signals (seed 000 gates 2 and 3): `checkReconciliation` asks for a look at the
 * history table now; `postMortemFiled` closes the post-mortem obligation.
 */
/** Installed at workflow start, so an early or stray signal is refused and recorded. */
export class ObligationSignals {
  checkRequested = false;

  constructor(private readonly record: RunRecord<AnyDetail>) {
    handleDecision(record, checkReconciliationMessage, () => {
      this.checkRequested = true;
    });
    handleDecision(record, postMortemFiledMessage, (raw) => this.onPostMortemFiled(raw));
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
