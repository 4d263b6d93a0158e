import { condition, proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { formatDuration, utcIso } from '../../common/duration';
import { metricsQuery } from '../activity-options';
import { describeFailure } from '../shared/notices';
import { isPatched, PATCHES } from '../shared/patches';
import { decide, type Decision } from './decision';
import type { RollbackOutcome } from './definitions';
import { runStep } from './guard';
import type { RollbackRun } from './run';

const { incidentMetrics } = proxyActivities<RunbookActivities>(metricsQuery);

export interface RollbackEnd {
  outcome: RollbackOutcome;
  message: string;
}

/** Seed 002 decision framework: the supplied facts and Prometheus → go, P2 triage, or NO-GO. */
export async function decideRollback(run: RollbackRun): Promise<Decision | RollbackEnd> {
  const { record, input, detail, notices, ic, tag, policy } = run;
  record.enterStep('decide', 'evaluating the decision framework (P1 / P2 / NO-GO)');
  let metrics;
  if (isPatched(PATCHES.rollbackMetricsNeedHuman)) {
    // Deciding without the metrics can turn a P1 into a quiet NO-GO: a human chooses.
    const read = await runStep(run, 'decide', async () => {
      metrics = await incidentMetrics({ window: '30m' });
    });
    if (read) return read;
    if (!metrics)
      record.event('metrics_unavailable', 'Prometheus unreadable; deciding on the supplied facts');
  } else {
    try {
      metrics = await incidentMetrics({ window: '30m' });
    } catch (error) {
      record.event(
        'metrics_unavailable',
        `Prometheus could not be queried: ${describeFailure(error)}; deciding on the supplied facts`,
      );
    }
  }
  const decision = decide({
    severity: input.severity,
    facts: input.facts,
    ...(metrics ? { metrics } : {}),
    thresholds: policy.decision,
    ...(isPatched(PATCHES.rollbackDecisionSeverity)
      ? { declared: { affectedRepos: input.affectedRepos } }
      : {}),
  });
  detail.decision = decision;
  record.noteStep(
    `${decision.verdict}${decision.level ? ` (${decision.level})` : ''}: ${decision.reasons.join('; ')}`,
  );
  // A drill records what the framework says of the live metrics and goes on to the plan.
  if (decision.verdict !== 'no_go' || input.drill) return decision;
  const message = `NO-GO: ${decision.reasons.join('; ')} — ${decision.alternative ?? ''}`;
  notices.send({
    kind: 'rollback_no_go',
    severity: 'info',
    audience: 'incident_commander',
    recipients: [ic],
    subject: `${tag} no rollback: ${decision.reasons[0]}`,
    body: message,
  });
  return { outcome: 'no_go', message };
}

/** P2: the 30-minute triage hold, then the IC confirms (go / cancel) within the confirmation window. */
export async function triageThenConfirm(
  run: RollbackRun,
  decision: Decision,
): Promise<RollbackEnd | undefined> {
  const { record, notices, ic, tag, policy } = run;
  const holdEndMs = Date.now() + policy.triageHold;
  record.setDeadline('triage_hold', holdEndMs);
  record.enterStep(
    'triage_hold',
    `P2: ${formatDuration(policy.triageHold)} triage hold until ${utcIso(holdEndMs)}, then ${ic} confirms (signal "confirmRollback")`,
  );
  notices.send({
    kind: 'rollback_triage',
    severity: 'warning',
    audience: 'incident_commander',
    recipients: [ic],
    subject: `${tag} P2: triage until ${utcIso(holdEndMs)}, then confirm the rollback`,
    body: `${decision.reasons.join('; ')}.\nAfter the hold, send "confirmRollback" {"by":"${ic}","decision":"go"|"cancel"}.`,
  });
  await condition(() => run.confirmation?.decision === 'cancel', policy.triageHold, {
    summary: `P2 triage hold until ${utcIso(holdEndMs)}`,
  });
  record.resolveDeadline('triage_hold', run.confirmation?.decision === 'cancel' ? 'cancelled' : 'met');
  if (!run.confirmation) {
    const dueMs = Date.now() + policy.confirmationTimeout;
    record.setDeadline('confirmation', dueMs);
    record.enterStep(
      'awaiting_confirmation',
      `waiting for ${ic} to confirm (go / cancel) by ${utcIso(dueMs)}`,
    );
    const answered = await condition(() => run.confirmation !== undefined, policy.confirmationTimeout, {
      summary: `IC confirmation by ${utcIso(dueMs)}`,
    });
    record.resolveDeadline('confirmation', answered ? 'met' : 'missed');
    if (!answered) {
      run.escalate(
        'rollback_confirmation_expired',
        'no confirmation after the triage hold',
        `No "confirmRollback" within ${formatDuration(policy.confirmationTimeout)}; nothing was rolled back.`,
        [ic],
      );
      return {
        outcome: 'confirmation_expired',
        message: `no confirmation within ${formatDuration(policy.confirmationTimeout)} after the triage hold; nothing was rolled back`,
      };
    }
  }
  if (run.confirmation?.decision === 'cancel') {
    const { by, note } = run.confirmation;
    return { outcome: 'cancelled', message: `rollback cancelled by ${by}${note ? `: ${note}` : ''}` };
  }
  return undefined;
}
