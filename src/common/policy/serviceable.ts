import type { ChannelType } from './notifications';
import type { Policy, RunbookName } from './index';

/** A runbook this policy cannot serve, and why (in words an operator can act on). */
export interface UnservedRunbook {
  runbook: RunbookName;
  reason: string;
}

/**
 * The runbooks whose policy sections name something the policy does not define (a tracker
 * channel). The worker says so at start; a run of one fails at its start with the reason,
 * rather than retrying "channel is not configured" while its deadlines pass.
 */
export function unservedRunbooks(policy: Policy): UnservedRunbook[] {
  const unserved: UnservedRunbook[] = [];
  const needs = (
    runbook: RunbookName,
    field: string,
    name: string,
    type: ChannelType,
    what: string,
  ): void => {
    const channel = policy.notifications.channels[name];
    if (channel?.type === type) return;
    unserved.push({
      runbook,
      reason: channel
        ? `runbooks.${runbook}.${field} names "${name}", a ${channel.type} channel; ${what} needs a channel of type "${type}"`
        : `runbooks.${runbook}.${field} names "${name}", which notifications.channels does not define; ${what} needs a channel of type "${type}"`,
    });
  };
  if (!policy.runbooks.incident)
    unserved.push({
      runbook: 'incident',
      reason: 'the policy has no runbooks.incident section (at least its "responders")',
    });
  const { backstop, releaseRollback } = policy.runbooks;
  if (!releaseRollback)
    unserved.push({
      runbook: 'releaseRollback',
      reason:
        'the policy has no runbooks.releaseRollback section (the helm release, the repository and the code check)',
    });
  else
    needs(
      'releaseRollback',
      'gitHubChannel',
      releaseRollback.gitHubChannel,
      'github',
      'the merge parent and the revert pull request',
    );
  needs(
    'backstop',
    'openProjectChannel',
    backstop.openProjectChannel,
    'openproject',
    'reading the Epic and commenting on work packages',
  );
  needs('backstop', 'gitHubChannel', backstop.gitHubChannel, 'github', 'the gate-failure search and issues');
  return unserved;
}

/** Why this policy cannot serve `runbook`, or undefined when it can. */
export function whyUnserved(policy: Policy, runbook: RunbookName): string | undefined {
  const reasons = unservedRunbooks(policy)
    .filter((entry) => entry.runbook === runbook)
    .map((entry) => entry.reason);
  return reasons.length ? reasons.join('; ') : undefined;
}
