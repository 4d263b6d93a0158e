import { proxyActivities } from '@temporalio/workflow';
import type { ConsoleEditVerification, RunbookActivities } from '../../activities';
import { hpoKeyOf, unconfirmableValue } from '../../common/break-glass';
import { databaseRead, databaseWrite, probe } from '../activity-options';
import { cannotPlan } from '../shared/break-glass/notices';
import {
  breakGlassResultBase,
  defineBreakGlassProcedure,
  type ProcedureEnd,
} from '../shared/break-glass/procedure';
import { isPatched, PATCHES } from '../shared/patches';
import { describeFailure, type Notices } from '../shared/notices';
import type { RunRecord } from '../shared/run-record';
import type { RunControls } from '../shared/gates';
import {
  BREAK_GLASS_CONSOLE_EDIT,
  breakGlassConsoleEditInputSchema,
  type BreakGlassConsoleEditDetail,
  type BreakGlassConsoleEditOutcome,
  type BreakGlassConsoleEditResult,
} from './definitions';
import { evidence, judge } from './justification';

const { planConsoleEdit, verifyConsoleEdit } = proxyActivities<RunbookActivities>(databaseRead);
const { executeConsoleEdit } = proxyActivities<RunbookActivities>(databaseWrite);
const { consolePodReadiness, probeConsole } = proxyActivities<RunbookActivities>(probe);

function consoleEditVerificationLines(verification: ConsoleEditVerification | undefined): string[] {
  if (!verification) return ['- Verification: not run'];
  return [
    `- ${verification.key}: ${verification.liveRow.ok ? `OK (${JSON.stringify(verification.value)})` : `NOT OK (${verification.liveRow.problems.join('; ')})`}`,
    `- Break-glass history row: ${verification.historyRow.ok ? 'OK' : `NOT OK (${verification.historyRow.problems.join('; ')})`}`,
  ];
}

/**
 * Seed 000 step 1: justified only if no Console pod is Ready and the Console does not answer over
 * HTTP. Pods' Ready condition and the HTTP probe are read side by side; anything else ends the run.
 */
async function checkJustification(
  record: RunRecord<BreakGlassConsoleEditDetail>,
  notices: Notices,
  tag: string,
): Promise<ProcedureEnd | undefined> {
  record.enterStep(
    'check_justification',
    'checking the Console pods (Ready condition) and its HTTP endpoint',
  );
  // Pods that cannot be read fail the step (the fail-safe pages and waits for retry or abort);
  // runs recorded before that judged them "unverified" and ended.
  const readPods = isPatched(PATCHES.breakGlassReadsNeedHuman)
    ? consolePodReadiness().then((readiness) => ({ readiness }))
    : consolePodReadiness().then(
        (readiness) => ({ readiness }),
        (error: unknown) => ({ error: describeFailure(error) }),
      );
  const [pods, http] = await Promise.all([readPods, probeConsole()]);
  const justification = judge(pods, http);
  record.status.detail.justification = justification;
  record.noteStep(`${justification.verdict}: ${justification.reason}`);
  if (justification.verdict === 'justified') return undefined;
  const outcome: BreakGlassConsoleEditOutcome =
    justification.verdict === 'console_up'
      ? 'not_justified_console_up'
      : justification.verdict === 'ingress_dns'
        ? 'not_justified_ingress'
        : 'not_justified_unverified';
  notices.send({
    kind: 'not_justified',
    severity: justification.verdict === 'ingress_dns' ? 'critical' : 'warning',
    audience: justification.verdict === 'ingress_dns' ? 'escalation' : 'incident_commander',
    subject: `${tag} break-glass not justified: ${justification.reason}`,
    body: evidence(justification),
  });
  return { outcome, message: justification.reason };
}

/**
 * Seed 000 rule 5: a new value that cannot be confirmed by eye is reviewed by a second operator
 * (the requester cannot approve it, sole operator or not). With nobody else on the roster the run
 * ends before the gate: abort and escalate, as the seed says.
 */
function pairReviewOf(
  value: string,
  controls: RunControls,
  record: RunRecord<BreakGlassConsoleEditDetail>,
): { why: string; ended?: ProcedureEnd } | undefined {
  const why = unconfirmableValue(value);
  if (!why || !isPatched(PATCHES.consoleEditPairReview)) return undefined;
  const reviewers = controls.requirePairReview(`the new value ${why}`);
  record.status.detail.pairReview = { why, reviewers };
  if (reviewers.length > 0) {
    record.event(
      'pair_review_required',
      `the new value cannot be confirmed by eye (${why}): ${reviewers.join(' or ')} must approve`,
    );
    return { why };
  }
  return {
    why,
    ended: {
      outcome: 'pair_review_unavailable',
      message: `the new value cannot be confirmed by eye (${why}) and needs a second operator's review (seed 000 rule 5), but the roster has nobody besides the requester; add a second approver to runbooks.breakGlassConsoleEdit.approvers. Nothing was changed`,
    },
  };
}

/**
 * Break-glass Procedure B: justified only if no Console pod is Ready and the Console does not
 * answer over HTTP; then plan → approval gate → pause → jsonb_set on the existing key → verify →
 * wait for the Console to come back → reconciliation (60 min) and post-mortem (24 h).
 */
export const breakGlassConsoleEdit = defineBreakGlassProcedure<BreakGlassConsoleEditDetail>()({
  runbook: BREAK_GLASS_CONSOLE_EDIT,
  inputSchema: breakGlassConsoleEditInputSchema,
  open: (input) => {
    const key = hpoKeyOf(input);
    return {
      incidentId: input.incidentId,
      requestedBy: input.requestedBy,
      rationale: input.rationale,
      dryRun: input.dryRun,
      tag: `[break-glass B ${input.incidentId}]`,
      memo: `Procedure B: set ${key} while the Console is down, incident ${input.incidentId}`,
      detail: { key, rationale: input.rationale, dryRun: input.dryRun },
    };
  },

  async plan({ input, record, notices, opening, policy, detail, controls }) {
    const notJustified = await checkJustification(record, notices, opening.tag);
    if (notJustified) return notJustified;
    // Seed 000 B step 2: the operator self-attests to the urgency; an edit that can wait, waits.
    if (isPatched(PATCHES.consoleEditUrgency)) {
      if (!input.urgency)
        return {
          outcome: 'not_attested',
          message:
            'Procedure B needs your attestation that this edit cannot wait for the Console (typically back within 4 h; prefer waiting). Start again with "urgency": "why it cannot wait"; nothing was changed',
        };
      record.event('urgency_attested', `cannot wait for the Console: ${input.urgency}`, opening.requestedBy);
    }
    const key = detail.key;
    record.enterStep('inspect_and_plan', `planning ${key} → ${JSON.stringify(input.newValue)}`);
    const keyFields = { model: input.model, timeframe: input.timeframe, param: input.param };
    const planned = await planConsoleEdit({
      incidentId: input.incidentId,
      ...keyFields,
      newValue: input.newValue,
    });
    if (planned.status !== 'ready') return cannotPlan(notices, opening.tag, 'cannot plan', planned);
    const plan = planned.plan;
    const pairReview = pairReviewOf(input.newValue, controls, record);
    if (pairReview?.ended) return pairReview.ended;
    const verification = {
      incidentId: input.incidentId,
      ...keyFields,
      newValue: input.newValue,
      expectedVersion: plan.expectedVersion,
    };
    return {
      plan,
      planHash: plan.planHash,
      planSummary: `set ${key}: ${JSON.stringify(plan.currentValue)} → ${JSON.stringify(plan.newValue)} (live version ${plan.live.version})`,
      planDetails: [
        { label: 'Key', value: key },
        { label: 'Current value', value: JSON.stringify(plan.currentValue) },
        { label: 'New value', value: JSON.stringify(plan.newValue) },
        { label: 'Why break-glass', value: detail.justification!.reason },
        ...(input.urgency ? [{ label: 'Why it cannot wait', value: input.urgency }] : []),
        ...(pairReview
          ? [{ label: 'Pair review required', value: `${pairReview.why}: a second operator must approve` }]
          : []),
      ],
      execute: (approval, verifyAfter) =>
        executeConsoleEdit({
          ...approval,
          incidentId: input.incidentId,
          ...keyFields,
          newValue: input.newValue,
          expectedFingerprint: plan.live.fingerprint,
          ...(verifyAfter ? { verifyAfter: verification } : {}),
        }),
      verify: (write) => verifyConsoleEdit({ ...verification, historyId: write.historyId }),
      summarise: (verification) => ({
        ok: verification.ok,
        problems: [...verification.liveRow.problems, ...verification.historyRow.problems],
      }),
      done: {
        outcome: 'edited',
        nonConformingOutcome: 'edited_non_conforming',
        notice: { kind: 'edit_done', label: `${key} set` },
        message: (write) =>
          `set ${key} to ${JSON.stringify(input.newValue)} (history row ${write.historyId})`,
      },
      obligations: {
        consoleRecovery: {
          probeInterval: policy.consoleProbeInterval,
          timeout: policy.consoleRecoveryTimeout,
        },
      },
    };
  },

  postMortem: ({ input, detail }) => ({
    procedure: 'B',
    rationale: `${input.rationale} (${detail.justification?.reason ?? ''})`,
    whatChanged: `${detail.key}: ${JSON.stringify(detail.plan?.currentValue)} → ${JSON.stringify(detail.plan?.newValue)}`,
    verificationLines: consoleEditVerificationLines(detail.verification),
  }),

  result: (run, end): BreakGlassConsoleEditResult => ({
    ...breakGlassResultBase(run, end),
    runbook: BREAK_GLASS_CONSOLE_EDIT,
    outcome: end.outcome as BreakGlassConsoleEditOutcome,
    key: run.detail.key,
    ...(run.detail.justification ? { justification: run.detail.justification } : {}),
  }),
});
