/**
 * A notice the runbook sends to people (approval requests, escalations, announcements).
 * The `deliveryKey` is unique per notice per run, so a retried delivery is recognised as the same
 * notice and never sent twice.
 */
export type NoticeSeverity = 'info' | 'warning' | 'critical';

export type NoticeAudience = 'approvers' | 'incident_commander' | 'escalation';

export interface Notice {
  deliveryKey: string;
  runbook: string;
  incidentId: string;
  workflowId: string;
  kind: string;
  severity: NoticeSeverity;
  audience: NoticeAudience;
  subject: string;
  body: string;
}

export interface NoticeReceipt {
  deliveryKey: string;
  /** Channel(s) that accepted the notice. */
  channels: string[];
  /** True when this delivery key had already been delivered: nothing was sent again. */
  duplicate: boolean;
}
