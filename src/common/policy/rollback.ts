import { z } from 'zod';
import { kubernetesName, policyHandle } from '../names';
import { duration } from './fields';

/** RB-LAUNCH-002 (seed 002): rollback to pilot scope. */
export const rollbackToPilotPolicySchema = z
  .object({
    /** Who may confirm a P2 rollback after the triage hold, besides the incident commander. */
    confirmers: z.array(policyHandle).default([]),
    triageHold: duration.prefault('30m'),
    confirmationTimeout: duration.prefault('30m'),
    rolloutTimeout: duration.prefault('120s'),
    scaleTimeout: duration.prefault('180s'),
    /** A pod with this many restarts (or CrashLoopBackOff) means crash loop: restart with the pilot config. */
    crashLoopRestarts: z.number().int().min(1).prefault(3),
    postgres: z
      .object({
        deployment: kubernetesName,
        user: z.string().regex(/^[a-z_][a-z0-9_]*$/),
        database: z.string().regex(/^[a-z_][a-z0-9_]*$/),
        /** Seed 002: the G5 schema the pilot runs on. */
        pilotSchemaVersion: z.string().regex(/^\d{8}_\d{3}$/),
        rollbackSqlFile: z
          .string()
          .regex(/^\/[A-Za-z0-9._/-]+$/, 'must be an absolute path inside the postgres pod'),
        /** Where pg_dump backups are written (worker side, relative to the policy file). */
        backupDirectory: z.string().min(1),
      })
      .strict(),
    /** The configured test flow on the pilot repo and its success criteria (seed step 5). */
    pilotVerification: z
      .object({
        command: z.array(z.string().min(1)).min(1),
        timeout: duration.prefault('5m'),
        maxDurationSeconds: z.number().positive().prefault(120),
        /** A regular expression the output must match (e.g. "5/5 passed"). */
        successPattern: z.string().min(1).optional(),
        /** Seed 002 step 5 "Cost: <$2.00": the flow's reported cost must stay below this (USD). */
        maxCostUsd: z.number().positive().prefault(2),
        /** Where the flow reports its cost: a regular expression whose first group is the amount. */
        costPattern: z
          .string()
          .min(1)
          .default('Cost: \\$([0-9]+(?:\\.[0-9]+)?)')
          .refine((pattern) => {
            try {
              return new RegExp(pattern).source.length > 0;
            } catch {
              return false;
            }
          }, 'must be a regular expression'),
      })
      .strict(),
    /** Health endpoints checked from inside the deployment (seed step 6): each must answer status "healthy". */
    healthChecks: z
      .array(z.object({ name: z.string().min(1), url: z.url({ protocol: /^https?$/ }) }).strict())
      .default([]),
    decision: z
      .object({
        crashLoopMinutes: z.number().positive().prefault(15),
        dailySpendLimitUsd: z.number().positive().prefault(200),
        massFailureRepos: z.number().int().positive().prefault(10),
        confirmationMinRepos: z.number().int().positive().prefault(3),
        intermittentFailureRate: z.number().min(0).max(1).prefault(0.05),
        killRateFloor: z.number().min(0).max(1).prefault(0.6),
        killRateRepoShare: z.number().min(0).max(1).prefault(0.5),
        p95SloSeconds: z.number().positive().prefault(150),
        p95SloHours: z.number().positive().prefault(2),
        cascadingRepos: z.number().int().positive().prefault(3),
      })
      .strict()
      .prefault({}),
    rcaDeadline: duration.prefault('24h'),
    targets: z
      .object({
        execution: duration.prefault('10m'),
        total: duration.prefault('30m'),
        /** Seed 002: "Downtime: < 5 minutes" — first failing health check to healthy again. */
        downtime: duration.prefault('5m'),
        /** The quarterly drill (seed 002): the dry run's decision and plan within 20 minutes. */
        drill: duration.prefault('20m'),
      })
      .strict()
      .prefault({}),
    /** Who is paged on each failure branch. */
    escalation: z.object({ engineeringTl: policyHandle, dba: policyHandle }).strict(),
    statusPage: z
      .object({ channel: z.string().min(1), service: z.string().min(1) })
      .strict()
      .optional(),
    /**
     * Seed 003 step 2, "freeze writes": the non-idempotent writers and queue consumers scaled to zero
     * and the fence set before the rollback mutates anything; after green is held, unfrozen. Absent:
     * no writer freeze (this deployment has no such writers).
     */
    writerFreeze: z
      .object({
        /** Deployments (in the orchestrator's namespace) that write or consume non-idempotently. */
        writers: z.array(kubernetesName).min(1).max(20),
        /** The fence the writers' dedupe honours: a configmap key, its frozen and open values. */
        fence: z
          .object({
            configMap: kubernetesName,
            key: z.string().regex(/^[-._a-zA-Z0-9]+$/, 'must be a configmap key'),
            frozen: z.string().min(1).max(100),
            open: z.string().min(1).max(100),
          })
          .strict(),
        /** Seed 003 "hold ten to fifteen minutes" of green before unfreezing. */
        holdGreen: duration.prefault('10m'),
      })
      .strict()
      .optional(),
  })
  .strict();

export type RollbackToPilotPolicy = z.output<typeof rollbackToPilotPolicySchema>;

/** Seed 002: a P2 is triaged 30 min before any rollback; the RCA is due within 24 h. Seed 003: green is held 10–15 min. */
export function checkRollbackFloors(policy: RollbackToPilotPolicy, ctx: z.RefinementCtx): void {
  const path = ['runbooks', 'rollbackToPilot'];
  if (policy.triageHold < 30 * 60_000)
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'triageHold'],
      message: 'must be at least 30m (seed 002: P2 triage)',
    });
  const hold = policy.writerFreeze?.holdGreen;
  if (hold !== undefined && (hold < 10 * 60_000 || hold > 15 * 60_000))
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'writerFreeze', 'holdGreen'],
      message: 'must be between 10m and 15m (seed 003: hold ten to fifteen minutes, then unfreeze)',
    });
  if (policy.targets.downtime > 5 * 60_000)
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'targets', 'downtime'],
      message: 'must be at most 5m (seed 002: "Downtime: <5 minutes")',
    });
  if (policy.targets.drill > 20 * 60_000)
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'targets', 'drill'],
      message: 'must be at most 20m (seed 002: the rollback drill completes in < 20 minutes)',
    });
  if (policy.rcaDeadline > 24 * 3_600_000)
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'rcaDeadline'],
      message: 'must be at most 24h (seed 002: RCA within 24 hours)',
    });
}
