import { z } from 'zod';
import { handleSchema } from '../../common/identity';

/**
 * Crossing an incident's change freeze (seed 004 §1.3) on purpose: who and why, in the runbook's
 * input. Recorded in Postgres (change_freeze_crossings) and flagged in the run.
 */
export const freezeOverrideSchema = z
  .object({
    by: handleSchema,
    reason: z
      .string()
      .trim()
      .min(1, 'must say why this change cannot wait for the freeze to lift')
      .max(1_000),
  })
  .strict();
export type FreezeOverride = z.output<typeof freezeOverrideSchema>;
