import type { Pool } from 'pg';
import type { Policy } from '../common/policy-schema';
import { createNotifyActivities, type Notifier } from './notify';
import { createPolicyActivities } from './policy';
import { createSqlActivities } from './sql';

/** Everything the activities touch, injected so tests can pass real or fake dependencies. */
export interface ActivityDeps {
  /** The target database (ftf_config, ledger, notices). */
  db: Pool;
  policy: Policy;
  /** The canonical `base_env` (the policy's canonical payload file). */
  canonicalPayload: Record<string, unknown>;
  notifier: Notifier;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createPolicyActivities(deps),
    ...createSqlActivities(deps),
    ...createNotifyActivities(deps),
  };
}

export type RunbookActivities = ReturnType<typeof createActivities>;
export type { RunbookPolicySnapshot } from './policy';
export type * from './sql';
