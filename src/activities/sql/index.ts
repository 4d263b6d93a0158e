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
    async planRestore(input: PlanRestoreInput): Promise<PlanRestoreOutcome> {
      return planRestore(deps.db, input);
    },
    /** Procedure A step 3: the one restore transaction (fingerprint-guarded, ledgered). */
    async executeRestore(input: ExecuteRestoreInput): Promise<ExecuteRestoreOutcome> {
      return executeRestore(deps.db, input);
    },
    /** Procedure A step 4: live row, tagged history row, canonical NEW/EQUAL/CONFLICT. */
    async verifyRestore(input: VerifyRestoreInput): Promise<RestoreVerification> {
      return verifyRestore(deps.db, deps.canonicalPayload, input);
    },
    /** Gating ritual gate 2: the reconciling Console write carrying change_reason = break-glass-<incident>. */
    async findReconcilingWrite(input: FindReconcilingWriteInput): Promise<ReconcilingWrite> {
      return findReconcilingWrite(deps.db, input);
    },
  };
}

export type * from './restore';
export type * from './ftf-config';
