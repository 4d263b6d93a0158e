import { revertCommandArguments, type CheckpointName } from '../../common/backstop';
import { formatDuration, utcIso } from '../../common/duration';
import type { OpenedBackstopProgram } from '../../activities';
import type { BackstopDryRun, BackstopResult, PlannedCheckpoint } from './definitions';
import type { BackstopRun } from './run';
import { alreadyHadProgram } from './story-ledger';

/** What each checkpoint does when the Epic has not shipped (seed 001 §6.bis); a shipped Epic ends the program at any of them. */
const CHECKPOINT_ACTIONS: Record<CheckpointName, string> = {
  'T+30': 'Epic still New or childless → notice to the DRI and a decision request on the trackers',
  'T+60': 'no child past In progress → yellow flag and a self-review request',
  'T+90':
    'not shipped → [gate-failure] issue, the DRI paged, a decision asked (waiver 30 days / revert / park), asked again every decision window',
  'T+120': 'only after a T+90 waiver: still not shipped → mandatory revert',
};

/**
 * Plan only (`dryRun`): with the story's program read from the policy, as the run would before
 * claiming its story, answers with the checkpoints' instants (those already past are evaluated at
 * once, marked late), what each reads and does, who decides and how a revert is carried out.
 * Nothing is claimed in the story ledger, no timer is slept on, nothing is sent or written.
 */
export function planOnly(run: BackstopRun, opened: OpenedBackstopProgram): Promise<BackstopResult> {
  const { input, policy, program, detail } = run;
  const nowMs = Date.now();
  const checkpoints: PlannedCheckpoint[] = run.schedule.map((checkpoint) => ({
    name: checkpoint.name,
    at: utcIso(checkpoint.atMs),
    late: checkpoint.atMs <= nowMs,
    does: CHECKPOINT_ACTIONS[checkpoint.name],
  }));
  const revert = policy.releaseRollbackServed
    ? 'the releaseRollback runbook as a child (helm tag pin, else merge revert)'
    : policy.revertCommand
      ? `the policy's revert command: ${revertCommandArguments(policy.revertCommand.command, input.storyId, input.mergeSha).join(' ')}`
      : 'no revert mechanism in the policy: the [revert] issue only, the revert done by hand';
  const search = run.search;
  detail.dryRun = {
    dri: run.dri,
    deciders: run.deciders,
    checkpoints,
    reads: {
      openProject: {
        channel: policy.openProjectChannel,
        epicId: program.openProject.epicId,
        storyWorkPackageId: program.openProject.storyWorkPackageId,
      },
      gitHub: {
        channel: policy.gitHubChannel,
        repository: program.github.repository,
        label: program.github.gateFailureLabel,
        search,
      },
      consoleRestoreProbeUrl: program.consoleRestoreProbeUrl,
    },
    revert,
    decisionWindowMs: policy.decisionWindow,
  };
  const storyLedger = ledgerForecast(run, opened);
  if (storyLedger) detail.dryRun.storyLedger = storyLedger;
  const late = checkpoints.filter((checkpoint) => checkpoint.late).map((checkpoint) => checkpoint.name);
  return run.finish(
    'dry_run',
    `dry run of ${input.storyId} (merge ${input.mergeSha.slice(0, 7)}): ` +
      `${checkpoints.map((checkpoint) => `${checkpoint.name} ${checkpoint.at}`).join(', ')}` +
      `${late.length ? ` (${late.join(', ')} past: evaluated at once, marked late)` : ''}; ` +
      `DRI ${run.dri}; reads wp#${program.openProject.epicId}'s children, ${program.github.repository} issues labelled ${program.github.gateFailureLabel} matching "${search}", ${program.consoleRestoreProbeUrl}; ` +
      `T+90 decision asked again every ${formatDuration(policy.decisionWindow)}; a revert runs ${revert}; nothing was claimed, sent or written` +
      (storyLedger ? `. Story ledger: ${storyLedger.says}` : ''),
  );
}

/** What the real start's claim of the story would meet (absent: a dry run that did not read it). */
function ledgerForecast(
  run: BackstopRun,
  { ledger, ledgerFailed }: OpenedBackstopProgram,
): BackstopDryRun['storyLedger'] {
  const { storyId, reopen } = run.input;
  if (ledgerFailed !== undefined)
    return {
      state: 'unread',
      error: ledgerFailed,
      says: `not read (${ledgerFailed}): whether the start needs a reopen is not known`,
    };
  if (!ledger) return undefined;
  const { previous, waiverUsed } = ledger;
  const waiver = waiverUsed
    ? `; the story's waiver was used by ${waiverUsed.by} at ${waiverUsed.at}: no T+90 waiver can be granted`
    : '';
  const known = { ...(previous ? { previous } : {}), ...(waiverUsed ? { waiverUsed } : {}) };
  if (!previous)
    return {
      state: 'first_program',
      ...known,
      says: `no earlier program: the start claims ${storyId}${waiver}`,
    };
  if (reopen)
    return {
      state: 'reopen_recorded',
      ...known,
      says: `the start would record the reopen by ${reopen.by} after ${previous.workflowId} (run ${previous.runId})${waiver}`,
    };
  return {
    state: 'reopen_needed',
    ...known,
    says: `the real start would be REFUSED: ${alreadyHadProgram(storyId, previous)}${waiver}`,
  };
}
