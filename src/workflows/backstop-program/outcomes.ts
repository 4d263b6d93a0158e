import { proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { commandOnce, notification } from '../activity-options';
import { describeFailure } from '../shared/notices';
import type { BackstopResult, CheckpointEvidence } from './definitions';
import type { BackstopRun } from './run';

const trackers = proxyActivities<RunbookActivities>(notification);
const { runRevertCommand } = proxyActivities<RunbookActivities>(commandOnce);

/** How a backstop program ends when the evidence or a decision says so: shipped, or reverted. */

export async function shipped(run: BackstopRun, evidence: CheckpointEvidence): Promise<BackstopResult> {
  const { input, notices, dri, tag, policy } = run;
  const message = `Epic wp#${input.openProject.epicId} shipped at ${evidence.checkpoint} (a ${policy.shippedStatus} child and the Console restore live at ${evidence.probe?.checkedAt})`;
  await run.comment(
    `shipped-${evidence.checkpoint}`,
    `**Backstop ${input.storyId}: ${message}.** Program complete.`,
  );
  notices.send({
    kind: 'backstop_shipped',
    severity: 'info',
    audience: 'owner',
    recipients: [dri],
    subject: `${tag} Epic shipped at ${evidence.checkpoint}: backstop complete`,
    body: message,
  });
  return run.finish('shipped', message);
}

/** Revert (decided at T+90, or mandatory at T+120): page, revert issue, the policy's command. */
export async function revert(run: BackstopRun, why: string, mandatory: boolean): Promise<BackstopResult> {
  const { input, record, detail, notices, dri, tag, policy, workflowId } = run;
  const gh = policy.gitHubChannel;
  record.enterStep('revert', why);
  notices.send({
    kind: mandatory ? 'backstop_mandatory_revert' : 'backstop_revert',
    severity: 'critical',
    audience: 'owner',
    recipients: [dri],
    page: { action: 'trigger', dedupKey: `${workflowId}/revert` },
    subject: `${tag} ${mandatory ? 'MANDATORY REVERT' : 'revert'} of ${input.mergeSha.slice(0, 7)}`,
    body: why,
  });
  try {
    const issue = await trackers.createGitHubIssue({
      channel: gh,
      repository: input.github.repository,
      title: `[revert] ${input.storyId}: revert ${input.mergeSha.slice(0, 7)}${mandatory ? ' (mandatory at T+120)' : ''}`,
      body: `${why}\n\nMerge: ${input.mergeSha} (${detail.mergedAt}). DRI: ${dri}.`,
      labels: ['revert', input.github.gateFailureLabel],
      deliveryKey: `${workflowId}/revert-issue`,
    });
    detail.revertIssue = { number: issue.number, url: issue.url };
  } catch (error) {
    record.flag('revert_issue_failed', `could not open the revert issue: ${describeFailure(error)}`);
  }
  if (policy.revertCommand) {
    try {
      const command = await runRevertCommand({
        story: input.storyId,
        sha: input.mergeSha,
        deliveryKey: `${workflowId}/revert-command`,
      });
      detail.revertCommand = {
        ok: command.ok,
        exitCode: command.exitCode,
        detail: (command.ok ? command.stdoutTail : command.stderrTail) || `exit ${command.exitCode}`,
      };
      if (!command.ok)
        record.flag('revert_command_failed', `the revert command failed: ${detail.revertCommand.detail}`);
    } catch (error) {
      // One attempt only: a run cut short (worker lost) is reported, never repeated blindly.
      detail.revertCommand = { ok: false, exitCode: null, detail: describeFailure(error) };
      record.flag(
        'revert_command_unknown',
        `the revert command did not report back: ${describeFailure(error)}; check by hand`,
      );
    }
  }
  await run.comment(
    'revert',
    `**Backstop ${input.storyId}: ${mandatory ? 'mandatory revert (T+120)' : 'revert'}.** ${why}`,
    true,
  );
  return run.finish(
    mandatory ? 'reverted_mandatory' : 'reverted',
    `${why}; revert issue ${detail.revertIssue ? `#${detail.revertIssue.number}` : '(not opened)'}${detail.revertCommand ? `; revert command ${detail.revertCommand.ok ? 'ran' : 'FAILED'}` : ''}`,
  );
}
