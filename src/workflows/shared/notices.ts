import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { NoticeAudience, NoticeSeverity } from '../../common/notice';
import type { RunbookActivities } from '../../activities';
import { notification } from '../activity-options';
import type { RunRecord } from './run-record';

const { notify } = proxyActivities<RunbookActivities>(notification);

export interface NoticeDraft {
  kind: string;
  severity: NoticeSeverity;
  audience: NoticeAudience;
  subject: string;
  body: string;
}

/**
 * Sends notices without ever blocking the runbook: each notice is its own bounded activity whose
 * outcome (delivered / failed) is recorded in the status; deadlines and gates do not wait for it.
 * `settle()` is awaited once before the run returns so every outcome is in the result.
 */
export class Notices {
  private readonly pending: Promise<void>[] = [];
  private sequence = 0;

  constructor(private readonly record: RunRecord<unknown>) {}

  send(draft: NoticeDraft): void {
    const { workflowId, runId } = workflowInfo();
    this.sequence += 1;
    const deliveryKey = `${workflowId}/${runId}/notice-${this.sequence}-${draft.kind}`;
    const entry =
      this.record.status.notices[
        this.record.status.notices.push({
          kind: draft.kind,
          subject: draft.subject,
          deliveryKey,
          requestedAt: new Date(Date.now()).toISOString(),
          state: 'sending',
        }) - 1
      ]!;
    const delivery = notify({
      deliveryKey,
      runbook: this.record.status.runbook,
      incidentId: this.record.status.incidentId,
      workflowId,
      ...draft,
    }).then(
      (receipt) => {
        entry.state = 'delivered';
        entry.channels = receipt.channels;
      },
      (error: unknown) => {
        entry.state = 'failed';
        entry.error = describeFailure(error);
        this.record.event(
          'notice_failed',
          `notice "${draft.subject}" could not be delivered: ${entry.error}`,
        );
      },
    );
    this.pending.push(delivery);
  }

  async settle(): Promise<void> {
    await Promise.all(this.pending);
  }
}

function describeFailure(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}
