import { ApplicationFailure, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { OpenedBackstopProgram, RunbookActivities } from '../../activities';
import { utcIso } from '../../common/duration';
import { policyRead, policyReadLocal } from '../activity-options';
import { parseWorkflowInput, refuseCarryOnFreshStart } from '../shared/input';
import { isPatched, PATCHES } from '../shared/patches';
import { atT30, atT60, atT90 } from './checkpoints';
import { backstopInputSchema, targetsInInput, type BackstopInput, type BackstopResult } from './definitions';
import { gatherEvidence } from './evidence';
import { cancellation, revert, shipped } from './outcomes';
import { allowedClaim, claimRequest, claimStoryInStep } from './story-ledger';
import { BackstopRun, ProgramAborted } from './run';
import { planOnly } from './dry-run';
import { recordBackstopCheckpoint } from '../shared/metrics';
import { announcingCancellation } from '../shared/cancellation';

const { loadRunbookPolicy, openBackstopProgram } = proxyActivities<RunbookActivities>(policyRead);
const local = proxyLocalActivities<RunbookActivities>(policyReadLocal);

/**
 * The policy for the run's story. A new program (since backstop-open-program-v1) has it read and
 * its story claimed in one activity, so it sleeps one workflow task sooner; the claim is asked only
 * when the input names no targets (such a start is refused below, before anything is claimed).
 * Since backstop-open-program-local-v1 that activity is local: the worker runs it inside the
 * program's first workflow task, which then starts the first timer (one workflow task and no
 * activity task to asleep, where it took two and one). A claim the opening could not make is made
 * again in the program's own step, as before.
 */
function openProgram(input: BackstopInput): Promise<OpenedBackstopProgram> {
  // A dry run claims nothing: it reads the policy and, since backstop-dry-run-reads-ledger-v1, the
  // story's ledger (what the claim would meet); before, the policy alone, as a continued run does.
  if (input.dryRun && !input.continued && isPatched(PATCHES.backstopDryRunReadsLedger))
    return local.openBackstopProgram({ storyId: input.storyId, peek: true });
  if (!input.continued && !input.dryRun) {
    const open = isPatched(PATCHES.backstopOpensLocally)
      ? local.openBackstopProgram
      : isPatched(PATCHES.backstopOpensInOneStep)
        ? openBackstopProgram
        : undefined;
    if (open)
      return open({
        storyId: input.storyId,
        ...(targetsInInput(input).length ? {} : { claim: claimRequest(input) }),
      });
  }
  // The story's own entry only: a policy of thousands of stories is not copied into every run.
  return loadRunbookPolicy({
    runbook: 'backstop',
    ...(isPatched(PATCHES.backstopPolicyOneStory) ? { storyId: input.storyId } : {}),
  }).then((policy) => ({ policy }));
}

/**
 * The backstop of one merged story (seed 001 §6.bis): durable timers to T+30, T+60, T+90 and
 * T+120 (merge day 00:00Z + N × 24 h), each checking the Epic in OpenProject, the gate-failure
 * search on GitHub and the Console restore probe, and acting as the seed says. Silence is never an
 * outcome: the T+90 decision is escalated again every decision window until it comes.
 */
// Not async: it returns the run's promise as it is (an async function would wrap it in two more).
export function backstopProgram(rawInput: BackstopInput): Promise<BackstopResult> {
  const input = parseWorkflowInput(backstopInputSchema, rawInput, 'backstopProgram input');
  refuseCarryOnFreshStart(
    'backstopProgram input',
    input.continued,
    'the program itself when it continues as new (a program started with it would skip its checkpoints and its story claim)',
  );
  const run = new BackstopRun(input);
  return announcingCancellation(
    run,
    () => openAndRun(run),
    () => cancellation(run),
  );
}

/** The program once its record is up: its policy and story claim, then its checkpoints. */
async function openAndRun(run: BackstopRun): Promise<BackstopResult> {
  const { input } = run;
  const opened = await openProgram(input);
  const { policy: snapshot } = opened;
  // A program its worker cannot serve fails now, saying why, not at T+30 on "not configured".
  if (snapshot.unserved)
    throw ApplicationFailure.create({
      type: 'RunbookNotServed',
      nonRetryable: true,
      message: `backstopProgram cannot run on this worker's policy: ${snapshot.unserved}`,
    });
  run.configure(snapshot);
  if (input.dryRun) return planOnly(run, opened);
  try {
    if (input.continued)
      run.record.event(
        'continued',
        `run ${input.continued.runsBefore + 1} of the program started ${input.continued.programStartedAt}: next ${run.schedule[run.firstCheckpointIndex]!.name}`,
      );
    // The story beyond this run: a second program needs a recorded reopen; earlier waivers count.
    // A continued run's program claimed its story in its first run.
    else if (isPatched(PATCHES.backstopStoryLedger)) {
      run.storyLedger = true;
      if (opened.claimFailed)
        run.record.event(
          'story_claim_again',
          `the claim at the start failed (${opened.claimFailed}): claiming again`,
        );
      const claim = allowedClaim(input, opened.claim ?? (await claimStoryInStep(input, run.guard)));
      run.detail.story = {
        ...(claim.reopened ? { reopened: claim.reopened } : {}),
        ...(claim.waiverUsed ? { waiverUsed: claim.waiverUsed } : {}),
      };
      if (claim.reopened)
        run.record.event(
          'reopened',
          `after ${claim.reopened.previous.workflowId}: ${claim.reopened.reason}`,
          claim.reopened.by,
        );
    }
    return await checkpoints(run);
  } catch (error) {
    if (!(error instanceof ProgramAborted)) throw error;
    return run.finish('aborted', `${error.message}; the program ends here, what it did is in the record`);
  }
}

async function checkpoints(run: BackstopRun): Promise<BackstopResult> {
  const { record, detail, notices, dri, tag } = run;
  const catchUp = run.input.continued?.modes.catchUp ?? isPatched(PATCHES.backstopExplicitCatchUp);
  const startedMs = run.programStartedMs;
  for (const [index, checkpoint] of run.schedule.entries()) {
    if (index < run.firstCheckpointIndex) continue; // evaluated by an earlier run of the program
    const state = detail.checkpoints.find((cp) => cp.name === checkpoint.name)!;
    if (checkpoint.name === 'T+120' && !detail.waiver) break; // T+120 only caps a waiver
    detail.next = { checkpoint: checkpoint.name, at: utcIso(checkpoint.atMs) };
    record.enterStep(`waiting_${checkpoint.name}`, `next checkpoint ${checkpoint.name} at ${detail.next.at}`);
    await run.sleepUntil(checkpoint.atMs, checkpoint.name);

    record.enterStep(`check_${checkpoint.name}`, `${checkpoint.name}: reading the evidence`);
    recordBackstopCheckpoint(checkpoint.name);
    const evidence = await gatherEvidence(run, checkpoint.name, checkpoint.atMs);
    detail.evidence.push(evidence);
    state.state = 'evaluated';
    // Catch-up (a program started after checkpoints had passed) is explicit: each past checkpoint
    // is evaluated once and says so; one whose successor was also past asks nothing of anyone.
    const late = catchUp && startedMs >= checkpoint.atMs;
    if (late) state.evaluatedLateAt = evidence.evaluatedLateAt = utcIso(Date.now());
    const successor = run.schedule[index + 1];
    const superseded =
      late && successor !== undefined && successor.name !== 'T+120' && startedMs >= successor.atMs;
    if (evidence.shipped) {
      evidence.verdict = state.verdict = 'shipped';
      return shipped(run, evidence);
    }
    const issues = evidence.gateFailureIssues ?? [];
    if (checkpoint.days < 90 && issues.length) {
      // Seed invariant: the gate-failure search is empty before T+90.
      record.flag(
        'gate_failure_before_t90',
        `${checkpoint.name}: the gate-failure search is not empty before T+90: ${issues.map((i) => `#${i.number}`).join(', ')}`,
      );
      notices.send({
        kind: 'backstop_anomaly',
        severity: 'warning',
        audience: 'owner',
        recipients: [dri],
        subject: `${tag} anomaly at ${checkpoint.name}: gate-failure issues exist before T+90`,
        body: issues.map((i) => `#${i.number} ${i.title} ${i.url}`).join('\n'),
      });
    }
    if (superseded) {
      evidence.verdict =
        state.verdict = `evaluated late at ${state.evaluatedLateAt}; superseded by ${successor.name} (also past at the start): nothing asked`;
      record.event('catch_up', `${checkpoint.name}: ${state.verdict}`);
      continue;
    }
    if (checkpoint.name === 'T+30') await atT30(run, evidence, state);
    else if (checkpoint.name === 'T+60') await atT60(run, evidence, state);
    else if (checkpoint.name === 'T+90') {
      const ended = await atT90(run, evidence, state);
      if (ended) return ended;
    } else {
      // T+120 on a waiver, still not shipped.
      evidence.verdict = state.verdict = 'not shipped on a waiver: mandatory revert';
      return revert(
        run,
        `T+120 (${state.at}): still not shipped after the waiver granted by ${detail.waiver?.by}; the waiver is single-use`,
        true,
      );
    }
    // The program sleeps to its next checkpoint in a new run: each run's history stays short
    // (a checkpoint, its decision and re-escalations), however long the program lives.
    if (isPatched(PATCHES.backstopContinuesAsNew))
      return run.continueAsNew(index + 1, {
        storyFromPolicy: run.storyFromPolicy,
        storyLedger: run.storyLedger,
        catchUp,
      });
  }
  // Every path above returns: T+120 is only reached on a waiver.
  throw ApplicationFailure.nonRetryable('the backstop program ended without an outcome', 'InternalError');
}
