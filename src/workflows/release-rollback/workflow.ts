import { ActivityFailure, condition, proxyActivities, sleep } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { formatDuration, utcIso } from '../../common/duration';
import { helmPinArguments } from '../../common/helm-pin';
import { helmUpgrade, kubectlRead, notification, policyRead } from '../activity-options';
import { refusedByChangeFreeze } from '../shared/change-freeze';
import { StepFailed, type StepOutcome } from '../shared/fail-safe';
import { announcingCancellation } from '../shared/cancellation';
import { parseWorkflowInput, servedSection } from '../shared/input';
import { describeFailure } from '../shared/notices';
import { PATCHES } from '../shared/patches';
import {
  releaseRollbackInputSchema,
  type ReleaseRollbackDryRun,
  type ReleaseRollbackInput,
  type ReleaseRollbackResult,
} from './definitions';
import { ReleaseRollbackRun } from './run';

const { loadRunbookPolicy } = proxyActivities<RunbookActivities>(policyRead);
const { gitHubMergeParent, openGitHubRevertPullRequest, readGitHubPullRequest } =
  proxyActivities<RunbookActivities>(notification);
const { pinHelmImageTag } = proxyActivities<RunbookActivities>(helmUpgrade);
const { verifyReleaseCode } = proxyActivities<RunbookActivities>(kubectlRead);

/** While the pinned release rolls out: how often the running code is checked. */
const PIN_CHECK_EVERY_MS = 15_000;

/**
 * Seed 001 §5, the binary-layer rollback of a merge: the helm tag pin to the merge's first parent
 * (no code change, verified with `kubectl exec … grep`, < 5 min); when the pin fails or is not
 * verified in time, the merge revert (a revert PR through the GitHub API, then CI deploys it;
 * verified the same way, < 30 min). Each clock runs from its mechanism's start to the old code
 * verified running. Failures wait for a human (retry / abort); a missed target pages and the run
 * keeps waiting for the revert to land.
 */
export async function releaseRollback(rawInput: ReleaseRollbackInput): Promise<ReleaseRollbackResult> {
  const input = parseWorkflowInput(releaseRollbackInputSchema(), rawInput, 'releaseRollback input');
  const run = new ReleaseRollbackRun(input);
  return announcingCancellation(run, () => rollBack(run));
}

/** The mechanism the input names, each clock to the old code verified running. */
async function rollBack(run: ReleaseRollbackRun): Promise<ReleaseRollbackResult> {
  const { input, record } = run;

  record.enterStep('load_policy', 'reading the worker policy');
  const snapshot = await loadRunbookPolicy({ runbook: 'releaseRollback' });
  run.configure(snapshot, servedSection('releaseRollback', snapshot));
  if (input.dryRun) return planOnly(run);
  run.notify(
    'release_rollback_started',
    'info',
    `rolling back ${input.mergeSha.slice(0, 7)}`,
    `${input.reason}\nAsked by ${run.requester}; mechanism: ${input.mechanism}.`,
  );

  const frozen = await refusedByChangeFreeze({
    record,
    failSafe: run.failSafe,
    override: input.freezeOverride,
  });
  if (frozen)
    return run.finish(frozen.kind === 'aborted' ? 'aborted' : 'refused_change_freeze', frozen.message);

  if (input.mechanism === 'helm_pin_then_merge_revert') {
    const tag = await pinTag(run);
    if (tag === undefined) return aborted(run, 'while the pin tag could not be read');
    const pinned = await helmPin(run, tag);
    if (pinned === 'aborted') return aborted(run, 'while the pinned release could not be checked');
    if (pinned === 'pinned') {
      const pin = run.detail.helmPin!;
      return run.finish(
        'pinned',
        `${run.policy.helm.release} pinned to ${tag} and the old code verified in ${formatDuration(pin.actualMs!)} (target < ${formatDuration(pin.targetMs)})`,
      );
    }
  }
  return mergeRevert(run);
}

/**
 * Plan only (`dryRun`): reads the tag to pin (the merge's first parent on GitHub, unless the input
 * names one) and answers with what each mechanism would run, from the policy; no notice, no helm
 * upgrade, no pull request. Like every dry run it does not read the change freezes.
 */
async function planOnly(run: ReleaseRollbackRun): Promise<ReleaseRollbackResult> {
  const { input, policy, detail } = run;
  const pins = input.mechanism === 'helm_pin_then_merge_revert';
  const tag = pins ? await pinTag(run) : undefined;
  if (pins && tag === undefined) return aborted(run, 'while the pin tag could not be read');
  const plan: ReleaseRollbackDryRun = {
    mechanism: input.mechanism,
    ...(tag !== undefined
      ? {
          helmPin: {
            kubeContext: policy.kubeContext,
            namespace: policy.namespace,
            release: policy.helm.release,
            chart: policy.helm.chart,
            set: `${policy.helm.imageTagKey}=${tag}`,
            tagFrom: detail.pinTagFrom!,
            targetMs: policy.targets.helmPin,
          },
        }
      : {}),
    verify: policy.verify,
    mergeRevert: {
      repository: policy.repository,
      mergeSha: input.mergeSha,
      targetMs: policy.targets.mergeRevert,
    },
  };
  detail.dryRun = plan;
  const { verify, mergeRevert, helmPin } = plan;
  const check = `kubectl exec deployment/${verify.deployment} -- grep -c -F -e '${verify.pattern}' ${verify.file} (the old code: ${verify.expect})`;
  const revert = `the revert PR of ${input.mergeSha.slice(0, 7)}'s pull request in ${mergeRevert.repository} (target ${formatDuration(mergeRevert.targetMs)})`;
  return run.finish(
    'dry_run',
    `dry run: ${
      helmPin && tag !== undefined
        ? `helm ${helmPinArguments(policy, tag).join(' ')} (tag from ${helmPin.tagFrom === 'input' ? 'the input' : "the merge's first parent"}, target ${formatDuration(helmPin.targetMs)}), then ${check}; if the pin does not hold, ${revert}`
        : `${revert}, then ${check}`
    }; nothing was changed`,
  );
}

async function aborted(run: ReleaseRollbackRun, when: string): Promise<ReleaseRollbackResult> {
  const decision = run.abortRequested;
  return run.finish(
    'aborted',
    `aborted${decision ? ` by ${decision.by}: ${decision.reason}` : ''} ${when}; ${run.account()}`,
  );
}

/** The tag to pin: the input's, else the merge's first parent (the code just before the merge). */
async function pinTag(run: ReleaseRollbackRun): Promise<string | undefined> {
  const { input, detail, policy, record } = run;
  if (input.pinTag) {
    detail.pinTag = input.pinTag;
    detail.pinTagFrom = 'input';
    return input.pinTag;
  }
  record.enterStep('read_merge_parent', `reading the first parent of ${input.mergeSha} on GitHub`);
  const parent = await run.failSafe.step(
    { name: 'read_merge_parent', what: `read the first parent of ${input.mergeSha.slice(0, 7)} on GitHub` },
    () =>
      gitHubMergeParent({
        channel: policy.gitHubChannel,
        repository: policy.repository,
        sha: input.mergeSha,
      }),
  );
  if (parent.kind !== 'done') {
    run.stoppedBy(parent);
    return undefined;
  }
  detail.pinTag = parent.value.sha.slice(0, policy.helm.tagLength);
  detail.pinTagFrom = 'merge_parent';
  return detail.pinTag;
}

/**
 * Mechanism 2: pin, then check the running code until it is the old one or the target has passed.
 * A failed upgrade, or old code not running by the target, falls back to the merge revert (the
 * seed's more thorough fallback) and pages; a check that cannot be made waits for a human.
 */
async function helmPin(run: ReleaseRollbackRun, tag: string): Promise<'pinned' | 'fallback' | 'aborted'> {
  const { record, policy } = run;
  const startedMs = Date.now();
  const dueMs = startedMs + policy.targets.helmPin;
  const pin: NonNullable<typeof run.detail.helmPin> = (run.detail.helmPin = {
    state: 'pinning',
    startedAt: utcIso(startedMs),
    targetMs: policy.targets.helmPin,
  });
  record.setDeadline('helm_pin', dueMs);
  record.enterStep(
    'helm_pin',
    `helm upgrade ${policy.helm.release} --set-string ${policy.helm.imageTagKey}=${tag}`,
  );
  const fallBack = (why: string): 'fallback' => {
    pin.state = 'failed';
    pin.error = why;
    pin.actualMs = Date.now() - startedMs;
    pin.met = false;
    record.resolveDeadline('helm_pin', 'missed');
    record.flag('helm_pin_failed', `${why}; falling back to the merge revert`);
    run.notify(
      'release_rollback_pin_failed',
      'critical',
      'helm tag pin did not hold: merge revert next',
      `${why}.\nThe revert pull request is opened now (seed 001 §5: the more thorough fallback).`,
    );
    return 'fallback';
  };
  try {
    pin.pin = await pinHelmImageTag({ tag, deliveryKey: `${record.status.workflowId}/helm-pin/${tag}` });
  } catch (error) {
    if (!(error instanceof ActivityFailure)) throw error;
    return fallBack(`the helm upgrade failed: ${describeFailure(error)}`);
  }
  pin.state = 'verifying';
  record.enterStep('verify_pin', `checking that deployment/${policy.verify.deployment} runs the old code`);
  for (;;) {
    // A check that fails for good is not an answer: a human says retry, fall back, or abort.
    const checked = await run.failSafe.step(
      {
        name: 'verify_pin',
        what: `check that deployment/${policy.verify.deployment} runs the old code`,
        skip: 'fall back to the merge revert',
      },
      () => verifyReleaseCode(),
    );
    if (checked.kind === 'aborted') {
      run.stoppedBy(checked);
      return 'aborted';
    }
    if (checked.kind === 'skipped') return fallBack(`the pin's check was skipped by ${checked.by}`);
    pin.check = checked.value;
    if (pin.check.oldCodeRunning) break;
    const leftMs = dueMs - Date.now();
    if (leftMs <= 0)
      return fallBack(
        `after ${formatDuration(Date.now() - startedMs)} deployment/${policy.verify.deployment} ${pin.check.rolledOut ? `runs ${pin.check.image}, whose code is not the old one` : 'has not rolled out'}`,
      );
    await sleep(Math.min(PIN_CHECK_EVERY_MS, leftMs));
  }
  pin.state = 'verified';
  pin.actualMs = Date.now() - startedMs;
  pin.met = pin.actualMs <= pin.targetMs;
  record.resolveDeadline('helm_pin', pin.met ? 'met' : 'missed');
  if (!pin.met)
    record.flag(
      'target_helm_pin_missed',
      `the pin took ${formatDuration(pin.actualMs)} (target < ${formatDuration(pin.targetMs)})`,
    );
  run.notify(
    'release_rollback_done',
    'info',
    `pinned to ${tag}: old code running`,
    `${pin.check.command} → ${pin.check.matches ?? 0} line(s) (${policy.verify.expect} expected); ${formatDuration(pin.actualMs)}.`,
  );
  return 'pinned';
}

/** Mechanism 1: the revert PR, then wait for it to merge and for CI to deploy the old code. */
async function mergeRevert(run: ReleaseRollbackRun): Promise<ReleaseRollbackResult> {
  const { record, policy, input, failSafe } = run;
  const startedMs = Date.now();
  const revert: MergeRevert = (run.detail.mergeRevert = {
    state: 'opening',
    startedAt: utcIso(startedMs),
    targetMs: policy.targets.mergeRevert,
    polls: 0,
  });
  record.setDeadline('merge_revert', startedMs + revert.targetMs);
  record.enterStep(
    'open_revert_pr',
    `opening the revert of ${input.mergeSha.slice(0, 7)} on ${policy.repository}`,
  );
  const opened = await failSafe.step(
    { name: 'open_revert_pr', what: `open the revert pull request of ${input.mergeSha.slice(0, 7)}` },
    () =>
      openGitHubRevertPullRequest({
        channel: policy.gitHubChannel,
        repository: policy.repository,
        mergeSha: input.mergeSha,
        title: `Revert ${input.mergeSha.slice(0, 7)} (${input.storyId})`,
        body: `${input.reason}\n\nRelease rollback ${record.status.workflowId}, asked by ${run.requester} (seed 001 §5: merge revert < 30 min).`,
        deliveryKey: `${record.status.workflowId}/revert-pr`,
      }),
  );
  if (opened.kind !== 'done') {
    run.stoppedBy(opened);
    return aborted(run, 'before a revert PR was opened');
  }
  const pr = opened.value;
  revert.pullRequest = { number: pr.number, url: pr.url, reverts: pr.reverts };
  revert.state = 'awaiting_merge';
  record.enterStep(
    'awaiting_revert',
    `revert PR #${pr.number} (${pr.url}) opened: waiting for it to merge and deploy`,
  );
  if (!(await awaitRevertDeployed(run, revert, startedMs)))
    return aborted(run, `while revert PR #${pr.number} was ${revert.state}`);
  revert.actualMs = Date.now() - startedMs;
  revert.met = revert.actualMs <= revert.targetMs;
  if (!revert.overdue) record.resolveDeadline('merge_revert', revert.met ? 'met' : 'missed');
  // The old code runs: the pages about the pin that did not hold and the overdue revert are answered.
  run.notices.resolveAnswered(
    ['release_rollback_pin_failed', 'release_rollback_overdue'],
    PATCHES.releaseRollbackPagesResolved,
    `merge revert PR #${pr.number} deployed: old code running`,
    run.tag,
  );
  run.notify(
    'release_rollback_done',
    'info',
    `merge revert deployed: old code running`,
    `Revert PR #${pr.number} merged and deployed in ${formatDuration(revert.actualMs)} (target < ${formatDuration(revert.targetMs)}).`,
  );
  return run.finish(
    'reverted_by_merge',
    `revert PR #${pr.number} merged and the old code verified in ${formatDuration(revert.actualMs)} (target < ${formatDuration(revert.targetMs)}${revert.met ? '' : ': MISSED'})`,
  );
}

type MergeRevert = NonNullable<ReleaseRollbackRun['detail']['mergeRevert']>;

/**
 * Reads the PR every poll interval until merged, then the running code until it is the old one.
 * Past the target it pages once and goes on checking; an abort (or a failed read aborted by a
 * human) ends the wait with the state it reached (false).
 */
async function awaitRevertDeployed(
  run: ReleaseRollbackRun,
  revert: MergeRevert,
  startedMs: number,
): Promise<boolean> {
  const { record, policy, failSafe } = run;
  const pr = revert.pullRequest!;
  const dueMs = startedMs + revert.targetMs;
  const stopped = (outcome: StepOutcome<unknown>): boolean => {
    if (outcome.kind === 'done') return false;
    run.stoppedBy(outcome);
    return true;
  };
  for (;;) {
    revert.polls += 1;
    if (revert.state === 'awaiting_merge') {
      const read = await failSafe.step(
        { name: 'read_revert_pr', what: `read revert PR #${pr.number}` },
        async () => {
          const state = await readGitHubPullRequest({
            channel: policy.gitHubChannel,
            repository: policy.repository,
            number: pr.number,
          });
          revert.lastRead = state;
          if (state.state === 'closed' && !state.merged)
            throw new StepFailed(`revert PR #${pr.number} was closed without merging`);
          return state;
        },
      );
      if (stopped(read)) return false;
      if (read.kind === 'done' && read.value.merged) {
        revert.state = 'awaiting_deploy';
        record.enterStep(
          'awaiting_deploy',
          `revert PR #${pr.number} merged: waiting for CI to deploy the old code`,
        );
      }
    }
    if (revert.state === 'awaiting_deploy') {
      const checked = await failSafe.step(
        {
          name: 'verify_revert',
          what: `check that deployment/${policy.verify.deployment} runs the old code`,
        },
        () => verifyReleaseCode(),
      );
      if (stopped(checked)) return false;
      if (checked.kind === 'done') {
        revert.check = checked.value;
        if (checked.value.oldCodeRunning) {
          revert.state = 'verified';
          return true;
        }
      }
    }
    if (!revert.overdue && Date.now() >= dueMs) pageOverdue(run, revert, startedMs);
    const waitMs = revert.overdue ? policy.pollInterval : Math.min(policy.pollInterval, dueMs - Date.now());
    if (await condition(() => run.abortRequested !== undefined, waitMs)) return false;
  }
}

function pageOverdue(run: ReleaseRollbackRun, revert: MergeRevert, startedMs: number): void {
  const { record, policy } = run;
  const pr = revert.pullRequest!;
  revert.overdue = true;
  record.resolveDeadline('merge_revert', 'missed');
  record.flag(
    'target_merge_revert_missed',
    `the merge revert is not deployed after ${formatDuration(Date.now() - startedMs)} (target < ${formatDuration(revert.targetMs)})`,
  );
  run.notify(
    'release_rollback_overdue',
    'critical',
    `merge revert not deployed within ${formatDuration(revert.targetMs)}`,
    `Revert PR #${pr.number} (${pr.url}) is ${revert.state === 'awaiting_merge' ? 'not merged' : 'merged but the old code is not running yet'}. The run keeps checking every ${formatDuration(policy.pollInterval)}; abort: signal "abort" {"by":"@you","reason":"…"}.`,
  );
}
