import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, proxyActivities, startChild } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { commandOnce, notification } from '../activity-options';
import { StepFailed } from '../shared/fail-safe';
import { describeFailure } from '../shared/notices';
import { isPatched, PATCHES } from '../shared/patches';
import { releaseRollbackWorkflowId } from '../release-rollback/ids';
import type { releaseRollback } from '../release-rollback/workflow';
import type { BackstopResult, CheckpointEvidence } from './definitions';
import { ProgramAborted, type BackstopRun } from './run';
import type { CancellationAnnouncement } from '../shared/cancellation';

const trackers = proxyActivities<RunbookActivities>(notification);
const { runRevertCommand } = proxyActivities<RunbookActivities>(commandOnce);

/** How a backstop program ends when the evidence or a decision says so: shipped, or reverted. */

export async function shipped(run: BackstopRun, evidence: CheckpointEvidence): Promise<BackstopResult> {
  const { input, notices, dri, tag, policy } = run;
  const message = `Epic wp#${run.program.openProject.epicId} shipped at ${evidence.checkpoint} (a ${policy.shippedStatus} child and the Console restore live at ${evidence.probe?.checkedAt})`;
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

/**
 * A cancellation of the program is told to its DRI and on the story's work package; decisions
 * received are written down and the end is kept in the story's ledger, as for any other end.
 */
export function cancellation(run: BackstopRun): CancellationAnnouncement {
  return {
    ...run.failSafe.cancellation(),
    audience: 'owner',
    finish: async (summary) => {
      try {
        await run.comment(
          'cancelled',
          `**Backstop ${run.input.storyId}: ${summary}.** No further checkpoint.`,
        );
        await run.finish('cancelled', summary);
      } catch (error) {
        if (!(error instanceof ProgramAborted)) throw error;
        run.record.finish('cancelled', `${summary}; ${error.message}`);
      }
    },
  };
}

/** Revert (decided at T+90, or mandatory at T+120): page, revert issue, the policy's command. */
export async function revert(run: BackstopRun, why: string, mandatory: boolean): Promise<BackstopResult> {
  const { input, record, detail, notices, dri, tag, workflowId } = run;
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
  const guarded = isPatched(PATCHES.backstopFailSafe);
  await openRevertIssue(run, why, mandatory, guarded);
  if (run.policy.releaseRollbackServed && isPatched(PATCHES.backstopReleaseRollback))
    await runReleaseRollback(run, why, mandatory);
  else if (run.policy.revertCommand) await runRevert(run, guarded);
  await run.comment(
    'revert',
    `**Backstop ${input.storyId}: ${mandatory ? 'mandatory revert (T+120)' : 'revert'}.** ${why}`,
    true,
  );
  const command = detail.revertCommand;
  const child = detail.releaseRollback;
  return run.finish(
    mandatory ? 'reverted_mandatory' : 'reverted',
    `${why}; revert issue ${detail.revertIssue ? `#${detail.revertIssue.number}` : '(not opened)'}${command ? `; revert command ${command.ok ? 'ran' : command.skipped ? 'failed, done by hand' : 'FAILED'}` : ''}${child ? `; release rollback ${child.workflowId}: ${child.outcome ?? child.state}` : ''}`,
  );
}

/** The [revert] issue, once (its delivery key makes a retry find it). */
async function openRevertIssue(
  run: BackstopRun,
  why: string,
  mandatory: boolean,
  guarded: boolean,
): Promise<void> {
  const { input, record, detail, dri, policy, workflowId } = run;
  const open = () =>
    trackers.createGitHubIssue({
      channel: policy.gitHubChannel,
      repository: run.program.github.repository,
      title: `[revert] ${input.storyId}: revert ${input.mergeSha.slice(0, 7)}${mandatory ? ' (mandatory at T+120)' : ''}`,
      body: `${why}\n\nMerge: ${input.mergeSha} (${detail.mergedAt}). DRI: ${dri}.`,
      labels: ['revert', run.program.github.gateFailureLabel],
      deliveryKey: `${workflowId}/revert-issue`,
    });
  if (guarded) {
    const issue = await run.guarded(
      {
        name: 'revert_issue',
        what: 'open the [revert] issue on GitHub',
        skip: 'go on without the issue (open it by hand)',
      },
      open,
    );
    if (issue) detail.revertIssue = { number: issue.number, url: issue.url };
    return;
  }
  try {
    const issue = await open();
    detail.revertIssue = { number: issue.number, url: issue.url };
  } catch (error) {
    record.flag('revert_issue_failed', `could not open the revert issue: ${describeFailure(error)}`);
  }
}

/** The policy's revert command: one attempt per decision, never repeated blindly. */
async function runRevert(run: BackstopRun, guarded: boolean): Promise<void> {
  const { input, record, detail, workflowId } = run;
  const once = async () => {
    const ran = await runRevertCommand({
      story: input.storyId,
      sha: input.mergeSha,
      deliveryKey: `${workflowId}/revert-command`,
    });
    detail.revertCommand = {
      ok: ran.ok,
      exitCode: ran.exitCode,
      detail: (ran.ok ? ran.stdoutTail : ran.stderrTail) || `exit ${ran.exitCode}`,
    };
    return ran;
  };
  if (guarded) {
    // A failed or cut-short command waits for the DRI: retry (after checking), or skip = done by hand.
    const ran = await run.guarded(
      {
        name: 'revert_command',
        what: `run the revert command for ${input.mergeSha.slice(0, 7)}`,
        skip: 'the revert was done by hand',
      },
      async () => {
        const result = await once();
        if (!result.ok) throw new StepFailed(`the revert command failed: ${detail.revertCommand!.detail}`);
        return result;
      },
    );
    if (!ran)
      detail.revertCommand = {
        ok: false,
        exitCode: null,
        detail: 'not run',
        ...detail.revertCommand,
        skipped: true,
      };
    return;
  }
  try {
    const ran = await once();
    if (!ran.ok)
      record.flag('revert_command_failed', `the revert command failed: ${detail.revertCommand!.detail}`);
  } catch (error) {
    // One attempt only: a run cut short (worker lost) is reported, never repeated blindly.
    detail.revertCommand = { ok: false, exitCode: null, detail: describeFailure(error) };
    record.flag(
      'revert_command_unknown',
      `the revert command did not report back: ${describeFailure(error)}; check by hand`,
    );
  }
}

/**
 * Seed 001 §5 through the releaseRollback runbook (helm tag pin, else merge revert), as a child the
 * program waits for. Its own failures wait for a human there; a child that fails anyway waits for
 * the DRI here (retry starts it again, skip = the revert was done by hand).
 */
async function runReleaseRollback(run: BackstopRun, why: string, mandatory: boolean): Promise<void> {
  const { input, detail, dri } = run;
  const workflowId = releaseRollbackWorkflowId(input.storyId, input.mergeSha);
  await run.guarded(
    {
      name: 'release_rollback',
      what: `roll back the release of ${input.mergeSha.slice(0, 7)} (${workflowId})`,
      skip: 'the release was rolled back by hand',
    },
    async () => {
      let child;
      try {
        // By name: a programme's run does not load the release rollback's modules (bundle-entry.ts).
        child = await startChild<typeof releaseRollback>('releaseRollback', {
          workflowId,
          args: [
            {
              storyId: input.storyId,
              mergeSha: input.mergeSha,
              requestedBy: dri,
              reason: `${mandatory ? 'Mandatory revert at T+120' : 'Revert decided at T+90'}: ${why}`,
            },
          ],
          parentClosePolicy: ParentClosePolicy.ABANDON,
        });
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
        // Someone started it already (CLI or UI): that run is the rollback; it is followed there.
        detail.releaseRollback = { workflowId, state: 'already_running' };
        return;
      }
      detail.releaseRollback = { workflowId, runId: child.firstExecutionRunId, state: 'running' };
      try {
        const result = await child.result();
        detail.releaseRollback = {
          ...detail.releaseRollback,
          state: 'completed',
          outcome: result.outcome,
          message: result.message,
        };
        if (result.outcome !== 'pinned' && result.outcome !== 'reverted_by_merge')
          run.record.flag(
            'release_rollback_not_done',
            `${workflowId} ended ${result.outcome}: ${result.message}; the release is NOT rolled back`,
          );
      } catch (error) {
        detail.releaseRollback = {
          ...detail.releaseRollback,
          state: 'failed',
          message: describeFailure(error),
        };
        throw error;
      }
    },
  );
}
