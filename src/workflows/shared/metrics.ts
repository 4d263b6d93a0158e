import type { MetricCounter, MetricGauge, MetricHistogram } from '@temporalio/common';
import { metricMeter } from '@temporalio/workflow';
import { isHumanWaitStep, RUNBOOK_METRICS, type MetricSpec } from '../../common/metrics';

/**
 * Runbook metrics recorded from workflow code (names in common/metrics.ts). The SDK drops them
 * while a history replays, so a run counts once however often a worker rebuilds it; recording
 * issues no command, so adding a metric needs no patch.
 */

const counter = (spec: MetricSpec): MetricCounter => metricMeter.createCounter(spec.name, '', spec.help);
const histogram = (spec: MetricSpec): MetricHistogram =>
  metricMeter.createHistogram(spec.name, 'float', 's', spec.help);

const gauge = (spec: MetricSpec): MetricGauge => metricMeter.createGauge(spec.name, 'float', 's', spec.help);
const seconds = (ms: number): number => Math.max(0, ms) / 1000;

/** A step ended after `ms`: its time, and for a gate the wait for a human. */
export function recordStepEnded(runbook: string, step: string, ms: number): void {
  histogram(RUNBOOK_METRICS.stepSeconds).record(seconds(ms), { runbook, step });
  if (isHumanWaitStep(step))
    histogram(RUNBOOK_METRICS.gateWaitSeconds).record(seconds(ms), { runbook, gate: step });
}

export function recordStepEntered(runbook: string, step: string): void {
  if (step === 'needs_human') counter(RUNBOOK_METRICS.needsHuman).add(1, { runbook, step });
}

export function recordApprovalToExecution(runbook: string, ms: number): void {
  histogram(RUNBOOK_METRICS.approvalToExecutionSeconds).record(seconds(ms), { runbook });
}

export function recordRefusal(runbook: string, message: string, reason: string): void {
  counter(RUNBOOK_METRICS.refusedAttempts).add(1, { runbook, message, reason });
}

export function recordFinished(runbook: string, outcome: string): void {
  counter(RUNBOOK_METRICS.runsFinished).add(1, { runbook, outcome });
}

/** A drill's wall clock against its SLO, per runbook drilled (the break-glass drill, the rollback's quarterly drill). */
export function recordDrill(runbook: string, elapsedMs: number, sloMs: number, verdict: string): void {
  histogram(RUNBOOK_METRICS.drillSeconds).record(seconds(elapsedMs), { runbook, verdict });
  // The dashboard plots this, not a quantile of the histogram: a histogram's series appear at their
  // first observation, so increase() over them saw nothing of the first drill after a worker's
  // start (NaN), and a drill runs every 30 days or every quarter.
  gauge(RUNBOOK_METRICS.drillLastSeconds).set(seconds(elapsedMs), { runbook });
  gauge(RUNBOOK_METRICS.drillSloSeconds).set(seconds(sloMs), { runbook });
  if (verdict !== 'within_slo') counter(RUNBOOK_METRICS.drillOverSlo).add(1, { runbook, verdict });
}

/** A drill that ended without its measured end: it has no SLO verdict, so the over-SLO alert never sees it. */
export function recordDrillNotCompleted(runbook: string, outcome: string): void {
  counter(RUNBOOK_METRICS.drillNotCompleted).add(1, { runbook, outcome });
}

/** A notice that reached no channel: the run goes on, so only this says that nobody was told. */
export function recordNoticeUndelivered(runbook: string, audience: string): void {
  counter(RUNBOOK_METRICS.noticesUndelivered).add(1, { runbook, audience });
}

export function recordBackstopCheckpoint(checkpoint: string): void {
  counter(RUNBOOK_METRICS.backstopCheckpoints).add(1, { checkpoint });
}

/** An activity result refused as not sealed (src/workflows/interceptors.ts): something forged a completion. */
export function recordUnsealedActivityResult(runbook: string, activity: string): void {
  counter(RUNBOOK_METRICS.unsealedActivityPayloads).add(1, { runbook, activity, payload: 'result' });
}
