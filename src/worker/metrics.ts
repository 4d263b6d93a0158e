import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import type { Logger, MetricMeter } from '@temporalio/common';
import type { TelemetryOptions } from '@temporalio/worker';
import {
  HUMAN_WAIT_DEADLINES,
  HUMAN_WAIT_FILTER,
  isHumanWaitStep,
  RUNBOOK_METRICS,
  type MetricSpec,
} from '../common/metrics';
import type { NoticeAudience } from '../common/notice';
import { RunbookNameKey, RunbookStepKey } from '../common/search-attributes';
import { RUNBOOK_NAMES } from '../client/runbooks';
import { statusQuery } from '../workflows/shared/messages';
import { BREAK_GLASS_DRILL, BREAK_GLASS_DRILL_SCHEDULE_ID } from '../workflows/break-glass-drill/definitions';
import {
  ROLLBACK_DRILL_SCHEDULE_ID,
  ROLLBACK_TO_PILOT,
  type RollbackOutcome,
} from '../workflows/rollback-to-pilot/definitions';

/**
 * The worker's one Prometheus endpoint: the SDK core serves it, with the SDK's `temporal_*`
 * metrics, the runbook metrics recorded by workflows and activities, and the open-run gauges
 * this module sets from Temporal visibility.
 */
export function prometheusTelemetry(address: string): TelemetryOptions {
  const histogramBucketOverrides: Record<string, number[]> = {};
  for (const spec of Object.values(RUNBOOK_METRICS) as MetricSpec[])
    if (spec.buckets) histogramBucketOverrides[spec.name] = [...spec.buckets];
  return { metrics: { prometheus: { bindAddress: address, histogramBucketOverrides } } };
}

/**
 * A backstop programme waiting for its DRI's T+90 decision. Its own wait: the runbook's oldest human
 * wait also counts its programmes in needs_human, so the decision alert said "pending for 3 days"
 * of a decision asked an hour ago while another programme had waited 3 days for a retry.
 */
function isBackstopDecision(run: OpenRun): boolean {
  return run.runbook === 'backstopProgram' && run.step === 'awaiting_decision';
}

/** One series of a counter, with the labels a workflow of `workflowType` records it with. */
export interface CounterSeries {
  spec: MetricSpec;
  workflowType: string;
  labels: Record<string, string>;
}

/** Every way a rollback drill ends without its SLO verdict (the compiler checks the list is whole). */
const ROLLBACK_DRILL_NOT_COMPLETED: Record<
  Exclude<RollbackOutcome, 'drill_within_slo' | 'drill_over_slo'>,
  true
> = {
  refused_change_freeze: true,
  aborted: true,
  no_go: true,
  cancelled: true,
  confirmation_expired: true,
  dry_run: true,
  rolled_back: true,
  rolled_back_with_warnings: true,
  escalated_rollout: true,
  escalated_schema: true,
  rollback_failed: true,
};

/**
 * The ways a break-glass drill ends without a verified restore that are known here: after its write
 * every end is `drill_not_completed`; before it, the plan's abort or freeze, and the gate's answers.
 * One not listed still pages: the rules also take a series that is new within the day.
 */
const BREAK_GLASS_DRILL_NOT_COMPLETED = [
  'drill_not_completed',
  'aborted',
  'refused_change_freeze',
  'rejected',
  'approval_expired',
] as const;

/** Who a notice is for (the compiler checks the list is whole). */
const NOTICE_AUDIENCES: Record<NoticeAudience, true> = {
  approvers: true,
  incident_commander: true,
  escalation: true,
  owner: true,
};

/**
 * The series of the counters the alert rules take `increase()` of (RunbookDrillOverSlo,
 * RunbookDrillNotCompleted, RunbookNoticeUndelivered), with the labels their workflows record them with. The SDK core exports
 * a counter's series from its first increment only, and a series that first appears at 1 shows no
 * increase: the first drill over its SLO or not completed after a worker's start never paged, and a
 * worker restarts (each deploy) more often than a drill runs (30 days; a quarter).
 */
export function alertedCounterSeries(): CounterSeries[] {
  const series = (spec: MetricSpec, workflowType: string, labels: Record<string, string>): CounterSeries => ({
    spec,
    workflowType,
    labels: { runbook: workflowType, ...labels },
  });
  return [
    ...['over_slo', 'needs_tightening'].map((verdict) =>
      series(RUNBOOK_METRICS.drillOverSlo, BREAK_GLASS_DRILL, { verdict }),
    ),
    series(RUNBOOK_METRICS.drillOverSlo, ROLLBACK_TO_PILOT, { verdict: 'over_slo' }),
    ...BREAK_GLASS_DRILL_NOT_COMPLETED.map((outcome) =>
      series(RUNBOOK_METRICS.drillNotCompleted, BREAK_GLASS_DRILL, { outcome }),
    ),
    ...Object.keys(ROLLBACK_DRILL_NOT_COMPLETED).map((outcome) =>
      series(RUNBOOK_METRICS.drillNotCompleted, ROLLBACK_TO_PILOT, { outcome }),
    ),
    ...RUNBOOK_NAMES.flatMap((runbook) =>
      Object.keys(NOTICE_AUDIENCES).map((audience) =>
        series(RUNBOOK_METRICS.noticesUndelivered, runbook, { audience }),
      ),
    ),
  ];
}

/**
 * Exports each alerted counter series at 0 from the worker's start, with the tags the SDK gives a
 * workflow's metrics (the worker's namespace and task queue, the workflow's type): the first event
 * is then 0 → 1, and after a restart 1 → 0 → 1, an increase like any other.
 */
export function exportAlertedCountersAtZero(meter: MetricMeter, namespace: string, taskQueue: string): void {
  const tagged = meter.withTags({ namespace, taskQueue });
  for (const { spec, workflowType, labels } of alertedCounterSeries())
    tagged.createCounter(spec.name, '', spec.help).add(0, { workflowType, ...labels });
}

/**
 * Runs whose current-step start one sweep may ask for with a query; the others count from when a
 * sweep first saw them (a lower bound) and are asked at a later sweep.
 */
const STATUS_QUERIES_PER_SWEEP = 50;

/**
 * How long a status query may take: a run whose worker is gone does not answer, and the sweep
 * (one at a time) must not wait on it.
 */
const STATUS_QUERY_TIMEOUT_MS = 2_000;

/** The Schedules that run the drills (seed 000: every 30 days; seed 002: quarterly). */
export const DRILL_SCHEDULE_IDS = [BREAK_GLASS_DRILL_SCHEDULE_ID, ROLLBACK_DRILL_SCHEDULE_ID] as const;

/** Every how many sweeps all open runs are listed (the others list only runs waiting for a human). */
export const FULL_SWEEP_EVERY = 10;

/** gRPC INVALID_ARGUMENT: a visibility store that does not know a filter's operator. */
const GRPC_INVALID_ARGUMENT = 3;

export interface OpenRunGaugeOptions {
  /** Every how many sweeps all open runs are listed (FULL_SWEEP_EVERY). */
  fullSweepEvery?: number;
  drillSchedules?: readonly string[];
  statusQueriesPerSweep?: number;
  statusQueryTimeoutMs?: number;
}

/**
 * When a run entered its current step and when that wait is due (HUMAN_WAIT_DEADLINES; its start
 * when it has no deadline): read from its status, or first seen by a sweep (a lower bound).
 */
interface StepStart {
  ms: number;
  dueMs: number;
  read: boolean;
  /** When the status was read (the sweep's clock): a deadline due since then may have moved. */
  readAtMs?: number;
}

/** What a run's status says of its current wait. */
interface WaitRead {
  startedMs: number;
  dueMs: number;
}

interface OpenRun {
  key: string;
  runbook: string;
  step: string;
  workflowId: string;
  runId: string;
}

/**
 * Open-run gauges, read every `intervalMs` from visibility (the task queue's running workflows):
 * runs by runbook and step, runs needing a human, backstop decisions pending, and how long the
 * longest-waiting run has been at its gate. A run's wait starts when its current step did (read
 * once per wait from its `status`), so a worker restart does not reset the alert's clock.
 *
 * Runs waiting for a human are listed at every sweep; all open runs only every
 * `fullSweepEvery` sweeps (with 10,000 programmes asleep a full listing is seconds of the
 * server's CPU), so between two full listings the other steps' counts are the last full one's.
 */
export class OpenRunGauges {
  private readonly since = new Map<string, StepStart>();
  private readonly shown = new Map<string, Set<string>>();
  /** Counts by (runbook, step) of the steps that are not human waits, from the last full listing. */
  private otherSteps = new Map<string, number>();
  private sweeps = 0;
  private filterRefused = false;
  private timer?: NodeJS.Timeout;
  private sweeping?: { promise: Promise<void>; sinceMs: number };
  private readonly fullSweepEvery: number;
  private readonly drillSchedules: readonly string[];
  private readonly statusQueriesPerSweep: number;
  private readonly statusQueryTimeoutMs: number;

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly meter: MetricMeter,
    private readonly logger: Logger,
    options: OpenRunGaugeOptions = {},
  ) {
    this.fullSweepEvery = options.fullSweepEvery ?? FULL_SWEEP_EVERY;
    this.drillSchedules = options.drillSchedules ?? DRILL_SCHEDULE_IDS;
    this.statusQueriesPerSweep = options.statusQueriesPerSweep ?? STATUS_QUERIES_PER_SWEEP;
    this.statusQueryTimeoutMs = options.statusQueryTimeoutMs ?? STATUS_QUERY_TIMEOUT_MS;
  }

  /**
   * Sweeps now and every `intervalMs`. The last-read time starts at now, so a worker whose reads
   * fail from the start goes stale from its start (an alert on it would otherwise never begin).
   */
  start(intervalMs: number): void {
    this.markRead();
    const tick = (): void => void this.refresh();
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping?.promise;
  }

  /**
   * One sweep, unless the last is still running (against a slow visibility store they would pile
   * up, each listing every open run again). Never rejects: a failed read keeps the gauges' last
   * values, is counted and logged, and the last-read time stops moving, which is what an alert can
   * see (RunbookGaugesStale): before, the gauges froze and nothing said so, so a run waiting for a
   * human past the alert's 4 h was never alerted on while visibility failed.
   */
  async refresh(): Promise<void> {
    if (this.sweeping) {
      this.logger.warn('open-run gauges: the last visibility read is still running; this sweep is skipped', {
        runningForMs: Date.now() - this.sweeping.sinceMs,
      });
      return;
    }
    const promise = this.sweep().then(
      () => this.markRead(),
      (error: unknown) => {
        this.meter
          .createCounter(
            RUNBOOK_METRICS.openRunGaugeReadFailures.name,
            '',
            RUNBOOK_METRICS.openRunGaugeReadFailures.help,
          )
          .add(1);
        this.logger.warn('open-run gauges: visibility read failed; keeping the last values', {
          error: (error as Error).message,
        });
      },
    );
    this.sweeping = { promise, sinceMs: Date.now() };
    try {
      await promise;
    } finally {
      this.sweeping = undefined;
    }
  }

  /** One read of visibility and one setting of every gauge. */
  async sweep(now = Date.now()): Promise<void> {
    const { runs: open, all } = await this.listOpenRuns();
    const byStep = all ? new Map<string, number>() : new Map(this.otherSteps);
    const needingHuman = new Map<string, number>();
    const oldestWait = new Map<string, number>();
    const oldestOverdue = new Map<string, number>();
    let decisionsPending = 0;
    let oldestDecisionS = 0;
    const waiting = new Set<string>();
    // The step starts not read yet, asked all at once (a sweep waits for the slowest, not the sum).
    const unread = open
      .filter((run) => isHumanWaitStep(run.step) && this.toRead(this.since.get(run.key), now))
      .slice(0, this.statusQueriesPerSweep);
    const startsRead = new Map(
      await Promise.all(unread.map(async (run) => [run.key, await this.stepStart(run)] as const)),
    );
    for (const run of open) {
      const key = JSON.stringify([run.runbook, run.step]);
      byStep.set(key, (byStep.get(key) ?? 0) + 1);
      if (run.step === 'needs_human') needingHuman.set(run.runbook, (needingHuman.get(run.runbook) ?? 0) + 1);
      if (isBackstopDecision(run)) decisionsPending++;
      if (!isHumanWaitStep(run.step)) continue;
      waiting.add(run.key);
      // A start not read yet (over this sweep's queries, or the run did not answer) is read again
      // at a later sweep; until then the wait counts from when a sweep first saw it. Before, that
      // first sight was kept for good: after a worker restart with more than 50 runs waiting, or
      // one query that failed, a run waiting for hours showed minutes, and its alert came hours late.
      const read = startsRead.get(run.key);
      const start: StepStart =
        read !== undefined
          ? { ms: read.startedMs, dueMs: read.dueMs, read: true, readAtMs: now }
          : (this.since.get(run.key) ?? { ms: now, dueMs: now, read: false });
      this.since.set(run.key, start);
      const waitedS = (now - start.ms) / 1000;
      oldestWait.set(run.runbook, Math.max(oldestWait.get(run.runbook) ?? 0, waitedS));
      if (isBackstopDecision(run)) oldestDecisionS = Math.max(oldestDecisionS, waitedS);
      // Overdue: past the wait's own deadline. Before, a post-mortem's 24 h window or an RCA's days
      // made RunbookWaitingForHuman fire 4 h into every such wait, on time as it was.
      else {
        const overdueS = Math.max(0, (now - Math.max(start.dueMs, start.ms)) / 1000);
        oldestOverdue.set(run.runbook, Math.max(oldestOverdue.get(run.runbook) ?? 0, overdueS));
      }
    }
    for (const key of [...this.since.keys()]) if (!waiting.has(key)) this.since.delete(key);
    if (all)
      this.otherSteps = new Map(
        [...byStep].filter(([key]) => !isHumanWaitStep((JSON.parse(key) as [string, string])[1])),
      );

    this.setAll(RUNBOOK_METRICS.openRuns, byStep, (key) => {
      const [runbook, step] = JSON.parse(key) as [string, string];
      return { runbook, step };
    });
    this.setAll(RUNBOOK_METRICS.runsNeedingHuman, needingHuman, (runbook) => ({ runbook }));
    this.setAll(RUNBOOK_METRICS.oldestHumanWaitSeconds, oldestWait, (runbook) => ({ runbook }));
    this.setAll(RUNBOOK_METRICS.oldestOverdueHumanWaitSeconds, oldestOverdue, (runbook) => ({ runbook }));
    this.gauge(RUNBOOK_METRICS.backstopDecisionsPending).set(decisionsPending);
    this.gauge(RUNBOOK_METRICS.backstopOldestDecisionWaitSeconds).set(oldestDecisionS);
    if (all) await this.readDrillSchedules();
  }

  /**
   * With every full listing: whether each drill Schedule will start its next drill. A drill that
   * never runs never goes over its SLO, so the over-SLO alert alone stays silent when the Schedule
   * was paused (for a freeze week, say) and left so, or deleted. A Schedule that cannot be read
   * keeps its last value.
   */
  private async readDrillSchedules(): Promise<void> {
    const gauge = this.gauge(RUNBOOK_METRICS.drillScheduleActive);
    for (const schedule of this.drillSchedules) {
      try {
        const { state, info } = await this.client.schedule.getHandle(schedule).describe();
        gauge.set(!state.paused && info.nextActionTimes.length > 0 ? 1 : 0, { schedule });
      } catch (error) {
        if (error instanceof ScheduleNotFoundError) gauge.set(0, { schedule });
        else
          this.logger.warn('open-run gauges: a drill Schedule could not be read; keeping its last value', {
            schedule,
            error: (error as Error).message,
          });
      }
    }
  }

  /**
   * This sweep's runs: all open ones every `fullSweepEvery` sweeps, else those waiting for a
   * human. A store that refuses the filter (no STARTS_WITH) gets full listings from then on.
   */
  private async listOpenRuns(): Promise<{ runs: OpenRun[]; all: boolean }> {
    const open = `TaskQueue = '${this.taskQueue}' AND ExecutionStatus = 'Running'`;
    const full = this.filterRefused || this.sweeps % this.fullSweepEvery === 0;
    this.sweeps++;
    if (full) return { runs: await this.list(open), all: true };
    try {
      return { runs: await this.list(`${open} AND ${HUMAN_WAIT_FILTER}`), all: false };
    } catch (error) {
      if ((error as { code?: unknown }).code !== GRPC_INVALID_ARGUMENT) throw error;
      this.filterRefused = true;
      this.logger.warn('open-run gauges: visibility refused the human-wait filter; listing every open run', {
        error: (error as Error).message,
      });
      return { runs: await this.list(open), all: true };
    }
  }

  /** The runs a visibility query finds, read from the raw listing (their memo is not decoded: not needed). */
  private async list(query: string): Promise<OpenRun[]> {
    const runs: OpenRun[] = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await this.client.workflowService.listWorkflowExecutions({
        namespace: this.client.options.namespace,
        query,
        pageSize: 1_000,
        ...(nextPageToken ? { nextPageToken } : {}),
      });
      for (const raw of page.executions ?? []) {
        const attributes = decodeTypedSearchAttributes(raw.searchAttributes?.indexedFields);
        const workflowId = raw.execution?.workflowId ?? '';
        const runId = raw.execution?.runId ?? '';
        const runbook = String(attributes.get(RunbookNameKey) ?? raw.type?.name ?? '?');
        const step = String(attributes.get(RunbookStepKey) ?? 'starting');
        runs.push({ key: `${workflowId}/${runId}/${step}`, runbook, step, workflowId, runId });
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return runs;
  }

  /**
   * Whether a wait's status is to be read at this sweep: never read yet, or its deadline has passed
   * since it was read (a run may have moved it: a reconciliation window set again, say).
   */
  private toRead(start: StepStart | undefined, now: number): boolean {
    if (!start?.read) return true;
    return start.dueMs > start.ms && (start.readAtMs ?? 0) < start.dueMs && now >= start.dueMs;
  }

  /**
   * When the run entered its current step and when that wait is due, from its status; undefined if
   * it cannot say now.
   */
  private async stepStart(run: OpenRun): Promise<WaitRead | undefined> {
    try {
      const status = await this.client.withDeadline(Date.now() + this.statusQueryTimeoutMs, () =>
        this.client.workflow.getHandle(run.workflowId, run.runId).query(statusQuery),
      );
      const current = status.steps.at(-1);
      // A wait the run came back to after needs_human began before its latest entry.
      const startedMs =
        current?.name === run.step ? Date.parse(status.waitingSince ?? current.startedAt) : NaN;
      if (!Number.isFinite(startedMs)) return undefined;
      const deadlineName = HUMAN_WAIT_DEADLINES[run.step];
      const deadline = deadlineName ? status.deadlines?.find((d) => d.name === deadlineName) : undefined;
      const deadlineMs = deadline ? Date.parse(deadline.dueAt) : NaN;
      return { startedMs, dueMs: Number.isFinite(deadlineMs) ? deadlineMs : startedMs };
    } catch {
      return undefined;
    }
  }

  /** Sets a gauge for every label set this sweep saw, and to 0 for those seen before but gone now. */
  private setAll(
    spec: MetricSpec,
    values: Map<string, number>,
    labels: (key: string) => Record<string, string>,
  ): void {
    const gauge = this.gauge(spec);
    const before = this.shown.get(spec.name) ?? new Set<string>();
    for (const key of before) if (!values.has(key)) gauge.set(0, labels(key));
    for (const [key, value] of values) gauge.set(value, labels(key));
    this.shown.set(spec.name, new Set([...before, ...values.keys()]));
  }

  /** The last-read time RunbookGaugesStale watches: now. */
  private markRead(): void {
    this.gauge(RUNBOOK_METRICS.openRunGaugesLastRead).set(Date.now() / 1000);
  }

  private gauge(spec: MetricSpec): ReturnType<MetricMeter['createGauge']> {
    return this.meter.createGauge(spec.name, 'float', '', spec.help);
  }
}
