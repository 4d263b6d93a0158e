import type { Pool } from 'pg';
import type { Notice, NoticeReceipt } from '../../common/notice';

/**
 * The "log" channel: every notice recorded in `runbook_notices`, keyed by delivery key, so a
 * retried delivery is recognised and not recorded twice. The local stack routes everything here.
 */
export async function recordNotice(db: Pool, channel: string, notice: Notice): Promise<NoticeReceipt> {
  const inserted = await db.query(
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
  return { deliveryKey: notice.deliveryKey, channel, duplicate: inserted.rowCount === 0 };
}
