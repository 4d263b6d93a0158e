import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import type { Logger, MetricMeter } from '@temporalio/common';
import type { TelemetryOptions } from '@temporalio/worker';
import { HUMAN_WAIT_FILTER, isHumanWaitStep, RUNBOOK_METRICS, type MetricSpec } from '../common/metrics';
import { RunbookNameKey, RunbookStepKey } from '../common/search-attributes';
import { statusQuery } from '../workflows/shared/messages';
import { BREAK_GLASS_DRILL_SCHEDULE_ID } from '../workflows/break-glass-drill/definitions';
import { ROLLBACK_DRILL_SCHEDULE_ID } from '../workflows/rollback-to-pilot/definitions';

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

/** Runs whose current-step start this sweep may ask for with a query (the rest count from first seen). */
const STATUS_QUERIES_PER_SWEEP = 50;

/** The Schedules that run the drills (seed 000: every 30 days; seed 002: quarterly). */
export const DRILL_SCHEDULE_IDS = [BREAK_GLASS_DRILL_SCHEDULE_ID, ROLLBACK_DRILL_SCHEDULE_ID] as const;

/** Every how many sweeps all open runs are listed (the others list only runs waiting for a human). */
export const FULL_SWEEP_EVERY = 10;

/** gRPC INVALID_ARGUMENT: a visibility store that does not know a filter's operator. */
const GRPC_INVALID_ARGUMENT = 3;

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
  private readonly since = new Map<string, number>();
  private readonly shown = new Map<string, Set<string>>();
  /** Counts by (runbook, step) of the steps that are not human waits, from the last full listing. */
  private otherSteps = new Map<string, number>();
  private sweeps = 0;
  private filterRefused = false;
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly meter: MetricMeter,
    private readonly logger: Logger,
    private readonly fullSweepEvery = FULL_SWEEP_EVERY,
    private readonly drillSchedules: readonly string[] = DRILL_SCHEDULE_IDS,
  ) {}

  start(intervalMs: number): void {
    const tick = (): void => {
      this.sweeping = this.sweep().catch((error: unknown) => {
        this.logger.warn('open-run gauges: visibility read failed; keeping the last values', {
          error: (error as Error).message,
        });
      });
    };
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** One read of visibility and one setting of every gauge. */
  async sweep(now = Date.now()): Promise<void> {
    const { runs: open, all } = await this.listOpenRuns();
    const byStep = all ? new Map<string, number>() : new Map(this.otherSteps);
    const needingHuman = new Map<string, number>();
    const oldestWait = new Map<string, number>();
    let decisionsPending = 0;
    let queries = 0;
    const waiting = new Set<string>();
    for (const run of open) {
      const key = JSON.stringify([run.runbook, run.step]);
      byStep.set(key, (byStep.get(key) ?? 0) + 1);
      if (run.step === 'needs_human') needingHuman.set(run.runbook, (needingHuman.get(run.runbook) ?? 0) + 1);
      if (run.runbook === 'backstopProgram' && run.step === 'awaiting_decision') decisionsPending++;
      if (!isHumanWaitStep(run.step)) continue;
      waiting.add(run.key);
      if (!this.since.has(run.key))
        this.since.set(run.key, queries++ < STATUS_QUERIES_PER_SWEEP ? await this.stepStart(run, now) : now);
      const waitedS = (now - this.since.get(run.key)!) / 1000;
      oldestWait.set(run.runbook, Math.max(oldestWait.get(run.runbook) ?? 0, waitedS));
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
    this.gauge(RUNBOOK_METRICS.backstopDecisionsPending).set(decisionsPending);
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

  /** When the run entered its current step, from its status; now if it cannot say. */
  private async stepStart(run: OpenRun, now: number): Promise<number> {
    try {
      const status = await this.client.workflow.getHandle(run.workflowId, run.runId).query(statusQuery);
      const current = status.steps.at(-1);
      const startedMs = current?.name === run.step ? Date.parse(current.startedAt) : NaN;
      return Number.isFinite(startedMs) ? startedMs : now;
    } catch {
      return now;
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

  private gauge(spec: MetricSpec): ReturnType<MetricMeter['createGauge']> {
    return this.meter.createGauge(spec.name, 'float', '', spec.help);
  }
}
