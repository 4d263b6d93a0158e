import { z } from 'zod';
import type { HelmPin, PullRequestState, ReleaseCodeCheck } from '../../activities';
import { incidentIdSchema } from '../../common/break-glass';
import type { ReleaseRollbackPolicy } from '../../common/policy';
import { handleSchema } from '../../common/identity';
import { storyIdSchema } from '../../common/names';
import { freezeOverrideSchema } from '../shared/freeze-override';
import { abortPayloadSchema, stepDecisionPayloadSchema, type MessageContract } from '../shared/messages';
import type { NoticeRecord } from '../shared/notices';
import type { Finding, RefusedAttempt, RunbookStatus, StepRecord } from '../shared/run-record';
import { sharedOnFirstUse } from '../../common/shared-schemas';
import { RELEASE_ROLLBACK } from './ids';

export { abortSignal, statusQuery, stepDecisionSignal } from '../shared/messages';
export { RELEASE_ROLLBACK, releaseRollbackWorkflowId } from './ids';

export const RELEASE_ROLLBACK_MECHANISMS = ['helm_pin_then_merge_revert', 'merge_revert'] as const;
export type ReleaseRollbackMechanism = (typeof RELEASE_ROLLBACK_MECHANISMS)[number];

/** Built on first use, then shared (see sharedOnFirstUse): only a release rollback's start parses it. */
function buildInputSchema() {
  return z
    .object({
      storyId: storyIdSchema,
      /** The merge to take back (the revert PR reverts its pull request; the pin goes to its first parent). */
      mergeSha: z.string().regex(/^[0-9a-f]{7,40}$/, 'must be a git SHA (7–40 lower-case hex)'),
      requestedBy: handleSchema,
      reason: z.string().trim().min(1, 'must say why the release is rolled back').max(2_000),
      /** The incident it belongs to, if any (search attribute, notices). */
      incidentId: incidentIdSchema.optional(),
      /** Seed 001 §5: the pin first (no code change, < 5 min), the merge revert if it is not enough. */
      mechanism: z
        .enum(RELEASE_ROLLBACK_MECHANISMS, {
          error: 'must be "helm_pin_then_merge_revert" or "merge_revert"',
        })
        .default('helm_pin_then_merge_revert'),
      /** The image tag to pin; absent: the merge's first parent (tag length from the policy). */
      pinTag: z
        .string()
        .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'must be an image tag')
        .optional(),
      freezeOverride: freezeOverrideSchema.optional(),
      /** Plan only: read the pin tag, return the commands the run would run, change nothing. */
      dryRun: z.boolean().optional(),
    })
    .strict();
}

export const releaseRollbackInputSchema = sharedOnFirstUse(
  'workflows/release-rollback/definitions',
  buildInputSchema,
);

export type ReleaseRollbackInput = z.input<ReturnType<typeof buildInputSchema>>;
export type ReleaseRollbackInputParsed = z.output<ReturnType<typeof buildInputSchema>>;

export type ReleaseRollbackOutcome =
  | 'pinned'
  | 'reverted_by_merge'
  | 'refused_change_freeze'
  | 'aborted'
  /** Plan only (`dryRun`): the plan is in `dryRun`, nothing was changed. */
  | 'dry_run';

/** A dry run's answer: what each mechanism would do, from the policy and the tag it read. */
export interface ReleaseRollbackDryRun {
  mechanism: ReleaseRollbackMechanism;
  /** The pin (helm_pin_then_merge_revert): `helm upgrade` of the release with the values key set to the tag. */
  helmPin?: {
    kubeContext: string;
    namespace: string;
    release: string;
    chart: string;
    set: string;
    tagFrom: 'input' | 'merge_parent';
    targetMs: number;
  };
  /** After either mechanism: `kubectl exec` grep for the pattern, which the old code has or lacks. */
  verify: ReleaseRollbackPolicy['verify'];
  /** The merge revert (the mechanism, or the pin's fallback): a PR reverting the merge's pull request. */
  mergeRevert: { repository: string; mergeSha: string; targetMs: number };
}

/** One mechanism's clock: from its start to the old code verified running. */
export interface MechanismClock {
  startedAt: string;
  targetMs: number;
  actualMs?: number;
  met?: boolean;
}

export interface ReleaseRollbackDetail {
  storyId: string;
  mergeSha: string;
  requestedBy: string;
  reason: string;
  mechanism: ReleaseRollbackMechanism;
  pinTag?: string;
  pinTagFrom?: 'input' | 'merge_parent';
  helmPin?: MechanismClock & {
    state: 'pinning' | 'verifying' | 'verified' | 'failed';
    pin?: HelmPin;
    error?: string;
    check?: ReleaseCodeCheck;
  };
  mergeRevert?: MechanismClock & {
    state: 'opening' | 'awaiting_merge' | 'awaiting_deploy' | 'verified';
    pullRequest?: { number: number; url: string; reverts: number };
    lastRead?: PullRequestState;
    check?: ReleaseCodeCheck;
    polls: number;
    overdue?: boolean;
  };
  /** A dry run's plan. */
  dryRun?: ReleaseRollbackDryRun;
}

export type ReleaseRollbackStatus = RunbookStatus<ReleaseRollbackDetail>;

export interface ReleaseRollbackResult {
  runbook: typeof RELEASE_ROLLBACK;
  outcome: ReleaseRollbackOutcome;
  message: string;
  workflowId: string;
  storyId: string;
  mergeSha: string;
  helmPin?: ReleaseRollbackDetail['helmPin'];
  mergeRevert?: ReleaseRollbackDetail['mergeRevert'];
  dryRun?: ReleaseRollbackDryRun;
  steps: StepRecord[];
  refusedAttempts: RefusedAttempt[];
  flags: Finding[];
  notices: NoticeRecord[];
  testOnlyShortDurations?: true;
}

/** The workflow's message contract (see MessageContract): additive changes only. */
export const releaseRollbackContract: MessageContract = {
  workflowType: RELEASE_ROLLBACK,
  version: 1,
  get input() {
    return releaseRollbackInputSchema();
  },
  messages: { abort: abortPayloadSchema, stepDecision: stepDecisionPayloadSchema },
};
