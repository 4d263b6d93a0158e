import { formatDuration } from '../../common/duration';
import { isMajor } from '../../common/incident';
import type { IncidentDryRun } from './definitions';
import type { IncidentRun } from './run';

/**
 * Plan only (`dryRun`, a game day's rehearsal): what declaring this incident would do under the
 * worker's policy — who is paged, what is frozen, kept and posted, the clocks that would run.
 * Nothing is sent, frozen, kept or posted; returns the message the run ends `dry_run` with.
 */
export function planOnly(run: IncidentRun, paged: string[]): string {
  const { input, detail } = run;
  const policy = run.policy!;
  const major = isMajor(input.severity);
  const breach = input.conditions.includes('data_breach');
  const plan: IncidentDryRun = {
    commander: detail.commander.handle,
    paged,
    ...(major ? { freeze: detail.environment } : {}),
    preserve: major,
    ...(input.customersAffected
      ? {
          statusPage: policy.statusPage ? { service: policy.statusPage.service } : { missing: true as const },
        }
      : {}),
    ...(input.severity === 'P0'
      ? { commanderAck: { withinMs: policy.commanderAckWithin, repageEveryMs: policy.commanderRepageEvery } }
      : {}),
    ...(major
      ? { updates: { everyMs: policy.updateEvery, firstStepsWithinMs: policy.firstStepsWithin } }
      : {}),
    ...(breach
      ? { breach: { notifyWithinMs: policy.breachNotifyWithin, recipients: run.breachRecipients() } }
      : {}),
    reviewWithinBusinessDays: policy.reviewWithinBusinessDays,
  };
  detail.dryRun = plan;
  const parts = [
    `IC ${plan.commander} told`,
    plan.paged.length ? `paged: ${plan.paged.join(', ')}` : 'nobody paged by the conditions',
    plan.commanderAck &&
      `IC acknowledges within ${formatDuration(plan.commanderAck.withinMs)} (paged every ${formatDuration(plan.commanderAck.repageEveryMs)})`,
    plan.freeze && `${plan.freeze} frozen`,
    plan.preserve && 'logs, metrics and a database reference kept',
    plan.statusPage &&
      ('missing' in plan.statusPage
        ? 'no status page in the policy (flagged: post by hand)'
        : `status page incident on ${plan.statusPage.service}`),
    plan.updates &&
      `an update every ${formatDuration(plan.updates.everyMs)}, first steps within ${formatDuration(plan.updates.firstStepsWithinMs)}`,
    plan.breach &&
      `regulator notified within ${formatDuration(plan.breach.notifyWithinMs)} (${plan.breach.recipients.join(', ')})`,
    `review within ${plan.reviewWithinBusinessDays} business days of the resolution`,
  ].filter((part): part is string => typeof part === 'string');
  return `dry run of a ${input.severity}: ${parts.join('; ')}; nothing was sent, frozen or posted`;
}
