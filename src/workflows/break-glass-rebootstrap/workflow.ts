import { proxyActivities } from '@temporalio/workflow';
import type {
  PlanRebootstrapOutcome,
  RebootstrapPlan,
  RebootstrapVerification,
  RunbookActivities,
} from '../../activities';
import type { NoticeDetail } from '../../common/notice';
import { databaseRead, databaseWrite } from '../activity-options';
import { breakGlassResultBase, defineBreakGlassProcedure } from '../shared/break-glass/procedure';
import { canonicalCounts, canonicalPlanDetail } from '../shared/break-glass/verification';
import {
  BREAK_GLASS_REBOOTSTRAP,
  breakGlassRebootstrapInputSchema,
  type BreakGlassRebootstrapDetail,
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
    `- Canonical payload comparison: ${canonicalCounts(verification.canonical)}`,
  ];
}

function summaryOf(plan: RebootstrapPlan): string {
  return plan.source.kind === 'history'
    ? `re-insert ftf_config id=${plan.liveRowId} from the newest history row id ${plan.source.historyId} (version ${plan.source.version})`
    : `history is EMPTY: apply the canonical payload (${plan.source.keyCount} keys) as ftf_config id=${plan.liveRowId} — the canonical seed path, not break-glass`;
}

function planDetailsOf(plan: RebootstrapPlan): NoticeDetail[] {
  const source = plan.source;
  if (source.kind === 'canonical')
    return [
      { label: 'Source', value: `canonical payload, ${source.keyCount} keys` },
      { label: 'History', value: 'empty (canonical seed path, not break-glass)' },
    ];
  return [
    {
      label: 'Source',
      value: `history id ${source.historyId} (version ${source.version}, ${source.changedAt})`,
    },
    { label: 'Live row', value: `id=${plan.liveRowId} is missing` },
    ...canonicalPlanDetail(plan.canonical, 'the source snapshot'),
  ];
}

/**
 * Break-glass Procedure D: refuse if the live row exists ("use Procedure A"); otherwise plan from
 * the newest history row → gate → pause → insert unless a concurrent insert won → verify →
 * obligations. With an empty history: the canonical seed path (not break-glass) after the same gate.
 */
export const breakGlassRebootstrap = defineBreakGlassProcedure<BreakGlassRebootstrapDetail>()({
  runbook: BREAK_GLASS_REBOOTSTRAP,
  inputSchema: breakGlassRebootstrapInputSchema,
  open: (input) => ({
    incidentId: input.incidentId,
    requestedBy: input.requestedBy,
    rationale: input.rationale,
    dryRun: input.dryRun,
    tag: `[break-glass D ${input.incidentId}]`,
    memo: `Procedure D: re-bootstrap the missing ftf_config row, incident ${input.incidentId}`,
    detail: { rationale: input.rationale, dryRun: input.dryRun },
    planAhead: { activity: 'planRebootstrap', input: { incidentId: input.incidentId } },
  }),

  async plan({ input, record, notices, opening, snapshot, detail, ahead }) {
    // Precondition (the row must be verifiably absent) and the plan.
    record.enterStep(
      'check_precondition',
      'checking that ftf_config id=1 is missing and finding the newest history snapshot',
    );
    const planned =
      ahead.plan<PlanRebootstrapOutcome>() ?? (await planRebootstrap({ incidentId: input.incidentId }));
    if (planned.status === 'row_exists') {
      detail.newestHistoryId = planned.newestHistoryId;
      notices.send({
        kind: 'row_exists',
        severity: 'warning',
        audience: 'incident_commander',
        subject: `${opening.tag} refused: row exists, use Procedure A`,
        body: planned.message,
      });
      return { outcome: 'row_exists', message: planned.message };
    }
    const plan = planned.plan;
    const source = plan.source;
    const canonical = source.kind === 'canonical';
    const verification = {
      incidentId: input.incidentId,
      source: source.kind,
      sourceHistoryId: source.kind === 'history' ? source.historyId : null,
      ...(source.kind === 'history' && source.baseEnvHash ? { approvedSourceHash: source.baseEnvHash } : {}),
    };
    return {
      plan,
      planHash: plan.planHash,
      planSummary: summaryOf(plan),
      planDetails: planDetailsOf(plan),
      execute: (approval, verifyAfter) =>
        executeRebootstrap({
          ...approval,
          incidentId: input.incidentId,
          expectedFingerprint: plan.expectedFingerprint,
          // The approval covers the source snapshot: an edit of that history row makes the plan stale.
          ...(source.kind === 'history' && source.baseEnvHash
            ? { expectedSourceHash: source.baseEnvHash }
            : {}),
          seedingChangeReason: snapshot.seedingChangeReason,
          ...(verifyAfter ? { verifyAfter: verification } : {}),
        }),
      verify: (write) => verifyRebootstrap({ ...verification, historyId: write.historyId }),
      summarise: (verification) => ({
        ok: verification.ok,
        problems: [...verification.liveRow.problems, ...verification.historyRow.problems],
        counts: canonicalCounts(verification.canonical),
        conflicts: { count: verification.canonical.conflict, keys: verification.canonical.conflictKeys },
      }),
      // Seed 000 D step 2 verifies "as Procedure A steps 4-5": a CONFLICT > 0 pauses for the IC.
      holdOnConflict: !canonical,
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
      ...(canonical ? {} : { obligations: {} }),
    };
  },

  postMortem: ({ input, detail }) => ({
    procedure: 'D',
    rationale: input.rationale,
    whatChanged:
      detail.plan?.source.kind === 'history'
        ? `re-bootstrapped from ftf_config_history.id=${detail.plan.source.historyId}`
        : 'canonical payload applied',
    verificationLines: rebootstrapVerificationLines(detail.verification),
  }),

  result: (run, end): BreakGlassRebootstrapResult => ({
    ...breakGlassResultBase(run, end),
    runbook: BREAK_GLASS_REBOOTSTRAP,
    outcome: end.outcome as BreakGlassRebootstrapOutcome,
    ...(run.detail.newestHistoryId !== undefined ? { newestHistoryId: run.detail.newestHistoryId } : {}),
  }),
});
