import { z } from 'zod';
import { kubeContextName, policyHandle } from '../names';
import { SEED_LIMITS } from '../seed-limits';
import { duration } from './fields';

/** Seed 000 (break-glass hyperparameter rollback): Procedures A, B, D, the drill and the Console. */

export { SEED_LIMITS };

export const gatePolicy = {
  /** Handles whose approval counts. */
  approvers: z.array(policyHandle).min(1, 'needs at least one approver'),
  /** True when one person both runs and approves the runbook (seed 000: "sole approval authority"). */
  soleOperator: z.boolean(),
  /** The two-person rule: this many distinct approvers open the gate (the sole-operator exception only with 1). */
  quorum: z.number().int().min(1).max(5).default(1),
  /** Approvals must carry an SSH signature by a key `signers` lists for the approver. */
  requireSignedApprovals: z.boolean().default(false),
  /** How old a signature may be when it arrives (its signedAt against the run's clock). */
  signatureMaxAge: duration.prefault('15m'),
  /** Pause-and-think: minimum time between the approval and the first side effect. */
  pause: duration,
  /** No decision within this time after the approval request: the run ends `approval_expired`. */
  approvalTimeout: duration,
};

const obligations = {
  /** The reconciling Console write must appear within this time (after the restore / Console recovery). */
  reconciliationDeadline: duration,
  /** How often the workflow looks for the reconciling write inside the deadline. */
  reconciliationPollInterval: duration,
  /** After a missed deadline, how often it keeps looking so a late write is still recorded. */
  lateReconciliationPollInterval: duration,
  /** The post-mortem must be marked filed within this time after the SQL committed. */
  postMortemDeadline: duration,
};

/** Procedure A: restore from history. */
export const breakGlassRestorePolicySchema = z.object({ ...gatePolicy, ...obligations }).strict();

/** Procedure B: urgent single-key edit while the Console is down. */
export const breakGlassConsoleEditPolicySchema = z
  .object({
    ...gatePolicy,
    ...obligations,
    /** How often to probe the Console while waiting for it to come back (before reconciliation). */
    consoleProbeInterval: duration,
    /** The Console must be back within this time after the edit; past it, escalate. */
    consoleRecoveryTimeout: duration,
  })
  .strict();

/** Procedure D: re-bootstrap a missing live row. */
export const breakGlassRebootstrapPolicySchema = z.object({ ...gatePolicy, ...obligations }).strict();

/** The 30-day drill: Procedure A on the staging copy, sentinel row, N versions back. */
export const breakGlassDrillPolicySchema = z
  .object({
    ...gatePolicy,
    sentinelRowId: z.number().int().positive().prefault(999),
    versionsBack: z.number().int().min(1).max(20).prefault(3),
    /** SLO: detected → restore verified. */
    slo: duration.prefault('10m'),
    /** Over this, the runbook "needs tightening" (seed: 15 min). */
    tightenAbove: duration.prefault('15m'),
    /** Folder for YYYY-MM-DD-drill.md, relative to the policy file. */
    logDirectory: z.string().min(1),
  })
  .strict();

/** Where Procedure B looks to decide whether break-glass is justified. */
export const consoleSchema = z
  .object({
    /** The Console's URL: up only when a GET (redirects not followed) answers 2xx. */
    url: z.url({ protocol: /^https?$/ }),
    kubeContext: kubeContextName,
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a Kubernetes namespace name'),
    podSelector: z
      .string()
      .regex(
        /^[A-Za-z0-9._/-]+(==?|!=)[A-Za-z0-9._-]*(,[A-Za-z0-9._/-]+(==?|!=)[A-Za-z0-9._-]*)*$/,
        'must be a label selector like "app=console"',
      ),
    probeTimeout: duration.prefault('5s'),
  })
  .strict();

export const breakGlassPolicies = {
  breakGlassRestore: breakGlassRestorePolicySchema,
  breakGlassConsoleEdit: breakGlassConsoleEditPolicySchema,
  breakGlassRebootstrap: breakGlassRebootstrapPolicySchema,
  breakGlassDrill: breakGlassDrillPolicySchema,
};

type BreakGlassPolicies = {
  [K in keyof typeof breakGlassPolicies]: z.output<(typeof breakGlassPolicies)[K]>;
};

/** The seed's gating ritual holds for every break-glass procedure, drills included. */
export function checkBreakGlassFloors(runbooks: BreakGlassPolicies, ctx: z.RefinementCtx): void {
  for (const name of Object.keys(breakGlassPolicies) as BreakGlassRunbookName[]) {
    const runbook = runbooks[name];
    const path = ['runbooks', name];
    if (runbook.pause < SEED_LIMITS.pauseFloorMs) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'pause'],
        message: 'must be at least 2m (seed 000 pause-and-think gate)',
      });
    }
    if (
      'reconciliationDeadline' in runbook &&
      runbook.reconciliationDeadline > SEED_LIMITS.reconciliationDeadlineMaxMs
    ) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'reconciliationDeadline'],
        message: 'must be at most 60m (seed 000: reconciling Console write within 1h)',
      });
    }
    if ('postMortemDeadline' in runbook && runbook.postMortemDeadline > SEED_LIMITS.postMortemDeadlineMaxMs) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'postMortemDeadline'],
        message: 'must be at most 24h (seed 000: post-mortem within 24 hours)',
      });
    }
  }
}

export type BreakGlassRestorePolicy = z.output<typeof breakGlassRestorePolicySchema>;
export type ConsolePolicy = z.output<typeof consoleSchema>;
export type BreakGlassRunbookName = keyof typeof breakGlassPolicies;
