import { proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { databaseRead, databaseWrite } from '../activity-options';
import { committedWrite } from '../break-glass/definitions';
import { approvalLineTemplate, runApprovedWrite, type BreakGlassContext } from '../break-glass/flow';
import { renderPostMortem } from '../break-glass/post-mortem';
import { beginBreakGlass, loadPolicy, resultBase } from '../break-glass/start';
import { parseWorkflowInput } from '../shared/input';
import { restoreVerificationLines, summariseRestoreVerification } from './verification';
import {
  BREAK_GLASS_RESTORE,
  breakGlassRestoreInputSchema,
  type BreakGlassRestoreDetail,
  type BreakGlassRestoreInput,
  type BreakGlassRestoreOutcome,
  type BreakGlassRestoreResult,
} from './definitions';

const { planRestore, verifyRestore } = proxyActivities<RunbookActivities>(databaseRead);
const { executeRestore } = proxyActivities<RunbookActivities>(databaseWrite);

/**
 * Break-glass Procedure A: inspect & plan → approval gate → pause-and-think → one restore
 * transaction → verify → reconciliation (60 min) and post-mortem (24 h) obligations.
 */
export async function breakGlassRestore(rawInput: BreakGlassRestoreInput): Promise<BreakGlassRestoreResult> {
  const input = parseWorkflowInput(breakGlassRestoreInputSchema, rawInput, 'breakGlassRestore input');
  const { requestedBy, record, notices, controls, signals } = beginBreakGlass<BreakGlassRestoreDetail>({
    runbook: 'breakGlassRestore',
    incidentId: input.incidentId,
    requestedBy: input.requestedBy,
    detail: { targetHistoryId: input.targetHistoryId, rationale: input.rationale, dryRun: input.dryRun },
    memo: `Procedure A: restore ftf_config from history id ${input.targetHistoryId} for incident ${input.incidentId}, requested by @${input.requestedBy.replace(/^@/, '').toLowerCase()}`,
  });
  const detail = record.status.detail;
  const tag = `[break-glass A ${input.incidentId}]`;

  const result = (outcome: BreakGlassRestoreOutcome, message: string): BreakGlassRestoreResult => {
    if (detail.postMortem) detail.postMortem.draft = draft();
    return {
      ...resultBase(record, input.incidentId, outcome, message),
      runbook: BREAK_GLASS_RESTORE,
      outcome,
      targetHistoryId: input.targetHistoryId,
    };
  };
  const finish = async (
    outcome: BreakGlassRestoreOutcome,
    message: string,
  ): Promise<BreakGlassRestoreResult> => {
    record.finish(outcome, message);
    await notices.settle();
    return result(outcome, message);
  };

  const snapshot = await loadPolicy('breakGlassRestore', { record, controls, notices });
  const policy = snapshot.runbook;

  // Inspect & plan.
  record.enterStep(
    'inspect_and_plan',
    `inspecting history and planning the restore of id ${input.targetHistoryId}`,
  );
  const planned = await planRestore({ incidentId: input.incidentId, targetHistoryId: input.targetHistoryId });
  if (planned.status !== 'ready') {
    notices.send({
      kind: planned.status,
      severity: 'warning',
      audience: 'incident_commander',
      subject: `${tag} cannot plan the restore: ${planned.status}`,
      body: planned.message,
    });
    return finish(planned.status, planned.message);
  }
  const plan = planned.plan;
  detail.plan = plan;
  const planSummary =
    `restore history id ${plan.target.id} (version ${plan.target.version}) over live version ${plan.live.version}: ` +
    `${plan.diff.changed} keys change, ${plan.diff.added} added, ${plan.diff.removed} removed, ${plan.diff.unchanged} unchanged`;
  record.noteStep(planSummary);
  const ctx: BreakGlassContext = {
    runbook: BREAK_GLASS_RESTORE,
    incidentId: input.incidentId,
    requestedBy,
    rationale: input.rationale,
    tag,
    story: snapshot.story,
    record: record,
    notices,
    controls,
    gate: policy,
    resultFor: (outcome, message) => result(outcome as BreakGlassRestoreOutcome, message),
  };
  detail.approvalLineTemplate = approvalLineTemplate(ctx);
  if (input.dryRun) {
    return finish('dry_run', `dry run: ${planSummary}; planHash ${plan.planHash}; nothing was changed`);
  }

  const end = await runApprovedWrite(ctx, {
    planHash: plan.planHash,
    planSummary,
    planDetails: [
      { label: 'Target', value: `history id ${plan.target.id} (version ${plan.target.version})` },
      { label: 'Live now', value: `version ${plan.live.version}` },
      { label: 'Changed keys', value: String(plan.diff.changed + plan.diff.added + plan.diff.removed) },
    ],
    execute: (approval) =>
      executeRestore({
        ...approval,
        incidentId: input.incidentId,
        targetHistoryId: input.targetHistoryId,
        expectedFingerprint: plan.live.fingerprint,
      }),
    verify: (write) =>
      verifyRestore({
        incidentId: input.incidentId,
        targetHistoryId: input.targetHistoryId,
        restoreHistoryId: write.historyId,
        expectedVersion: plan.expectedVersion,
      }),
    summarise: summariseRestoreVerification,
    done: {
      outcome: 'restored',
      nonConformingOutcome: 'restored_non_conforming',
      notice: { kind: 'restore_done', label: 'restore done' },
      message: (write) => `restored history id ${plan.target.id} as history row ${write.historyId}`,
    },
    obligations: {
      signals,
      database: 'target',
      policy,
      ...(snapshot.postMortemComment ? { postMortemComment: snapshot.postMortemComment } : {}),
      renderDraft: draft,
    },
  });
  return finish(end.outcome as BreakGlassRestoreOutcome, end.message);

  function draft(): string {
    const write = committedWrite(detail.execution);
    if (!write || !detail.approval) return '';
    return renderPostMortem({
      procedure: 'A',
      incidentId: input.incidentId,
      workflowId: record.status.workflowId,
      runId: record.status.runId,
      rationale: input.rationale,
      approval: detail.approval,
      write,
      whatChanged: `restored from ftf_config_history.id=${input.targetHistoryId}`,
      verificationLines: restoreVerificationLines(detail.verification),
      ...(detail.reconciliation ? { reconciliation: detail.reconciliation } : {}),
      steps: record.stepDurations(),
      postMortemTarget: snapshot.postMortemTarget,
    });
  }
}
