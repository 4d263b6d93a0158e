import { proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { formatDuration, utcIso } from '../../common/duration';
import { databaseRead, databaseWrite, localFileWrite } from '../activity-options';
import { defineBreakGlassProcedure } from '../shared/break-glass/procedure';
import { summariseRestoreVerification } from '../shared/break-glass/verification';
import { describeFailure } from '../shared/notices';
import { isPatched, PATCHES } from '../shared/patches';
import {
  BREAK_GLASS_DRILL,
  breakGlassDrillInputSchema,
  type BreakGlassDrillDetail,
  type BreakGlassDrillOutcome,
  type BreakGlassDrillResult,
  type DrillSlo,
} from './definitions';
import { renderDrillLog } from './log';
import { recordDrill, recordDrillNotCompleted } from '../shared/metrics';

/** The ends that carry an SLO verdict. */
const SLO_OUTCOMES = [
  'drill_within_slo',
  'drill_over_slo',
  'drill_needs_tightening',
] as const satisfies readonly BreakGlassDrillOutcome[];

const { prepareDrill, planRestore, verifyRestore } = proxyActivities<RunbookActivities>(databaseRead);
const { executeRestore } = proxyActivities<RunbookActivities>(databaseWrite);
const { writeDrillLog } = proxyActivities<RunbookActivities>(localFileWrite);

/** Seed 000: detected → restore verified under the SLO; over `tightenAbove`, the runbook needs tightening. */
function judgeSlo(elapsedMs: number, policy: { slo: number; tightenAbove: number }): DrillSlo {
  return {
    elapsedMs,
    sloMs: policy.slo,
    tightenAboveMs: policy.tightenAbove,
    verdict:
      elapsedMs <= policy.slo
        ? 'within_slo'
        : elapsedMs > policy.tightenAbove
          ? 'needs_tightening'
          : 'over_slo',
  };
}

/**
 * The 30-day drill: Procedure A against the staging copy on the sentinel row, restoring the
 * snapshot N versions back, with the real gate and pause (the drill approver approves). Measures
 * wall clock per step against the SLO (detected → restore verified < 10 min; > 15 min = the
 * runbook needs tightening) and writes the drill log.
 */
export const breakGlassDrill = defineBreakGlassProcedure<BreakGlassDrillDetail>()({
  runbook: BREAK_GLASS_DRILL,
  inputSchema: breakGlassDrillInputSchema,
  open: (input) => {
    const stamp = utcIso(Date.now());
    const drillIncidentId = `DRILL-${stamp.slice(0, 10).replace(/-/g, '')}T${stamp.slice(11, 16).replace(':', '')}`;
    const rationale = `scheduled break-glass drill (seed 000): Procedure A, N versions back, on the staging copy${input.note ? ` — ${input.note}` : ''}`;
    return {
      incidentId: drillIncidentId,
      requestedBy: input.requestedBy,
      rationale,
      dryRun: false,
      tag: `[break-glass drill ${drillIncidentId}]`,
      memo: `Break-glass drill ${drillIncidentId} (staging)`,
      detail: { drillIncidentId, detectedAt: stamp, rationale, dryRun: false },
    };
  },

  async plan({ record, detail, policy, opening }) {
    detail.sentinelRowId = policy.sentinelRowId;
    detail.versionsBack = policy.versionsBack;
    // Staging: the sentinel row and the snapshot N versions back.
    record.enterStep(
      'prepare_staging',
      `sentinel ftf_config id=${policy.sentinelRowId} on staging, ${policy.versionsBack} versions back`,
    );
    const prepare = () =>
      prepareDrill({ sentinelRowId: policy.sentinelRowId, versionsBack: policy.versionsBack });
    let prepared;
    // Staging that cannot be reached is a failure like any other: the fail-safe around the plan
    // pages and waits for retry or abort (it used to end the drill quietly as not completed).
    if (isPatched(PATCHES.breakGlassReadsNeedHuman)) prepared = await prepare();
    else
      try {
        prepared = await prepare();
      } catch (error) {
        return {
          outcome: 'drill_not_completed',
          message: `staging could not be prepared: ${describeFailure(error)}`,
        };
      }
    if (prepared.status !== 'ready') return { outcome: 'drill_not_completed', message: prepared.message };
    detail.target = prepared.target;
    detail.sentinelCreated = prepared.sentinelCreated;
    if (prepared.sentinelCreated)
      record.event('sentinel_created', `sentinel row id=${policy.sentinelRowId} created on staging`);

    // Procedure A, on staging, through the same gate and pause.
    record.enterStep(
      'inspect_and_plan',
      `planning the restore of staging history id ${prepared.target.id} onto the sentinel row`,
    );
    const target = { database: 'staging' as const, liveRowId: policy.sentinelRowId };
    const drillIncidentId = opening.incidentId;
    const planned = await planRestore({
      incidentId: drillIncidentId,
      targetHistoryId: prepared.target.id,
      ...target,
    });
    if (planned.status !== 'ready') return { outcome: 'drill_not_completed', message: planned.message };
    const plan = planned.plan;
    const verification = {
      incidentId: drillIncidentId,
      targetHistoryId: plan.target.id,
      expectedVersion: plan.expectedVersion,
      approvedTargetHash: plan.target.baseEnvHash,
      ...target,
    };
    return {
      plan,
      planHash: plan.planHash,
      planSummary: `DRILL on staging: restore history id ${plan.target.id} (${plan.target.version}) onto sentinel id=${plan.liveRowId}: ${plan.diff.changed} keys change`,
      planDetails: [
        { label: 'Drill', value: `staging, sentinel id=${plan.liveRowId}` },
        { label: 'Target', value: `history id ${plan.target.id} (version ${plan.target.version})` },
        { label: 'SLO', value: `detected → verified < ${formatDuration(policy.slo)}` },
      ],
      execute: (approval, verifyAfter) =>
        executeRestore({
          ...approval,
          incidentId: drillIncidentId,
          targetHistoryId: plan.target.id,
          expectedFingerprint: plan.live.fingerprint,
          expectedTargetHash: plan.target.baseEnvHash,
          ...target,
          ...(verifyAfter ? { verifyAfter: verification } : {}),
        }),
      verify: (write) => verifyRestore({ ...verification, restoreHistoryId: write.historyId }),
      summarise: summariseRestoreVerification,
      done: {
        outcome: 'drill_completed',
        nonConformingOutcome: 'drill_completed',
        notice: { kind: 'drill_restore_done', label: 'drill restore verified' },
        message: (write) => `drill restore verified on staging (history row ${write.historyId})`,
      },
    };
  },

  /** SLO: detected → restore verified. */
  conclude({ record, detail, policy, notices, opening }, end) {
    if (end.outcome !== 'drill_completed') return { outcome: 'drill_not_completed', message: end.message };
    // The SLO runs to a verified restore: a drill whose verification failed or was skipped never
    // got there (the non-conformity exists only in runs since break-glass-unverified-write-non-conforming-v1).
    const unverified = record.status.nonConformities.find((n) => n.code === 'verification_failed');
    if (unverified)
      return {
        outcome: 'drill_not_completed',
        message: `${unverified.message}: the drill never reached a verified restore, so its SLO was not measured`,
      };
    const slo = judgeSlo(Date.now() - Date.parse(detail.detectedAt), policy);
    detail.slo = slo;
    recordDrill(BREAK_GLASS_DRILL, slo.elapsedMs, slo.sloMs, slo.verdict);
    const verdictText = `detected → restore verified in ${formatDuration(slo.elapsedMs)} (SLO < ${formatDuration(policy.slo)})`;
    if (slo.verdict === 'needs_tightening') {
      record.flag(
        'drill_needs_tightening',
        `${verdictText}: over ${formatDuration(policy.tightenAbove)}, the runbook needs tightening (file a doc issue)`,
      );
      notices.send({
        kind: 'drill_needs_tightening',
        severity: 'warning',
        audience: 'incident_commander',
        subject: `${opening.tag} the break-glass runbook needs tightening: ${verdictText}`,
        body: 'Seed 000: a drill over 15 minutes means the runbook needs tightening; file a doc issue. The drill log has the per-step times.',
      });
    }
    const outcome: BreakGlassDrillOutcome =
      slo.verdict === 'within_slo'
        ? 'drill_within_slo'
        : slo.verdict === 'over_slo'
          ? 'drill_over_slo'
          : 'drill_needs_tightening';
    return { outcome, message: verdictText };
  },

  async beforeFinish({ record, detail, policy, failSafe }, end) {
    // Every end without an SLO verdict, the ones before the write (aborted at the plan, refused by a
    // freeze) included: only drill_not_completed was alerted on, an aborted drill ended quiet.
    if (!(SLO_OUTCOMES as readonly string[]).includes(end.outcome) && end.outcome !== 'dry_run')
      recordDrillNotCompleted(BREAK_GLASS_DRILL, end.outcome);
    record.enterStep('write_drill_log', 'writing the drill log');
    const markdown = renderDrillLog(record, policy, end);
    const log: NonNullable<BreakGlassDrillDetail['log']> = (detail.log = { markdown });
    const write = () =>
      writeDrillLog({
        date: detail.detectedAt.slice(0, 10),
        markdown,
        runMarker: `${record.status.workflowId}/${record.status.runId}`,
      });
    if (isPatched(PATCHES.breakGlassReadsNeedHuman)) {
      const written = await failSafe.step(
        {
          name: 'write_drill_log',
          what: 'write the drill log file',
          skip: 'finish without the log file (the log is in the result)',
        },
        write,
      );
      if (written.kind === 'done') log.path = written.value.path;
      else {
        log.error = `not written: ${written.kind} by ${written.by}`;
        record.flag(
          'drill_log_not_written',
          `the drill log file was not written (${written.kind} by ${written.by}): keep it from this result's logMarkdown`,
        );
      }
      return;
    }
    try {
      const written = await write();
      detail.log.path = written.path;
    } catch (error) {
      detail.log.error = describeFailure(error);
      record.event('drill_log_failed', `the drill log could not be written: ${detail.log.error}`);
    }
  },

  result: ({ record, detail }, end): BreakGlassDrillResult => ({
    runbook: BREAK_GLASS_DRILL,
    outcome: end.outcome as BreakGlassDrillOutcome,
    message: end.message,
    workflowId: record.status.workflowId,
    drillIncidentId: detail.drillIncidentId,
    ...(detail.target ? { target: detail.target } : {}),
    ...(detail.slo ? { slo: detail.slo } : {}),
    logMarkdown: detail.log?.markdown ?? '',
    ...(detail.log?.path ? { logPath: detail.log.path } : {}),
    ...(detail.log?.error ? { logError: detail.log.error } : {}),
    ...record.resultTrail(),
  }),
});
