/**
 * Every runbook metric the worker exports on its Prometheus endpoint (RUNBOOKS_METRICS_ADDRESS),
 * beside the SDK's own `temporal_*` metrics. The dashboard (ops/grafana) and the alert rules
 * (ops/prometheus) use these names only; a test checks it. Workflow code records through
 * workflows/shared/metrics.ts (nothing is recorded while a history replays), activities through
 * their context's meter, and the worker sets the gauges from Temporal's visibility store.
 */

export type MetricKind = 'counter' | 'histogram' | 'gauge';

export interface MetricSpec {
  name: string;
  kind: MetricKind;
  help: string;
  /** Labels we set (the SDK adds namespace, taskQueue and workflowType to a workflow's metrics). */
  labels: readonly string[];
  /** Histogram bucket bounds, in seconds. */
  buckets?: readonly number[];
}

/** Waits from seconds to weeks: a gate may take a minute or an approver a weekend. */
const WAIT_BUCKETS = [1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86_400, 3 * 86_400, 7 * 86_400];

export const RUNBOOK_METRICS = {
  stepSeconds: {
    name: 'runbooks_step_seconds',
    kind: 'histogram',
    help: 'Time a run spent in a step, recorded when the step ends',
    labels: ['runbook', 'step'],
    buckets: WAIT_BUCKETS,
  },
  gateWaitSeconds: {
    name: 'runbooks_gate_wait_seconds',
    kind: 'histogram',
    help: 'Time a run waited for a human at a gate (awaiting_* and needs_human steps)',
    labels: ['runbook', 'gate'],
    buckets: WAIT_BUCKETS,
  },
  approvalToExecutionSeconds: {
    name: 'runbooks_approval_to_execution_seconds',
    kind: 'histogram',
    help: 'Time from the approval that opened a gate to the first step that acts (safety pause included)',
    labels: ['runbook'],
    buckets: [1, 10, 30, 60, 120, 180, 300, 600, 1800, 3600],
  },
  refusedAttempts: {
    name: 'runbooks_refused_attempts_total',
    kind: 'counter',
    help: 'Signals and updates a run refused, by reason',
    labels: ['runbook', 'message', 'reason'],
  },
  needsHuman: {
    name: 'runbooks_needs_human_total',
    kind: 'counter',
    help: 'Times a step failed for good and the run began waiting for a human decision',
    labels: ['runbook', 'step'],
  },
  runsFinished: {
    name: 'runbooks_runs_finished_total',
    kind: 'counter',
    help: 'Runs that reached their end, by outcome',
    labels: ['runbook', 'outcome'],
  },
  notices: {
    name: 'runbooks_notices_total',
    kind: 'counter',
    help: 'Notices sent, by channel and result (delivered or failed)',
    labels: ['channel', 'result'],
  },
  noticesUndelivered: {
    name: 'runbooks_notices_undelivered_total',
    kind: 'counter',
    help: 'Notices no channel delivered (each channel of the route and the fallback failed for good): nobody was told',
    labels: ['runbook', 'audience'],
  },
  drillSeconds: {
    name: 'runbooks_drill_seconds',
    kind: 'histogram',
    help: 'Drill wall clock against its SLO: break-glass detected to restore verified; rollback start to plan',
    labels: ['runbook', 'verdict'],
    buckets: [60, 120, 300, 450, 600, 750, 900, 1200, 1800, 3600],
  },
  drillLastSeconds: {
    name: 'runbooks_drill_last_seconds',
    kind: 'gauge',
    help: 'The wall clock of the last drill of each runbook this worker ran, against its SLO',
    labels: ['runbook'],
  },
  drillSloSeconds: {
    name: 'runbooks_drill_slo_seconds',
    kind: 'gauge',
    help: 'The drill SLO the last drill of each runbook was judged against',
    labels: ['runbook'],
  },
  unsealedActivityPayloads: {
    name: 'runbooks_unsealed_activity_payloads_total',
    kind: 'counter',
    help: 'Activity results and inputs refused because they were not sealed under the payload keys (written through Temporal’s API by something without them, since 0.21.0) or were sealed for another activity (copied from its completion, since 0.23.0)',
    labels: ['runbook', 'activity', 'payload'],
  },
  drillOverSlo: {
    name: 'runbooks_drill_over_slo_total',
    kind: 'counter',
    help: 'Drills that took longer than their SLO',
    labels: ['runbook', 'verdict'],
  },
  drillNotCompleted: {
    name: 'runbooks_drill_not_completed_total',
    kind: 'counter',
    help: 'Drills that ended without their measured end (a verified restore; a plan), by how they ended',
    labels: ['runbook', 'outcome'],
  },
  drillScheduleActive: {
    name: 'runbooks_drill_schedule_active',
    kind: 'gauge',
    help: '1 when the drill Schedule exists, is not paused and has a next run; 0 otherwise (from Temporal)',
    labels: ['schedule'],
  },
  backstopCheckpoints: {
    name: 'runbooks_backstop_checkpoints_total',
    kind: 'counter',
    help: 'Backstop checkpoints fired (T+30/60/90/120)',
    labels: ['checkpoint'],
  },
  openRuns: {
    name: 'runbooks_open_runs',
    kind: 'gauge',
    help: 'Runs open now, by runbook and current step (from Temporal visibility)',
    labels: ['runbook', 'step'],
  },
  runsNeedingHuman: {
    name: 'runbooks_runs_needing_human',
    kind: 'gauge',
    help: 'Open runs waiting for a human decision after a step failed for good',
    labels: ['runbook'],
  },
  backstopDecisionsPending: {
    name: 'runbooks_backstop_decisions_pending',
    kind: 'gauge',
    help: 'Backstop programmes waiting for their DRI’s T+90 decision',
    labels: [],
  },
  backstopOldestDecisionWaitSeconds: {
    name: 'runbooks_backstop_oldest_decision_wait_seconds',
    kind: 'gauge',
    help: 'How long the longest-waiting backstop programme has waited for its T+90 decision (0: none waits)',
    labels: [],
  },
  oldestHumanWaitSeconds: {
    name: 'runbooks_oldest_human_wait_seconds',
    kind: 'gauge',
    help: 'How long the longest-waiting open run has been in its current gate or needs_human step',
    labels: ['runbook'],
  },
  oldestOverdueHumanWaitSeconds: {
    name: 'runbooks_oldest_overdue_human_wait_seconds',
    kind: 'gauge',
    help: 'How long the longest-overdue open run has waited for a human past its wait’s own deadline (from the step’s start for a wait without one; 0: none overdue)',
    labels: ['runbook'],
  },
  openRunGaugesLastRead: {
    name: 'runbooks_open_run_gauges_last_read_timestamp_seconds',
    kind: 'gauge',
    help: 'Unix time of the last visibility read that set the open-run gauges (the worker’s start until its first read)',
    labels: [],
  },
  openRunGaugeReadFailures: {
    name: 'runbooks_open_run_gauge_read_failures_total',
    kind: 'counter',
    help: 'Visibility reads for the open-run gauges that failed (the gauges kept their last values)',
    labels: [],
  },
} as const satisfies Record<string, MetricSpec>;

const GATE_STEP_PREFIX = 'awaiting_';
const NEEDS_HUMAN_STEP = 'needs_human';

/** Steps where a run waits for a person: the gates and the fail-safe's needs_human. */
export function isHumanWaitStep(step: string): boolean {
  return step.startsWith(GATE_STEP_PREFIX) || step === NEEDS_HUMAN_STEP;
}

/**
 * The deadline each human wait runs against, by step: the run keeps that clock itself (it ends,
 * escalates or goes on when it passes), so the wait is on time until then, however long the window
 * (a post-mortem's 24 h, an RCA's days). A wait not listed here (needs_human, a CONFLICT hold), or
 * whose run has no such deadline, is due from its start. The backstop's T+90 decision has its own
 * gauge and alert (runbooks_backstop_oldest_decision_wait_seconds).
 */
export const HUMAN_WAIT_DEADLINES: Readonly<Record<string, string>> = {
  awaiting_approval: 'approval',
  awaiting_console_recovery: 'console_recovery',
  awaiting_reconciliation: 'reconciliation',
  awaiting_post_mortem: 'post_mortem',
  awaiting_confirmation: 'confirmation',
  awaiting_rca: 'rca',
  awaiting_soak_waiver: 'staging_soak_waiver',
  awaiting_review: 'post_incident_review',
  awaiting_revert: 'merge_revert',
};

/** isHumanWaitStep as a visibility filter on the RunbookStep search attribute. */
export const HUMAN_WAIT_FILTER = `(RunbookStep STARTS_WITH '${GATE_STEP_PREFIX}' OR RunbookStep = '${NEEDS_HUMAN_STEP}')`;
