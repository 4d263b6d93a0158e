import { z } from 'zod';
import { duration } from './fields';
import { REENABLEMENT_HOLD_FLOORS } from '../seed-limits';
import { gatePolicy } from './break-glass';

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
  if (policy.holdBounds.min < REENABLEMENT_HOLD_FLOORS.canaryHold)
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'holdBounds', 'min'],
      message: "must be at least 4h: no override may go below the seed's shortest hold (canary, 4h)",
    });
}
