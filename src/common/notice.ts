/**
 * A notice the runbook sends to people (approval requests, escalations, announcements).
 * The `deliveryKey` is unique per notice per run, so a retried delivery is recognised as the same
 * notice and never sent twice.
 */
export type NoticeSeverity = 'info' | 'warning' | 'critical';

/** owner: the DRI of a story (the backstop program). */
export type NoticeAudience = 'approvers' | 'incident_commander' | 'escalation' | 'owner';

export interface NoticeDetail {
  label: string;
  value: string;
}

export interface NoticeCode {
  label: string;
  text: string;
}

/** For paging channels: what this notice does to the page identified by `dedupKey`. */
export interface NoticePage {
  action: 'trigger' | 'acknowledge' | 'resolve';
  /** Stable per workflow and step, so retries and repeats collapse into one page. */
  dedupKey: string;
}

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
  /** Short labelled facts (rendered as fields in Slack, lines in email). */
  details?: NoticeDetail[];
  /** Text to show verbatim (the approval line, the signal JSON, SQL). */
  code?: NoticeCode[];
  /** People it is addressed to (handles), e.g. the approver roster for an approval request. */
  recipients?: string[];
  page?: NoticePage;
}

export interface NoticeReceipt {
  deliveryKey: string;
  channel: string;
  /** True when this delivery key had already been delivered on this channel: nothing was sent again. */
  duplicate: boolean;
  /** Channel-specific reference (message id, PagerDuty dedup key, …). */
  reference?: string;
}
