import type { Pool } from 'pg';
import type { createPolicyActivities, RunbookPolicySnapshot } from './policy';
import { tryInline } from './inline';
import {
  claimStoryProgram,
  readStoryLedger,
  type ClaimStoryProgramInput,
  type StoryClaim,
  type StoryLedgerView,
} from './sql/story-ledger';

export interface OpenBackstopProgramInput {
  storyId: string;
  /** The story's claim, asked when the input names no targets (else the start is refused anyway). */
  claim?: Omit<ClaimStoryProgramInput, 'storyId'>;
  /** A dry run: the story's ledger read, nothing claimed (ignored with `claim`). */
  peek?: boolean;
}

export interface OpenedBackstopProgram {
  policy: RunbookPolicySnapshot<'backstop'>;
  /** Present when the claim was asked, the story is served and declared, and Postgres answered. */
  claim?: StoryClaim;
  /** The claim was asked and failed (or did not answer in time): the program claims in its own step. */
  claimFailed?: string;
  /** `peek`: what a claim now would meet, when the story is served and Postgres answered. */
  ledger?: StoryLedgerView;
  /** `peek` asked and the read failed: the dry run says it does not know. */
  ledgerFailed?: string;
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
      const { claim } = input;
      if (!served) return { policy };
      if (!claim && input.peek) {
        const read = await tryInline(() => readStoryLedger(deps.db, input.storyId));
        return 'value' in read ? { policy, ledger: read.value } : { policy, ledgerFailed: read.failed };
      }
      if (!claim) return { policy };
      const claimed = await tryInline(() => claimStoryProgram(deps.db, { ...claim, storyId: input.storyId }));
      return 'value' in claimed ? { policy, claim: claimed.value } : { policy, claimFailed: claimed.failed };
    },
  };
}
