import { proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities, RunbookPolicySnapshot } from '../../activities';
import { formatDuration, parseDuration } from '../../common/duration';
import { REENABLEMENT_HOLD_FLOORS } from '../../common/seed-limits';
import { isPatched, PATCHES } from '../shared/patches';
import { policyRead } from '../activity-options';
import { refusedByChangeFreeze } from '../shared/change-freeze';
import { announcingCancellation } from '../shared/cancellation';
import { parseWorkflowInput, refuseCarryOnFreshStart } from '../shared/input';
import {
  phasedReenablementInputSchema,
  type PhasedReenablementInput,
  type ReenablementHolds as Holds,
  type ReenablementCarry,
  type ReenablementResult,
} from './definitions';
import { readCurrentAllowlist } from './allowlist';
import { planOnly } from './dry-run';
import { approvePhase2, enableRemaining, runPhase, watchForGreen } from './phases';
import { ReenablementRun } from './run';
import { soakInStaging } from './soak';

const { loadRunbookPolicy } = proxyActivities<RunbookActivities>(policyRead);

/** The policy's holds, or the input's overrides when they lie within the policy's bounds. */
function holdsFor(
  input: ReenablementRun['input'],
  snapshot: RunbookPolicySnapshot<'phasedReenablement'>,
): { holds: Holds } | { problems: string[] } {
  const policy = snapshot.runbook;
  const holds = { canaryHold: policy.canaryHold, phase2Hold: policy.phase2Hold, batchHold: policy.batchHold };
  const problems: string[] = [];
  // The seed's holds are floors for an override too (a test-only policy excepted).
  const floors =
    input.holdOverrides && Object.keys(input.holdOverrides).length > 0 && !snapshot.testOnlyShortDurations
      ? isPatched(PATCHES.reenablementHoldFloors)
        ? REENABLEMENT_HOLD_FLOORS
        : undefined
      : undefined;
  for (const [name, text] of Object.entries(input.holdOverrides) as [keyof Holds, string | undefined][]) {
    if (!text) continue;
    const ms = parseDuration(text)!;
    if (ms < policy.holdBounds.min || ms > policy.holdBounds.max) {
      problems.push(
        `holdOverrides.${name} ${text} is outside ${formatDuration(policy.holdBounds.min)}–${formatDuration(policy.holdBounds.max)}`,
      );
    } else if (floors && ms < floors[name]) {
      problems.push(
        `holdOverrides.${name} ${text} is shorter than the seed's ${formatDuration(floors[name])} (seed 002 §3)`,
      );
    } else holds[name] = ms;
  }
  if (input.pilotRepo !== snapshot.orchestrator.pilotRepo)
    problems.push(
      `pilotRepo ${input.pilotRepo} is not the policy's pilot (${snapshot.orchestrator.pilotRepo})`,
    );
  return problems.length ? { problems } : { holds };
}

/**
 * Phased re-enablement after a rollback to pilot: canary → 4 h hold with periodic analysis →
 * approval → +3 repos → 24 h hold → the rest 1–2 repos a day, each with its hold → watch for green
 * (10–15 min on the exit targets) → recovered. A failing analysis puts the allowlist back to the
 * last good set at once and notifies; an inconclusive one (no data) pauses for a human.
 */
export async function phasedReenablement(rawInput: PhasedReenablementInput): Promise<ReenablementResult> {
  const input = parseWorkflowInput(phasedReenablementInputSchema, rawInput, 'phasedReenablement input');
  const run = new ReenablementRun(input);
  refuseCarryOnFreshStart(
    'phasedReenablement input',
    input.continued,
    'the run itself when it continues as new (a run started with it would skip the canary)',
  );
  return announcingCancellation(run, () => reenable(run));
}

/** The phases, each with its hold and analysis (or, continued as new, the rest of phase 3). */
async function reenable(run: ReenablementRun): Promise<ReenablementResult> {
  const { input, record, detail } = run;
  record.enterStep('load_policy', 'reading the worker policy');
  const snapshot = await loadRunbookPolicy({ runbook: 'phasedReenablement' });
  run.configure(snapshot);
  if (input.continued) return continuePhase3(run, input.continued);
  const checked = holdsFor(input, snapshot);
  if ('problems' in checked) return run.finish('invalid_input', checked.problems.join('; '));
  const { holds } = checked;
  detail.holds = holds;
  if (input.dryRun) return planOnly(run, holds);
  const frozen = await refusedByChangeFreeze({
    record,
    failSafe: run.failSafe,
    override: input.freezeOverride,
    onCrossed: (incidentIds) => (run.crossedFreezes = incidentIds),
  });
  run.freezesReadAtMs = Date.now();
  if (frozen)
    return run.finish(
      frozen.kind === 'aborted' ? 'needs_human_aborted' : 'refused_change_freeze',
      frozen.message,
    );

  const read = await readCurrentAllowlist(run);
  if (read.kind !== 'done') return run.abortedAfterFailure(read, 'read_allowlist');
  const current = read.value;
  detail.reposLive = current;
  detail.lastGood = current;
  if (current.join(',') !== input.pilotRepo) {
    record.flag(
      'not_at_pilot_scope',
      `the allowlist is ${current.join(',') || '(empty)'}, not the pilot scope; phases add to it`,
    );
  }
  run.goodSets.push(current);

  const canarySet = [...current, input.canaryRepo];
  const soaked = await soakInStaging(
    run,
    [input.canaryRepo, ...input.phase2Repos, ...input.remainingRepos],
    canarySet,
  );
  if (soaked) return soaked;
  const phase1 = await runPhase(run, 'canary', 'phase_1_canary', canarySet, holds.canaryHold);
  if (phase1) return phase1;
  const phase2Set = [...canarySet, ...input.phase2Repos];
  const notApproved = await approvePhase2(run, phase2Set, holds.canaryHold);
  if (notApproved) return notApproved;
  const phase2 = await runPhase(run, 'phase2', 'phase_2', phase2Set, holds.phase2Hold);
  if (phase2) return phase2;
  return afterPhase3(run, await enableRemaining(run, phase2Set, holds.batchHold));
}

/** A continued run: phase 3 from where the previous run left it (no new canary, no new approval). */
async function continuePhase3(run: ReenablementRun, carry: ReenablementCarry): Promise<ReenablementResult> {
  run.record.event(
    'continued',
    `run ${carry.runsBefore + 1} of the programme started ${carry.programStartedAt}: ${carry.live.length} repos live, next batch from ${run.input.remainingRepos[carry.nextBatchIndex] ?? '(none)'}`,
  );
  return afterPhase3(
    run,
    await enableRemaining(run, carry.live, carry.holds.batchHold, {
      batchIndex: carry.nextBatchIndex,
      previousBatchStartMs: carry.previousBatchStartMs,
    }),
  );
}

function afterPhase3(
  run: ReenablementRun,
  phase3: Awaited<ReturnType<typeof enableRemaining>>,
): Promise<ReenablementResult> {
  if ('end' in phase3) return Promise.resolve(phase3.end);
  if ('continueAt' in phase3) return run.continueAsNew(phase3.continueAt);
  return watchForGreen(run, phase3.live);
}
