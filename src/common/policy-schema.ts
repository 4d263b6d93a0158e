import { z } from 'zod';
import { parseDuration } from './duration';

/**
 * The policy file: who may approve, how long the safety pauses and deadlines are, what the
 * target is called. It lives with the worker (validated at start), never in workflow input, so
 * an incident commander cannot shorten a safety pause from the UI.
 */

/** The seed's floors and ceilings (seed 000, gating ritual). Only a test policy may go below them. */
export const SEED_LIMITS = {
  pauseFloorMs: 2 * 60_000,
  reconciliationDeadlineMaxMs: 60 * 60_000,
  postMortemDeadlineMaxMs: 24 * 3_600_000,
} as const;

const handle = z
  .string()
  .regex(
    /^@?[A-Za-z0-9][A-Za-z0-9._-]*$/,
    'must be a handle like "@dococeven" (letters, digits, ".", "_", "-")',
  );

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a positive duration like "90s", "2m", "24h" (got "${text}")`,
    });
    return z.NEVER;
  }
  return ms;
});

const gatePolicy = {
  /** Handles whose approval counts. */
  approvers: z.array(handle).min(1, 'needs at least one approver'),
  /** True when one person both runs and approves the runbook (seed 000: "sole approval authority"). */
  soleOperator: z.boolean(),
  /** Pause-and-think: minimum time between the approval and the first side effect. */
  pause: duration,
  /** No decision within this time after the approval request: the run ends `approval_expired`. */
  approvalTimeout: duration,
};

export const breakGlassRestorePolicySchema = z
  .object({
    ...gatePolicy,
    /** The reconciling Console write must appear within this time after the restore commits. */
    reconciliationDeadline: duration,
    /** How often the workflow looks for the reconciling write inside the deadline. */
    reconciliationPollInterval: duration,
    /** After a missed deadline, how often it keeps looking so a late write is still recorded. */
    lateReconciliationPollInterval: duration,
    /** The post-mortem must be marked filed within this time after the restore commits. */
    postMortemDeadline: duration,
  })
  .strict();

export const policySchema = z
  .object({
    policyVersion: z.literal(1),
    /**
     * Allows durations below the seed's floors. For the dev-server end-to-end tests only;
     * the worker logs a warning when it is on.
     */
    testOnlyShortDurations: z.boolean().default(false),
    /** Story the break-glass approval line names (seed 000: CVN-N001-EE-S17). */
    story: z.string().min(1),
    /** `change_reason` of the canonical seeding writes (seed 000, Procedure C). */
    seedingChangeReason: z.string().min(1),
    /** JSON object of the canonical (legacy bundle) `base_env`, relative to the policy file. */
    canonicalPayloadPath: z.string().min(1),
    /** Where the post-mortem is filed (seed 000: a comment on OP wp#153). */
    postMortemTarget: z.string().min(1),
    runbooks: z
      .object({
        breakGlassRestore: breakGlassRestorePolicySchema,
      })
      .strict(),
  })
  .strict()
  .superRefine((policy, ctx) => {
    if (policy.testOnlyShortDurations) return;
    const restore = policy.runbooks.breakGlassRestore;
    const path = ['runbooks', 'breakGlassRestore'];
    if (restore.pause < SEED_LIMITS.pauseFloorMs) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'pause'],
        message: 'must be at least 2m (seed 000 pause-and-think gate)',
      });
    }
    if (restore.reconciliationDeadline > SEED_LIMITS.reconciliationDeadlineMaxMs) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'reconciliationDeadline'],
        message: 'must be at most 60m (seed 000: reconciling Console write within 1h)',
      });
    }
    if (restore.postMortemDeadline > SEED_LIMITS.postMortemDeadlineMaxMs) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'postMortemDeadline'],
        message: 'must be at most 24h (seed 000: post-mortem within 24 hours)',
      });
    }
  });

/** The policy file as written (durations as text). */
export type PolicyFile = z.input<typeof policySchema>;
/** The validated policy (durations in milliseconds). */
export type Policy = z.output<typeof policySchema>;
export type BreakGlassRestorePolicy = z.output<typeof breakGlassRestorePolicySchema>;
export type RunbookName = keyof Policy['runbooks'];
