import { proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { formatDuration, utcIso } from '../../common/duration';
import { databaseRead, databaseWrite, policyRead } from '../activity-options';
import { approvalLineTemplate, runApprovedWrite, type BreakGlassContext } from '../break-glass/flow';
import { beginBreakGlass, loadPolicy } from '../break-glass/start';
import { summariseRestoreVerification } from '../break-glass-restore/verification';
import { parseWorkflowInput } from '../shared/input';
import { describeFailure } from '../shared/notices';
import {
  BREAK_GLASS_DRILL,
  breakGlassDrillInputSchema,
  type BreakGlassDrillDetail,
  type BreakGlassDrillInput,
  type BreakGlassDrillOutcome,
  type BreakGlassDrillResult,
  type DrillSlo,
} from './definitions';

const { prepareDrill, planRestore, verifyRestore } = proxyActivities<RunbookActivities>(databaseRead);
const { executeRestore } = proxyActivities<RunbookActivities>(databaseWrite);
const { writeDrillLog } = proxyActivities<RunbookActivities>(policyRead);

/**
 * The 30-day drill: Procedure A against the staging copy on the sentinel row, restoring the
 * snapshot N versions back, with the real gate and pause (the drill approver approves). Measures
 * wall clock per step against the SLO (detected → restore verified < 10 min; > 15 min = the
 * runbook needs tightening) and writes the drill log.
 */
export async function breakGlassDrill(rawInput?: BreakGlassDrillInput): Promise<BreakGlassDrillResult> {
  const input = parseWorkflowInput(breakGlassDrillInputSchema, rawInput, 'breakGlassDrill input');
  const detectedAtMs = Date.now();
  const stamp = utcIso(detectedAtMs);
  const drillIncidentId = `DRILL-${stamp.slice(0, 10).replace(/-/g, '')}T${stamp.slice(11, 16).replace(':', '')}`;
  const rationale = `scheduled break-glass drill (seed 000): Procedure A, N versions back, on the staging copy${input.note ? ` — ${input.note}` : ''}`;
  const { requestedBy, record, notices, controls } = beginBreakGlass<BreakGlassDrillDetail>({
    runbook: 'breakGlassDrill',
    incidentId: drillIncidentId,
    requestedBy: input.requestedBy,
    detail: { drillIncidentId, detectedAt: stamp, rationale, dryRun: false },
    memo: `Break-glass drill ${drillIncidentId} (staging)`,
  });
  const detail = record.status.detail;
  const tag = `[break-glass drill ${drillIncidentId}]`;

  const snapshot = await loadPolicy('breakGlassDrill', { record, controls, notices });
  const policy = snapshot.runbook;
  detail.sentinelRowId = policy.sentinelRowId;
  detail.versionsBack = policy.versionsBack;

  const finish = async (outcome: BreakGlassDrillOutcome, message: string): Promise<BreakGlassDrillResult> => {
    record.enterStep('write_drill_log', 'writing the drill log');
    const markdown = drillLog(outcome, message);
    detail.log = { markdown };
    try {
      const written = await writeDrillLog({
        date: stamp.slice(0, 10),
        markdown,
        runMarker: `${record.status.workflowId}/${record.status.runId}`,
      });
      detail.log.path = written.path;
    } catch (error) {
      detail.log.error = describeFailure(error);
      record.event('drill_log_failed', `the drill log could not be written: ${detail.log.error}`);
    }
    record.finish(outcome, message);
    await notices.settle();
    return {
      runbook: BREAK_GLASS_DRILL,
      outcome,
      message,
      workflowId: record.status.workflowId,
      drillIncidentId,
      ...(detail.target ? { target: detail.target } : {}),
      ...(detail.slo ? { slo: detail.slo } : {}),
      logMarkdown: markdown,
      ...(detail.log.path ? { logPath: detail.log.path } : {}),
      steps: record.stepDurations(),
      refusedAttempts: record.status.refusedAttempts,
      flags: record.status.flags,
      notices: record.status.notices,
    };
  };

  // Staging: the sentinel row and the snapshot N versions back.
  record.enterStep(
    'prepare_staging',
    `sentinel ftf_config id=${policy.sentinelRowId} on staging, ${policy.versionsBack} versions back`,
  );
  let prepared;
  try {
    prepared = await prepareDrill({ sentinelRowId: policy.sentinelRowId, versionsBack: policy.versionsBack });
  } catch (error) {
    return finish('drill_not_completed', `staging could not be prepared: ${describeFailure(error)}`);
  }
  if (prepared.status !== 'ready') return finish('drill_not_completed', prepared.message);
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
  const planned = await planRestore({
    incidentId: drillIncidentId,
    targetHistoryId: prepared.target.id,
    ...target,
  });
  if (planned.status !== 'ready') return finish('drill_not_completed', planned.message);
  const plan = planned.plan;
  detail.plan = plan;
  const planSummary = `DRILL on staging: restore history id ${plan.target.id} (${plan.target.version}) onto sentinel id=${plan.liveRowId}: ${plan.diff.changed} keys change`;
  const ctx: BreakGlassContext = {
    runbook: BREAK_GLASS_DRILL,
    incidentId: drillIncidentId,
    requestedBy,
    rationale,
    tag,
    story: snapshot.story,
    record: record,
    notices,
    controls,
    gate: policy,
    resultFor: (outcome, message) => ({ outcome, message, drillIncidentId }),
  };
  detail.approvalLineTemplate = approvalLineTemplate(ctx);
  const end = await runApprovedWrite(ctx, {
    planHash: plan.planHash,
    planSummary,
    planDetails: [
      { label: 'Drill', value: `staging, sentinel id=${plan.liveRowId}` },
      { label: 'Target', value: `history id ${plan.target.id} (version ${plan.target.version})` },
      { label: 'SLO', value: `detected → verified < ${formatDuration(policy.slo)}` },
    ],
    execute: (approval) =>
      executeRestore({
        ...approval,
        incidentId: drillIncidentId,
        targetHistoryId: plan.target.id,
        expectedFingerprint: plan.live.fingerprint,
        ...target,
      }),
    verify: (write) =>
      verifyRestore({
        incidentId: drillIncidentId,
        targetHistoryId: plan.target.id,
        restoreHistoryId: write.historyId,
        expectedVersion: plan.expectedVersion,
        ...target,
      }),
    summarise: summariseRestoreVerification,
    done: {
      outcome: 'drill_completed',
      nonConformingOutcome: 'drill_completed',
      notice: { kind: 'drill_restore_done', label: 'drill restore verified' },
      message: (write) => `drill restore verified on staging (history row ${write.historyId})`,
    },
  });
  if (end.outcome !== 'drill_completed') return finish('drill_not_completed', end.message);

  // SLO: detected → restore verified.
  const verifiedAtMs = Date.now();
  const elapsedMs = verifiedAtMs - detectedAtMs;
  const slo: DrillSlo = {
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
  detail.slo = slo;
  const verdictText = `detected → restore verified in ${formatDuration(elapsedMs)} (SLO < ${formatDuration(policy.slo)})`;
  if (slo.verdict === 'needs_tightening') {
    record.flag(
      'drill_needs_tightening',
      `${verdictText}: over ${formatDuration(policy.tightenAbove)}, the runbook needs tightening (file a doc issue)`,
    );
    notices.send({
      kind: 'drill_needs_tightening',
      severity: 'warning',
      audience: 'incident_commander',
      subject: `${tag} the break-glass runbook needs tightening: ${verdictText}`,
      body: 'Seed 000: a drill over 15 minutes means the runbook needs tightening; file a doc issue. The drill log has the per-step times.',
    });
  }
  const outcome: BreakGlassDrillOutcome =
    slo.verdict === 'within_slo'
      ? 'drill_within_slo'
      : slo.verdict === 'over_slo'
        ? 'drill_over_slo'
        : 'drill_needs_tightening';
  return finish(outcome, verdictText);

  function drillLog(outcome: BreakGlassDrillOutcome, message: string): string {
    const steps = record
      .stepDurations()
      .filter((step) => step.name !== 'write_drill_log' && step.name !== 'done');
    const rows = steps.map(
      (step) =>
        `| ${step.name} | ${step.startedAt} | ${step.endedAt ?? '—'} | ${step.durationMs !== undefined ? formatDuration(step.durationMs) : '—'} |`,
    );
    const surprises = [
      ...(detail.sentinelCreated
        ? [`the sentinel row id=${policy.sentinelRowId} did not exist on staging and was created`]
        : []),
      ...record.status.refusedAttempts.map(
        (a) => `refused ${a.signal} by ${a.by ?? '?'}: ${a.reason} (${a.detail})`,
      ),
      ...record.status.flags.map((f) => `${f.code}: ${f.message}`),
      ...record.status.notices
        .filter((n) => n.state === 'failed' || n.state === 'partial')
        .map(
          (n) =>
            `notice "${n.kind}" ${n.state}: ${n.deliveries
              .filter((d) => d.state === 'failed')
              .map((d) => `${d.channel}: ${d.error ?? ''}`)
              .join('; ')}`,
        ),
      ...(outcome === 'drill_not_completed' ? [`the drill did not complete: ${message}`] : []),
    ];
    return [
      `# Break-glass drill — ${stamp.slice(0, 10)}`,
      '',
      `**Scenario** : Procedure A — restore from a ${policy.versionsBack}-version-back snapshot against the staging copy (sentinel ftf_config id=${policy.sentinelRowId})`,
      `**Drill** : ${drillIncidentId} · workflow ${record.status.workflowId} · requested by ${requestedBy}`,
      `**Target** : ${detail.target ? `ftf_config_history.id=${detail.target.id} (version ${detail.target.version}, ${detail.target.changedBy} at ${detail.target.changedAt})` : 'not reached'}`,
      `**Approver** : ${detail.approval ? `${detail.approval.approver} at ${detail.approval.approvedAt}` : 'none'}`,
      `**Outcome** : ${outcome} — ${message}`,
      `**SLO** : detected → restore verified < ${formatDuration(policy.slo)}; over ${formatDuration(policy.tightenAbove)} the runbook needs tightening`,
      '',
      '## Wall clock per step',
      '',
      '| step | start (UTC) | end (UTC) | duration |',
      '| --- | --- | --- | --- |',
      ...rows,
      '',
      '## Surprises',
      '',
      ...(surprises.length ? surprises.map((s) => `- ${s}`) : ['- none']),
    ].join('\n');
  }
}
