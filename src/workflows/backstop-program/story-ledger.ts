import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { RunbookActivities, StoryClaim, StoryProgramRef } from '../../activities';
import { utcIso } from '../../common/duration';
import { databaseWrite } from '../activity-options';
import type { GuardedStep } from '../shared/fail-safe';
import type { BackstopInput, BackstopOutcome, DecisionRecord } from './definitions';

const ledger = proxyActivities<RunbookActivities>(databaseWrite);

/** A step under the program's fail-safe (see BackstopRun.guarded). */
type Guarded = <T>(step: GuardedStep, work: () => Promise<T>) => Promise<T | undefined>;

/** The program is its first run: the runs it continues as new keep that run's id in the ledger. */
function storyRun(storyId: string) {
  const info = workflowInfo();
  return { storyId, workflowId: info.workflowId, runId: info.firstExecutionRunId, at: utcIso(Date.now()) };
}

/** What the claim of the story asks the ledger (the story itself aside). */
export function claimRequest(input: Pick<BackstopInput, 'storyId' | 'reopen'>) {
  const { storyId: _, ...run } = storyRun(input.storyId);
  return { ...run, ...(input.reopen ? { reopen: input.reopen } : {}) };
}

/**
 * Claims the story for this program (Postgres, beyond the run) in a step of its own, when the
 * program's start did not (openBackstopProgram): see allowedClaim for what the answer means.
 */
export async function claimStoryInStep(
  input: Pick<BackstopInput, 'storyId' | 'reopen'>,
  guarded: Guarded,
): Promise<StoryClaim | undefined> {
  return guarded({ name: 'story_ledger', what: `check ${input.storyId}'s earlier programs (Postgres)` }, () =>
    ledger.claimStoryProgram({ storyId: input.storyId, ...claimRequest(input) }),
  );
}

/**
 * The story's claim, allowed: a story that already had a program fails this one at its start
 * unless the input asks for a reopen, which is recorded. Synchronous, so that a programme whose
 * start made the claim goes to sleep without one more promise (each costs a captured stack).
 */
export function allowedClaim(
  input: Pick<BackstopInput, 'storyId'>,
  claim: StoryClaim | undefined,
): Extract<StoryClaim, { allowed: true }> {
  // The claim step offers no skip, so an outcome without a value cannot happen; a plain Error here
  // would retry the workflow task forever, so it is a named failure like every other.
  if (!claim) throw ApplicationFailure.nonRetryable('the story claim ended without a value', 'InternalError');
  if (claim.allowed) return claim;
  throw ApplicationFailure.create({
    type: 'StoryAlreadyHadProgram',
    nonRetryable: true,
    message: alreadyHadProgram(input.storyId, claim.previous),
  });
}

/** Why a start without a reopen is refused (the claim's answer, and a dry run's forecast of it). */
export function alreadyHadProgram(storyId: string, previous: StoryProgramRef): string {
  return `story ${storyId} already had a program (${previous.workflowId}, run ${previous.runId}, started ${previous.startedAt}${previous.outcome ? `, ended ${previous.outcome} at ${previous.endedAt}` : ', no recorded end'}); a second program needs an explicit, recorded reopen: add "reopen": {"by": "@you", "reason": "…"} to the start input`;
}

/** Keeps a decision with the story (its waiver stays used for every later program). */
export async function keepDecision(storyId: string, entry: DecisionRecord, index: number, guarded: Guarded) {
  await guarded(
    { name: 'story_ledger', what: `keep the ${entry.decision} decision of ${storyId} (Postgres)` },
    () =>
      ledger.recordStoryDecision({
        ...storyRun(storyId),
        at: entry.at,
        index,
        by: entry.by,
        decision: entry.decision,
        rationale: entry.rationale,
      }),
  );
}

/** Keeps how the program ended (a later program of the story then needs a reopen). */
export async function keepEnd(storyId: string, outcome: BackstopOutcome, guarded: Guarded) {
  await guarded(
    {
      name: 'story_ledger',
      what: `keep the end (${outcome}) of ${storyId}'s program (Postgres)`,
      skip: 'end without it (the next program of the story still needs a reopen)',
    },
    () => ledger.recordStoryProgramEnd({ ...storyRun(storyId), outcome }),
  );
}
