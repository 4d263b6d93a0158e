import { formatDuration } from '../../common/duration';
import { readCurrentAllowlist } from './allowlist';
import type { PlannedPhase, ReenablementDryRun, ReenablementHolds, ReenablementResult } from './definitions';
import type { ReenablementRun } from './run';

/**
 * Plan only (`dryRun`): reads the allowlist, as the run would before its first change, and answers
 * with every step it would take from there — the soak before the canary, each phase's set and
 * hold, who approves phase 2, the watch for green — and the shortest time to recovered. No soak
 * job, no allowlist change, no alert rule, no approval asked; like a break-glass dry run it does
 * not read the change freezes (a real run does, before anything else).
 */
export async function planOnly(run: ReenablementRun, holds: ReenablementHolds): Promise<ReenablementResult> {
  const { input, detail, policy } = run;
  const read = await readCurrentAllowlist(run);
  if (read.kind !== 'done') return run.abortedAfterFailure(read, 'read_allowlist');
  const current = read.value;
  detail.reposLive = current;
  detail.lastGood = current;

  const phases: PlannedPhase[] = [];
  const add = (phase: PlannedPhase['phase'], adds: string[], holdMs: number, approvedBy?: string[]) =>
    phases.push({
      phase,
      adds,
      allowlist: [...(phases.at(-1)?.allowlist ?? current), ...adds],
      holdMs,
      ...(approvedBy ? { approvedBy } : {}),
    });
  add('canary', [input.canaryRepo], holds.canaryHold);
  add('phase2', input.phase2Repos, holds.phase2Hold, policy.approvers);
  for (let index = 0; index < input.remainingRepos.length; index += policy.reposPerDay)
    add('phase3', input.remainingRepos.slice(index, index + policy.reposPerDay), holds.batchHold);

  const stagingSoak: ReenablementDryRun['stagingSoak'] = !policy.stagingSoak
    ? { kind: 'none' }
    : input.stagingSoakWaiver
      ? { kind: 'waiver' }
      : { kind: 'soak', durationMs: policy.stagingSoak.duration };
  const soakMs = stagingSoak.kind === 'soak' ? stagingSoak.durationMs : 0;
  const shortestMs = soakMs + phases.reduce((sum, phase) => sum + phase.holdMs, 0) + policy.watchForGreen;
  detail.dryRun = { current, stagingSoak, phases, watchForGreenMs: policy.watchForGreen, shortestMs };

  const soakText = {
    none: 'no staging soak (the policy has none)',
    waiver: "the staging soak waived by an approver's signature",
    soak: `a ${formatDuration(soakMs)} staging soak`,
  }[stagingSoak.kind];
  const steps = phases.map(
    (phase) =>
      `${phase.approvedBy ? `approval (${phase.approvedBy.join(', ')}) → ` : ''}${phase.phase} +${phase.adds.join(',')} held ${formatDuration(phase.holdMs)}`,
  );
  return run.finish(
    'dry_run',
    `dry run from ${current.join(',') || '(empty)'}: ${soakText} → ${steps.join(' → ')} → watch for green ${formatDuration(policy.watchForGreen)}; ` +
      `at least ${formatDuration(shortestMs)} to recovered; nothing was changed`,
  );
}
