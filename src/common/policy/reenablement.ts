import { z } from 'zod';
import { kubeContextName, kubernetesName } from '../names';
import { duration } from './fields';
import { REENABLEMENT_HOLD_FLOORS } from '../seed-limits';
import { gatePolicy } from './break-glass';

/**
 * Seed 002 §2, "fix verification (staging)": before any repo is re-enabled, the fix soaks in
 * staging for 2–4 h. It runs as a Kubernetes Job (it outlives any worker restart); the run reads
 * its result after the soak's duration. The job's last JSON log line is its summary:
 * {"successRate":0.995,"p95Seconds":84,"recurrences":0}.
 */
export const stagingSoakPolicySchema = z
  .object({
    /** Default: the orchestrator's context. */
    kubeContext: kubeContextName.optional(),
    namespace: kubernetesName.prefault('staging'),
    image: z.string().min(1).max(500),
    /** The soak test (argument array); the run adds --repos <the repos to re-enable> --duration <duration>. */
    command: z.array(z.string().min(1)).min(1),
    /** The soak's length (seed: 2–4 h minimum). */
    duration: duration.prefault('2h'),
    /** A soak still running this long after it started is a failed soak. */
    maxDuration: duration.prefault('4h'),
    /** How often a soak still running after its duration is read again. */
    pollInterval: duration.prefault('5m'),
    successRateMin: z.number().min(0).max(1).prefault(0.99),
    p95MaxSeconds: z.number().positive().prefault(120),
    /** Seed: "zero recurrence of incident symptoms". */
    recurrencesMax: z.number().int().min(0).prefault(0),
  })
  .strict()
  .refine((soak) => soak.maxDuration >= soak.duration, {
    message: 'must be at least the soak duration',
    path: ['maxDuration'],
  });
export type StagingSoakPolicy = z.output<typeof stagingSoakPolicySchema>;

/** Phased re-enablement (seed 002 §3) and "watch for green" (seed 003). */
export const phasedReenablementPolicySchema = z
  .object({
    /** Who approves moving past the canary to phase 2. */
    approvers: gatePolicy.approvers,
    soleOperator: gatePolicy.soleOperator,
    quorum: gatePolicy.quorum,
    requireSignedApprovals: gatePolicy.requireSignedApprovals,
    signatureMaxAge: gatePolicy.signatureMaxAge,
    approvalTimeout: duration.prefault('24h'),
    canaryHold: duration.prefault('4h'),
    phase2Hold: duration.prefault('24h'),
    /** Each day's batch in phase 3 (1–2 repos) holds this long. */
    batchHold: duration.prefault('24h'),
    reposPerDay: z.number().int().min(1).max(2).prefault(2),
    analysisInterval: duration.prefault('30m'),
    rolloutTimeout: duration.prefault('120s'),
    /** Overrides in the input must stay within these bounds. */
    holdBounds: z
      .object({ min: duration.prefault('4h'), max: duration.prefault('72h') })
      .strict()
      .prefault({}),
    successRateMin: z.number().min(0).max(1).prefault(0.99),
    p95MaxSeconds: z.number().positive().prefault(120),
    /** Seed 003: hold 10–15 min on the exit targets before declaring recovery. */
    watchForGreen: duration.prefault('15m'),
    watchInterval: duration.prefault('1m'),
    exitTargets: z
      .object({
        errorRateMax: z.number().min(0).max(1).prefault(0.005),
        p95BaselineSeconds: z.number().positive(),
        p95MaxIncrease: z.number().min(0).max(1).prefault(0.15),
      })
      .strict(),
    /** Seed 002 §2: a staging soak (or a signed waiver) before the canary; absent: not asked for. */
    stagingSoak: stagingSoakPolicySchema.optional(),
  })
  .strict()
  .refine((p) => p.watchForGreen >= 10 * 60_000 && p.watchForGreen <= 15 * 60_000, {
    message: 'must be between 10m and 15m (seed 003: "Hold ten to fifteen minutes")',
    path: ['watchForGreen'],
  });

export type PhasedReenablementPolicy = z.output<typeof phasedReenablementPolicySchema>;

const HOUR = 3_600_000;
export function checkReenablementFloors(policy: PhasedReenablementPolicy, ctx: z.RefinementCtx): void {
  const path = ['runbooks', 'phasedReenablement'];
  for (const [name, floor] of Object.entries(REENABLEMENT_HOLD_FLOORS) as [
    keyof typeof REENABLEMENT_HOLD_FLOORS,
    number,
  ][]) {
    if (policy[name] < floor)
      ctx.addIssue({
        code: 'custom',
        path: [...path, name],
        message: `must be at least ${floor / HOUR}h (seed 002 §3)`,
      });
  }
  const soak = policy.stagingSoak;
  if (soak && (soak.duration < 2 * HOUR || soak.duration > 4 * HOUR))
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'stagingSoak', 'duration'],
      message: 'must be between 2h and 4h (seed 002 §2: "Run soak test (2-4 hours minimum)")',
    });
  if (policy.holdBounds.min < REENABLEMENT_HOLD_FLOORS.canaryHold)
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'holdBounds', 'min'],
      message: "must be at least 4h: no override may go below the seed's shortest hold (canary, 4h)",
    });
}
