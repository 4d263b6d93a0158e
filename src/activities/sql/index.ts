import type { Pool } from 'pg';
import {
  executeRestore,
  findReconcilingWrite,
  planRestore,
  verifyRestore,
  type ExecuteRestoreInput,
  type ExecuteRestoreOutcome,
  type FindReconcilingWriteInput,
  type PlanRestoreInput,
  type PlanRestoreOutcome,
  type ReconcilingWrite,
  type RestoreVerification,
  type VerifyRestoreInput,
} from './restore';

export function createSqlActivities(deps: { db: Pool; canonicalPayload: Record<string, unknown> }) {
  return {
    /** Procedure A step 1: recent history, target snapshot, key-by-key diff, statements, fingerprint. */
    planRestore: (input: PlanRestoreInput): Promise<PlanRestoreOutcome> => planRestore(deps.db, input),
    /** Procedure A step 3: the one restore transaction (fingerprint-guarded, ledgered). */
    executeRestore: (input: ExecuteRestoreInput): Promise<ExecuteRestoreOutcome> =>
      executeRestore(deps.db, input),
    /** Procedure A step 4: live row, tagged history row, canonical NEW/EQUAL/CONFLICT. */
    verifyRestore: (input: VerifyRestoreInput): Promise<RestoreVerification> =>
      verifyRestore(deps.db, deps.canonicalPayload, input),
    /** Gating ritual gate 2: the reconciling Console write carrying change_reason = break-glass-<incident>. */
    findReconcilingWrite: (input: FindReconcilingWriteInput): Promise<ReconcilingWrite> =>
      findReconcilingWrite(deps.db, input),
  };
}

export type * from './restore';
export type * from './ftf-config';
