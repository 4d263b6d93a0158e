import { z } from 'zod';
import { duration } from './fields';
import { sharedSchemas } from '../shared-schemas';

/**
 * How a run behaves when a step fails for good (retries exhausted, non-retryable, timed out): it
 * pages and shows `needs_human` until an operator decides (retry / skip / abort), paging again
 * every `repageInterval`; a safe-state action that fails is tried again with backoff between
 * `safeStateRetryInitial` and `safeStateRetryMax`.
 */
export const { failSafePolicySchema } = sharedSchemas('common/policy/fail-safe', () => ({
  failSafePolicySchema: z
    .object({
      repageInterval: duration.prefault('30m'),
      safeStateRetryInitial: duration.prefault('30s'),
      safeStateRetryMax: duration.prefault('10m'),
    })
    .strict(),
}));

export type FailSafePolicy = z.output<typeof failSafePolicySchema>;

/** What a run recorded before this section existed (an older history) falls back to. */
export const DEFAULT_FAIL_SAFE: FailSafePolicy = {
  repageInterval: 30 * 60_000,
  safeStateRetryInitial: 30_000,
  safeStateRetryMax: 10 * 60_000,
};
