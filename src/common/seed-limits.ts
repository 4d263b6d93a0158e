/**
 * The seeds' durations that no policy (except a test-only one) and no input may shorten. Kept apart
 * from the policy schemas so workflow code can check an input override without the whole policy.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Seed 000, the break-glass gating ritual. */
export const SEED_LIMITS = {
  pauseFloorMs: 2 * MINUTE,
  reconciliationDeadlineMaxMs: 60 * MINUTE,
  postMortemDeadlineMaxMs: 24 * HOUR,
} as const;

/**
 * Seed 002 §3: the canary is watched 4 h, phase 2 24 h, and each later batch through its day
 * ("1-2 repos/day"). Policies and input overrides may lengthen these holds, never shorten them.
 */
export const REENABLEMENT_HOLD_FLOORS = {
  canaryHold: 4 * HOUR,
  phase2Hold: 24 * HOUR,
  batchHold: 24 * HOUR,
} as const;
