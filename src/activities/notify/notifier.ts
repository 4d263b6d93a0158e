import type { Pool } from 'pg';
import type { Notice, NoticeReceipt } from '../../common/notice';

/**
 * Where notices go. The real channels (Slack, PagerDuty, email, ...) implement this interface;
 * the default records every notice in `runbook_notices`, keyed by delivery key, so a retried
 * delivery is recognised and not recorded twice.
 */
export interface Notifier {
  deliver(notice: Notice): Promise<NoticeReceipt>;
}

export class DatabaseNoticeLog implements Notifier {
  constructor(private readonly pool: Pool) {}

  async deliver(notice: Notice): Promise<NoticeReceipt> {
    const inserted = await this.pool.query(
      `INSERT INTO runbook_notices (delivery_key, runbook, incident_id, workflow_id, kind, severity, audience, subject, body)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (delivery_key) DO NOTHING`,
      [
        notice.deliveryKey,
        notice.runbook,
        notice.incidentId,
        notice.workflowId,
        notice.kind,
        notice.severity,
        notice.audience,
        notice.subject,
        notice.body,
      ],
    );
    return { deliveryKey: notice.deliveryKey, channels: ['notice-log'], duplicate: inserted.rowCount === 0 };
  }
}
