/**
 * A notice the runbook sends to people (approval requests, escalations, announcements).
 * The `deliveryKey` is unique per notice per run, so a retried delivery is recognised as the same
 * notice and never sent twice.
 */
export type NoticeSeverity = 'info' | 'warning' | 'critical';

/**
 * Notice deliveries a run keeps in flight at once unless its policy says otherwise
 * (`notifications.maxDeliveriesInFlight`); more wait for one to finish. Temporal fails every
 * workflow task of a run that would have more pending activities than its limit (2,000 by
 * default), for ever: a burst of notices (every page of a long wait resolved at once) would
 * silently stop the run. The rest of the limit is the run's own activities'.
 */
export const DEFAULT_MAX_DELIVERIES_IN_FLIGHT = 500;
/** The most a policy may allow: under Temporal's default limit, with room for the run's own activities. */
export const MAX_DELIVERIES_IN_FLIGHT_CEILING = 1_900;

/**
 * Kinds of notices that page someone: they reach the policy's paging channels whatever their route
 * (a policy with a pager that one of them could not reach is refused at worker start).
 */
export const PAGING_NOTICE_KINDS = [
  'needs_human',
  'needs_human_repage',
  'needs_human_resolved',
  'safe_state_failed',
  'execution_failed',
  'verification_failed',
  'reconciliation_missed',
  'reconciliation_late',
  'post_mortem_missed',
  'console_not_recovered',
  'canonical_conflict_hold',
  'canonical_conflict_reminder',
  'canonical_conflict_acknowledged',
  'rollback_page',
  'rollback_confirmation_expired',
  'rollback_rollout_stuck',
  'rollback_restart_failed',
  'rollback_schema_failed',
  'rollback_failed',
  'rollback_rca_missed',
  'reenablement_rolled_back',
  'reenablement_inconclusive',
  'backstop_t90_escalation',
  'backstop_t90_reescalation',
  'backstop_revert',
  'backstop_mandatory_revert',
  'backstop_evidence_unavailable',
  // incident (seed 004)
  'incident_page',
  'incident_commander_page',
  'incident_commander_missed',
  'incident_commander_acknowledged',
  'incident_first_steps_overdue',
  'incident_update_missed',
  'incident_breach_escalation',
  'incident_breach_missed',
  'incident_review_missed',
  // release rollback (seed 001 §5)
  'release_rollback_overdue',
  'release_rollback_pin_failed',
] as const;

/** Every kind of notice a runbook sends (a route in the policy names one of these, or "default"). */
export const NOTICE_KINDS = [
  ...PAGING_NOTICE_KINDS,
  // gate and pause
  'approval_request',
  'refused_attempt',
  'refused_attempts_summary',
  'rejected',
  'approval_expired',
  'pause_started',
  'aborted',
  // break-glass plans, transactions and obligations
  'not_justified',
  'target_not_found',
  'live_row_missing',
  'key_not_found',
  'invalid_value',
  'unchanged',
  'row_exists',
  'plan_stale',
  'no_seeding_row',
  'no_candidate',
  'restore_done',
  'edit_done',
  'rebootstrap_done',
  'canonical_seed_done',
  'drill_restore_done',
  'drill_needs_tightening',
  'canonical_conflict',
  'post_mortem_draft',
  'post_mortem_draft_failed',
  // rollback to pilot and re-enablement
  'rollback_no_go',
  'rollback_triage',
  'rollback_started',
  'rollback_invalid_repos',
  'rollback_health_degraded',
  'rollback_complete',
  'reenablement_phase',
  'reenablement_inconclusive',
  'reenablement_recovered',
  // backstop
  'backstop_t30',
  'backstop_t60_yellow',
  'backstop_anomaly',
  'backstop_shipped',
  // incident (seed 004)
  'incident_declared',
  'incident_status_page',
  'incident_update',
  'incident_update_reminder',
  'incident_severity_changed',
  'incident_role_assigned',
  'incident_freeze',
  'incident_breach_declared',
  'incident_breach_notified',
  'incident_resolved',
  'incident_review_reminder',
  'incident_review_filed',
  'rollback_drill',
  'release_rollback_started',
  'release_rollback_done',
  'staging_soak_failed',
  // any runbook
  'run_cancelled',
] as const;

export type NoticeKind = (typeof NOTICE_KINDS)[number];

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
  /** A NoticeKind when sent by the current code (the delivery side accepts any, for older runs). */
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
