import { proxyActivities } from '@temporalio/workflow';
import type { RebootstrapVerification, RunbookActivities } from '../../activities';
import { databaseRead, databaseWrite } from '../activity-options';
import { committedWrite } from '../break-glass/definitions';
import { approvalLineTemplate, runApprovedWrite, type BreakGlassContext } from '../break-glass/flow';
import { renderPostMortem } from '../break-glass/post-mortem';
import { beginBreakGlass, loadPolicy, resultBase } from '../break-glass/start';
import { parseWorkflowInput } from '../shared/input';
import {
  BREAK_GLASS_REBOOTSTRAP,
  breakGlassRebootstrapInputSchema,
  type BreakGlassRebootstrapDetail,
  type BreakGlassRebootstrapInput,
  type BreakGlassRebootstrapOutcome,
  type BreakGlassRebootstrapResult,
} from './definitions';

const { planRebootstrap, verifyRebootstrap } = proxyActivities<RunbookActivities>(databaseRead);
const { executeRebootstrap } = proxyActivities<RunbookActivities>(databaseWrite);

function rebootstrapVerificationLines(verification: RebootstrapVerification | undefined): string[] {
  if (!verification) return ['- Verification: not run'];
  return [
    `- Live row: ${verification.liveRow.ok ? 'OK' : `NOT OK (${verification.liveRow.problems.join('; ')})`} — version ${verification.liveRow.version}`,
    `- History row: ${verification.historyRow.ok ? 'OK' : `NOT OK (${verification.historyRow.problems.join('; ')})`}`,
    `- Canonical payload comparison: NEW ${verification.canonical.new} / EQUAL ${verification.canonical.equal} / CONFLICT ${verification.canonical.conflict}`,
  ];
}

/**
 * Break-glass Procedure D: refuse if the live row exists ("use Procedure A"); otherwise plan from
 * the newest history row → gate → pause → insert unless a concurrent insert won → verify →
 * obligations. With an empty history: the canonical seed path (not break-glass) after the same gate.
 */
export async function breakGlassRebootstrap(
  rawInput: BreakGlassRebootstrapInput,
): Promise<BreakGlassRebootstrapResult> {
  const input = parseWorkflowInput(breakGlassRebootstrapInputSchema, rawInput, 'breakGlassRebootstrap input');
  const { requestedBy, record, notices, controls, signals } = beginBreakGlass<BreakGlassRebootstrapDetail>({
    runbook: 'breakGlassRebootstrap',
    incidentId: input.incidentId,
    requestedBy: input.requestedBy,
    detail: { rationale: input.rationale, dryRun: input.dryRun },
    memo: `Procedure D: re-bootstrap the missing ftf_config row, incident ${input.incidentId}`,
  });
  const detail = record.status.detail;
  const tag = `[break-glass D ${input.incidentId}]`;

  const result = (outcome: BreakGlassRebootstrapOutcome, message: string): BreakGlassRebootstrapResult => {
    if (detail.postMortem) detail.postMortem.draft = draft();
    return {
      ...resultBase(record, input.incidentId, outcome, message),
      runbook: BREAK_GLASS_REBOOTSTRAP,
      outcome,
      ...(detail.newestHistoryId !== undefined ? { newestHistoryId: detail.newestHistoryId } : {}),
    };
  };
  const finish = async (
    outcome: BreakGlassRebootstrapOutcome,
    message: string,
  ): Promise<BreakGlassRebootstrapResult> => {
    record.finish(outcome, message);
    await notices.settle();
    return result(outcome, message);
  };

  const snapshot = await loadPolicy('breakGlassRebootstrap', { record, controls, notices });
  const policy = snapshot.runbook;

  // 1. Precondition (the row must be verifiably absent) and the plan.
  record.enterStep(
    'check_precondition',
    'checking that ftf_config id=1 is missing and finding the newest history snapshot',
  );
  const planned = await planRebootstrap({ incidentId: input.incidentId });
  if (planned.status === 'row_exists') {
    detail.newestHistoryId = planned.newestHistoryId;
    notices.send({
      kind: 'row_exists',
      severity: 'warning',
      audience: 'incident_commander',
      subject: `${tag} refused: row exists, use Procedure A`,
      body: planned.message,
    });
    return finish('row_exists', planned.message);
  }
  const plan = planned.plan;
  detail.plan = plan;
  const canonical = plan.source.kind === 'canonical';
  const planSummary =
    plan.source.kind === 'history'
      ? `re-insert ftf_config id=${plan.liveRowId} from the newest history row id ${plan.source.historyId} (version ${plan.source.version})`
      : `history is EMPTY: apply the canonical payload (${plan.source.keyCount} keys) as ftf_config id=${plan.liveRowId} — the canonical seed path, not break-glass`;
  record.noteStep(planSummary);
  const ctx: BreakGlassContext = {
    runbook: BREAK_GLASS_REBOOTSTRAP,
    incidentId: input.incidentId,
    requestedBy,
    rationale: input.rationale,
    tag,
    story: snapshot.story,
    record: record,
    notices,
    controls,
    gate: policy,
    resultFor: (outcome, message) => result(outcome as BreakGlassRebootstrapOutcome, message),
  };
  detail.approvalLineTemplate = approvalLineTemplate(ctx);
  if (input.dryRun)
    return finish('dry_run', `dry run: ${planSummary}; planHash ${plan.planHash}; nothing was changed`);

  const end = await runApprovedWrite(ctx, {
    planHash: plan.planHash,
    planSummary,
    planDetails:
      plan.source.kind === 'history'
        ? [
            {
              label: 'Source',
              value: `history id ${plan.source.historyId} (version ${plan.source.version}, ${plan.source.changedAt})`,
            },
            { label: 'Live row', value: `id=${plan.liveRowId} is missing` },
          ]
        : [
            { label: 'Source', value: `canonical payload, ${plan.source.keyCount} keys` },
            { label: 'History', value: 'empty (canonical seed path, not break-glass)' },
          ],
    execute: (approval) =>
      executeRebootstrap({
        ...approval,
        incidentId: input.incidentId,
        expectedFingerprint: plan.expectedFingerprint,
        seedingChangeReason: snapshot.seedingChangeReason,
      }),
    verify: (write) =>
      verifyRebootstrap({
        incidentId: input.incidentId,
        historyId: write.historyId,
        source: plan.source.kind,
        sourceHistoryId: plan.source.kind === 'history' ? plan.source.historyId : null,
      }),
    summarise: (verification) => ({
      ok: verification.ok,
      problems: [...verification.liveRow.problems, ...verification.historyRow.problems],
      counts: `NEW ${verification.canonical.new} / EQUAL ${verification.canonical.equal} / CONFLICT ${verification.canonical.conflict}`,
    }),
    done: canonical
      ? {
          outcome: 'canonical_seeded',
          nonConformingOutcome: 'canonical_seeded',
          notice: { kind: 'canonical_seed_done', label: 'canonical payload applied' },
          message: (write) =>
            `history was empty: applied the canonical payload (history row ${write.historyId})`,
        }
      : {
          outcome: 'rebootstrapped',
          nonConformingOutcome: 'rebootstrapped_non_conforming',
          notice: { kind: 'rebootstrap_done', label: 'rebootstrap done' },
          message: (write) =>
            `re-bootstrapped ftf_config id=${plan.liveRowId} (history row ${write.historyId})`,
        },
    // The canonical seed path is a normal write: no break-glass reconciliation or post-mortem.
    ...(canonical
      ? {}
      : {
          obligations: {
            signals,
            database: 'target' as const,
            policy,
            ...(snapshot.postMortemComment ? { postMortemComment: snapshot.postMortemComment } : {}),
            renderDraft: draft,
          },
        }),
  });
  return finish(end.outcome as BreakGlassRebootstrapOutcome, end.message);

  function draft(): string {
    const write = committedWrite(detail.execution);
    if (!write || !detail.approval || !detail.plan) return '';
    const source = detail.plan.source;
    return renderPostMortem({
      procedure: 'D',
      incidentId: input.incidentId,
      workflowId: record.status.workflowId,
      runId: record.status.runId,
      rationale: input.rationale,
      approval: detail.approval,
      write,
      whatChanged:
        source.kind === 'history'
          ? `re-bootstrapped from ftf_config_history.id=${source.historyId}`
          : 'canonical payload applied',
      verificationLines: rebootstrapVerificationLines(detail.verification),
      ...(detail.reconciliation ? { reconciliation: detail.reconciliation } : {}),
      steps: record.stepDurations(),
      postMortemTarget: snapshot.postMortemTarget,
    });
  }
}
