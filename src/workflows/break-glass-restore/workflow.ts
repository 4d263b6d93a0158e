import { proxyActivities } from '@temporalio/workflow';
import type { PlanRestoreInput, PlanRestoreOutcome, RunbookActivities } from '../../activities';
import { databaseRead, databaseWrite } from '../activity-options';
import { breakGlassResultBase, defineBreakGlassProcedure } from '../shared/break-glass/procedure';
import {
  canonicalCounts,
  canonicalPlanDetail,
  restoreVerificationLines,
  summariseRestoreVerification,
} from '../shared/break-glass/verification';
import { cannotPlan } from '../shared/break-glass/notices';
import {
  BREAK_GLASS_RESTORE,
  breakGlassRestoreInputSchema,
  type BreakGlassRestoreDetail,
  type BreakGlassRestoreInput,
  type BreakGlassRestoreOutcome,
  type BreakGlassRestoreResult,
} from './definitions';

const { planRestore, verifyRestore } = proxyActivities<RunbookActivities>(databaseRead);

/** The plan's input; the opening computes the plan with the policy read (since break-glass-inline-steps-v1). */
const planInput = (input: BreakGlassRestoreInput): PlanRestoreInput => ({
  incidentId: input.incidentId,
  targetHistoryId: input.targetHistoryId,
});
const { executeRestore } = proxyActivities<RunbookActivities>(databaseWrite);

/**
 * Break-glass Procedure A: inspect & plan → approval gate → pause-and-think → one restore
 * transaction → verify → reconciliation (60 min) and post-mortem (24 h) obligations.
 */
export const breakGlassRestore = defineBreakGlassProcedure<BreakGlassRestoreDetail>()({
  runbook: BREAK_GLASS_RESTORE,
  inputSchema: breakGlassRestoreInputSchema,
  open: (input) => ({
    incidentId: input.incidentId,
    requestedBy: input.requestedBy,
    rationale: input.rationale,
    dryRun: input.dryRun,
    tag: `[break-glass A ${input.incidentId}]`,
    memo: `Procedure A: restore ftf_config from history id ${input.targetHistoryId} for incident ${input.incidentId}, requested by @${input.requestedBy.replace(/^@/, '').toLowerCase()}`,
    detail: { targetHistoryId: input.targetHistoryId, rationale: input.rationale, dryRun: input.dryRun },
    planAhead: { activity: 'planRestore', input: planInput(input) },
  }),

  async plan({ input, record, notices, opening, ahead }) {
    record.enterStep(
      'inspect_and_plan',
      `inspecting history and planning the restore of id ${input.targetHistoryId}`,
    );
    const planned = ahead.plan<PlanRestoreOutcome>() ?? (await planRestore(planInput(input)));
    if (planned.status !== 'ready')
      return cannotPlan(notices, opening.tag, 'cannot plan the restore', planned);
    const plan = planned.plan;
    const verification = {
      incidentId: input.incidentId,
      targetHistoryId: input.targetHistoryId,
      expectedVersion: plan.expectedVersion,
      approvedTargetHash: plan.target.baseEnvHash,
    };
    return {
      plan,
      planHash: plan.planHash,
      planSummary:
        `restore history id ${plan.target.id} (version ${plan.target.version}) over live version ${plan.live.version}: ` +
        `${plan.diff.changed} keys change, ${plan.diff.added} added, ${plan.diff.removed} removed, ${plan.diff.unchanged} unchanged` +
        // Plans recorded before the comparison was made at plan time have none.
        (plan.canonical ? `; canonical ${canonicalCounts(plan.canonical)}` : ''),
      planDetails: [
        { label: 'Target', value: `history id ${plan.target.id} (version ${plan.target.version})` },
        { label: 'Live now', value: `version ${plan.live.version}` },
        { label: 'Changed keys', value: String(plan.diff.changed + plan.diff.added + plan.diff.removed) },
        ...canonicalPlanDetail(plan.canonical, 'the target'),
      ],
      execute: (approval, verifyAfter) =>
        executeRestore({
          ...approval,
          incidentId: input.incidentId,
          targetHistoryId: input.targetHistoryId,
          expectedFingerprint: plan.live.fingerprint,
          // The approval covers the target snapshot too: an edit of that history row makes the plan stale.
          expectedTargetHash: plan.target.baseEnvHash,
          ...(verifyAfter ? { verifyAfter: verification } : {}),
        }),
      verify: (write) => verifyRestore({ ...verification, restoreHistoryId: write.historyId }),
      summarise: summariseRestoreVerification,
      holdOnConflict: true,
      done: {
        outcome: 'restored',
        nonConformingOutcome: 'restored_non_conforming',
        notice: { kind: 'restore_done', label: 'restore done' },
        message: (write) => `restored history id ${plan.target.id} as history row ${write.historyId}`,
      },
      obligations: {},
    };
  },

  postMortem: ({ input, detail }) => ({
    procedure: 'A',
    rationale: input.rationale,
    whatChanged: `restored from ftf_config_history.id=${input.targetHistoryId}`,
    verificationLines: restoreVerificationLines(detail.verification),
  }),

  result: (run, end): BreakGlassRestoreResult => ({
    ...breakGlassResultBase(run, end),
    runbook: BREAK_GLASS_RESTORE,
    outcome: end.outcome as BreakGlassRestoreOutcome,
    targetHistoryId: run.input.targetHistoryId,
  }),
});
