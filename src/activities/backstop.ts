import type { Pool } from 'pg';
import type { createPolicyActivities, RunbookPolicySnapshot } from './policy';
import { claimStoryProgram, type ClaimStoryProgramInput, type StoryClaim } from './sql/story-ledger';

/**
 * How long the start's claim may take before the program claims in its own step instead: well
 * inside the policy read's 10 s start-to-close, so a slow database never fails the policy read.
 */
export const INLINE_CLAIM_MS = 3_000;

export interface OpenBackstopProgramInput {
  storyId: string;
  /** The story's claim, asked when the input names no targets (else the start is refused anyway). */
  claim?: Omit<ClaimStoryProgramInput, 'storyId'>;
}

export interface OpenedBackstopProgram {
  policy: RunbookPolicySnapshot<'backstop'>;
  /** Present when the claim was asked, the story is served and declared, and Postgres answered. */
  claim?: StoryClaim;
  /** The claim was asked and failed (or did not answer in time): the program claims in its own step. */
  claimFailed?: string;
}

/**
 * A backstop program's start in one round trip: the policy's backstop section for its story and,
 * when this worker serves the story, the story's claim. Two activities cost a new program a
 * workflow task each before it sleeps; this is the one. The claim is tried once: when it fails,
 * the workflow claims in its own step under the fail-safe (the claim is keyed by the run, so a
 * claim that committed here is found there).
 */
export function createBackstopActivities(deps: {
  db: Pool;
  /** The worker's policy read (one closure, shared with the activity of that name). */
  loadRunbookPolicy: ReturnType<typeof createPolicyActivities>['loadRunbookPolicy'];
}) {
  const { loadRunbookPolicy } = deps;
  return {
    openBackstopProgram: async (input: OpenBackstopProgramInput): Promise<OpenedBackstopProgram> => {
      const policy = await loadRunbookPolicy({ runbook: 'backstop', storyId: input.storyId });
      const served = policy.unserved === undefined && Object.hasOwn(policy.runbook.stories, input.storyId);
      if (!input.claim || !served) return { policy };
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer from Postgres within ${INLINE_CLAIM_MS} ms`)),
          INLINE_CLAIM_MS,
        );
      });
      try {
        const claim = await Promise.race([
          claimStoryProgram(deps.db, { ...input.claim, storyId: input.storyId }),
          late,
        ]);
        return { policy, claim };
      } catch (error) {
        return { policy, claimFailed: error instanceof Error ? error.message : String(error) };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
