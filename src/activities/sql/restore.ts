import { z } from 'zod';
import { breakGlassActor, historyIdSchema, incidentIdSchema } from '../../common/break-glass';
import { parseInput } from '../validation';
import {
  APPEND_RESTORE_HISTORY_SQL,
  canonicalJson,
  compareWithCanonical,
  diffBaseEnv,
  FIND_RECONCILING_WRITE_SQL,
  liveTargetFields,
  lockLiveRow,
  LOCK_TARGET_ROW_SQL,
  READ_HISTORY_ROW_SQL,
  readLiveRow,
  readRecentHistory,
  restoreStatements,
  sha256Hex,
  snapshotHash,
  snapshotHashSchema,
  toId,
  UPSERT_LIVE_FROM_HISTORY_SQL,
  type BaseEnvDiff,
  type CanonicalComparison,
  type Database,
  type HistoryRowSummary,
  type LiveRowState,
  type PoolFor,
  type SqlStatement,
} from './ftf-config';
import { checkBreakGlassHistoryRow, staleRefusal, type HistoryRowCheck, type StaleRefusal } from './checks';
import { approvedWriteFields, ledgeredWrite, Rollback, type CommittedWrite } from './ledger';

/**
 * Procedure A (seed 000): inspect & plan, the one restore transaction, verification and the
 * reconciliation check. Each function takes the database chooser; the activities wrap them.
 */

// ---------------------------------------------------------------------------------------------
// Plan

export const planRestoreInputSchema = z
  .object({ incidentId: incidentIdSchema, targetHistoryId: historyIdSchema, ...liveTargetFields })
  .strict();
export type PlanRestoreInput = z.input<typeof planRestoreInputSchema>;

export interface RestoreTarget {
  id: number;
  version: string;
  changedBy: string;
  changeReason: string | null;
  changedAt: string;
  parentId: number | null;
  tags: unknown;
  keyCount: number;
  /** sha256 of the snapshot's `base_env` as planned: the transaction refuses if it changed since. */
  baseEnvHash: string;
}

/** Keys the seed's Step 1 samples to sanity-check a snapshot. */
export const SAMPLE_KEYS = ['CVN_HPO_LGB_5M_LEARNING_RATE', 'CVN_HPO_XGB_5M_N_ESTIMATORS'] as const;

export interface RestorePlan {
  incidentId: string;
  targetHistoryId: number;
  database: Database;
  liveRowId: number;
  target: RestoreTarget;
  live: LiveRowState & { keyCount: number };
  recentHistory: HistoryRowSummary[];
  diff: BaseEnvDiff;
  samples: { key: string; current: unknown; target: unknown }[];
  /**
   * The target snapshot against the canonical payload, before approval (seed 000 step 4.3 computed
   * ahead): CONFLICT > 0 means an operator-tuned snapshot, or the wrong id. Absent in plans
   * recorded before it was computed.
   */
  canonical?: CanonicalComparison;
  statements: SqlStatement[];
  /** `ftf_config.version` after the restore. */
  expectedVersion: string;
  /** sha256 of everything above that the approver is agreeing to. */
  planHash: string;
  plannedAt: string;
}

export type PlanRestoreOutcome =
  | { status: 'ready'; plan: RestorePlan }
  | { status: 'target_not_found'; message: string; recentHistory: HistoryRowSummary[] }
  | { status: 'live_row_missing'; message: string; recentHistory: HistoryRowSummary[] };

interface HistoryFullRow {
  id: string;
  version: string;
  locked_by: string | null;
  changed_by: string;
  change_reason: string | null;
  parent_id: string | null;
  tags: unknown;
  changed_at: Date;
  base_env: Record<string, unknown>;
}

export async function planRestore(
  poolFor: PoolFor,
  canonicalPayload: Record<string, unknown>,
  raw: unknown,
): Promise<PlanRestoreOutcome> {
  const input = parseInput(planRestoreInputSchema, raw, 'planRestore input');
  const pool = poolFor(input.database);
  const recentHistory = await readRecentHistory(pool);
  const targetResult = await pool.query<HistoryFullRow>(READ_HISTORY_ROW_SQL, [input.targetHistoryId]);
  const targetRow = targetResult.rows[0];
  if (!targetRow) {
    return {
      status: 'target_not_found',
      message:
        `ftf_config_history.id=${input.targetHistoryId} does not exist. Pick the id from the recent history ` +
        `(newest: ${recentHistory.map((row) => row.id).join(', ') || 'none'}) and start again.`,
      recentHistory,
    };
  }
  const live = await readLiveRow(pool, input.liveRowId);
  if (!live) {
    return {
      status: 'live_row_missing',
      message: `ftf_config row id=${input.liveRowId} is missing: Procedure A cannot restore it; use Procedure D (rebootstrap).`,
      recentHistory,
    };
  }
  const target: RestoreTarget = {
    id: toId(targetRow.id),
    version: targetRow.version,
    changedBy: targetRow.changed_by,
    changeReason: targetRow.change_reason,
    changedAt: targetRow.changed_at.toISOString(),
    parentId: targetRow.parent_id === null ? null : toId(targetRow.parent_id),
    tags: targetRow.tags,
    keyCount: Object.keys(targetRow.base_env).length,
    baseEnvHash: snapshotHash(targetRow.base_env),
  };
  const { baseEnv: liveEnv, ...liveState } = live;
  const diff = diffBaseEnv(liveEnv, targetRow.base_env);
  const statements = restoreStatements(input.incidentId, input.targetHistoryId, input.liveRowId);
  const expectedVersion = `${targetRow.version}_restored_${input.incidentId}`;
  const hashed = {
    runbook: 'breakGlassRestore',
    incidentId: input.incidentId,
    database: input.database,
    liveRowId: input.liveRowId,
    targetHistoryId: input.targetHistoryId,
    targetVersion: target.version,
    targetBaseEnvHash: target.baseEnvHash,
    liveFingerprint: liveState.fingerprint,
    statements,
  };
  return {
    status: 'ready',
    plan: {
      incidentId: input.incidentId,
      targetHistoryId: input.targetHistoryId,
      database: input.database,
      liveRowId: input.liveRowId,
      target,
      live: { ...liveState, keyCount: Object.keys(liveEnv).length },
      recentHistory,
      diff,
      samples: SAMPLE_KEYS.map((key) => ({
        key,
        current: liveEnv[key] ?? null,
        target: targetRow.base_env[key] ?? null,
      })),
      canonical: compareWithCanonical(targetRow.base_env, canonicalPayload),
      statements,
      expectedVersion,
      planHash: sha256Hex(canonicalJson(hashed)),
      plannedAt: new Date().toISOString(),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Execute: one transaction, guarded by the plan's fingerprint and the idempotency ledger

export const executeRestoreInputSchema = z
  .object({
    ...approvedWriteFields,
    targetHistoryId: historyIdSchema,
    /** The target snapshot's hash in the approved plan (absent in runs planned before it was recorded). */
    expectedTargetHash: snapshotHashSchema.optional(),
  })
  .strict();
export type ExecuteRestoreInput = z.input<typeof executeRestoreInputSchema>;

export interface RestoreCommitted extends CommittedWrite {
  status: 'restored';
}

/** The target history row is not the snapshot the approver saw: refuse, nothing written. */
export interface TargetChangedRefusal {
  status: 'plan_stale';
  reason: 'target_snapshot_changed';
  message: string;
  approvedTargetHash: string;
  actualTargetHash: string;
}

export type ExecuteRestoreOutcome =
  | RestoreCommitted
  | StaleRefusal
  | TargetChangedRefusal
  | { status: 'target_not_found'; message: string }
  | { status: 'live_row_missing'; message: string };

export async function executeRestore(poolFor: PoolFor, raw: unknown): Promise<ExecuteRestoreOutcome> {
  const input = parseInput(executeRestoreInputSchema, raw, 'executeRestore input');
  const ledger = { ...input, runbook: 'breakGlassRestore', step: 'execute_restore' };
  return ledgeredWrite<
    Omit<RestoreCommitted, keyof CommittedWrite>,
    Exclude<ExecuteRestoreOutcome, RestoreCommitted>
  >(poolFor(input.database), ledger, async (client) => {
    const live = await lockLiveRow(client, input.liveRowId);
    if (!live) {
      return new Rollback({
        status: 'live_row_missing' as const,
        message: `ftf_config row id=${input.liveRowId} disappeared after the plan was approved; nothing was written. Use Procedure D.`,
      });
    }
    if (live.fingerprint !== input.expectedFingerprint) {
      return new Rollback(staleRefusal(live, input.expectedFingerprint, input.liveRowId));
    }
    const target = await client.query<{ base_env: Record<string, unknown> }>(LOCK_TARGET_ROW_SQL, [
      input.targetHistoryId,
    ]);
    const targetRow = target.rows[0];
    if (!targetRow) {
      return new Rollback({
        status: 'target_not_found' as const,
        message:
          `Procedure A aborted: ftf_config_history.id=${input.targetHistoryId} does not exist. ` +
          'Nothing was written and no history row was added. Verify the id from the plan, then start again.',
      });
    }
    const actualTargetHash = snapshotHash(targetRow.base_env);
    if (input.expectedTargetHash !== undefined && actualTargetHash !== input.expectedTargetHash) {
      return new Rollback({
        status: 'plan_stale' as const,
        reason: 'target_snapshot_changed' as const,
        message:
          `ftf_config_history.id=${input.targetHistoryId} was edited after the plan was approved (its base_env ` +
          `hash was ${input.expectedTargetHash.slice(0, 12)}…, now ${actualTargetHash.slice(0, 12)}…); nothing was written. ` +
          'Find out who edited the history row, then start a new run to re-plan against it.',
        approvedTargetHash: input.expectedTargetHash,
        actualTargetHash,
      });
    }
    await client.query(UPSERT_LIVE_FROM_HISTORY_SQL, [
      input.targetHistoryId,
      input.incidentId,
      input.liveRowId,
    ]);
    const appended = await client.query<{ id: string; changed_at: Date }>(APPEND_RESTORE_HISTORY_SQL, [
      input.targetHistoryId,
      input.incidentId,
    ]);
    return {
      historyRow: appended.rows[0],
      statements: restoreStatements(input.incidentId, input.targetHistoryId, input.liveRowId),
      fields: { status: 'restored' as const },
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Verify (seed 000 step 4)

export const verifyRestoreInputSchema = z
  .object({
    incidentId: incidentIdSchema,
    targetHistoryId: historyIdSchema,
    restoreHistoryId: historyIdSchema,
    expectedVersion: z.string().min(1),
    /** The approved target snapshot's hash: the live row must match it, whatever the history row says now. */
    approvedTargetHash: snapshotHashSchema.optional(),
    ...liveTargetFields,
  })
  .strict();
export type VerifyRestoreInput = z.input<typeof verifyRestoreInputSchema>;

export interface RestoreVerification {
  ok: boolean;
  liveRow: {
    ok: boolean;
    version: string | null;
    updatedAt: string | null;
    updatedBy: string | null;
    matchesTargetSnapshot: boolean;
    problems: string[];
  };
  historyRow: HistoryRowCheck;
  canonical: CanonicalComparison;
}

export async function verifyRestore(
  poolFor: PoolFor,
  canonicalPayload: Record<string, unknown>,
  raw: unknown,
): Promise<RestoreVerification> {
  const input = parseInput(verifyRestoreInputSchema, raw, 'verifyRestore input');
  const pool = poolFor(input.database);
  const actor = breakGlassActor(input.incidentId);

  const live = await pool.query<{
    version: string;
    updated_at: Date;
    updated_by: string;
    base_env: Record<string, unknown>;
    matches_target: boolean | null;
  }>(
    `SELECT version, updated_at, updated_by, base_env,
            base_env = (SELECT base_env FROM ftf_config_history WHERE id = $1::bigint) AS matches_target
     FROM ftf_config WHERE id = $2::int`,
    [input.targetHistoryId, input.liveRowId],
  );
  const liveRow = live.rows[0];
  // Against the snapshot the approver saw; runs planned before its hash was recorded compare with the row.
  const matchesTarget =
    liveRow !== undefined &&
    (input.approvedTargetHash !== undefined
      ? snapshotHash(liveRow.base_env) === input.approvedTargetHash
      : liveRow.matches_target === true);
  const liveProblems: string[] = [];
  if (!liveRow) liveProblems.push(`ftf_config id=${input.liveRowId} is missing`);
  else {
    if (liveRow.version !== input.expectedVersion)
      liveProblems.push(`version is ${liveRow.version}, expected ${input.expectedVersion}`);
    if (liveRow.updated_by !== actor)
      liveProblems.push(`updated_by is ${liveRow.updated_by}, expected ${actor}`);
    if (!matchesTarget) liveProblems.push('base_env differs from the approved target snapshot');
  }

  const historyRow = await checkBreakGlassHistoryRow(pool, {
    incidentId: input.incidentId,
    historyId: input.restoreHistoryId,
    tags: ['break-glass', 'adr-90', input.incidentId],
  });
  const canonical = compareWithCanonical(liveRow?.base_env ?? {}, canonicalPayload);
  const liveOk = liveProblems.length === 0;
  return {
    ok: liveOk && historyRow.ok,
    liveRow: {
      ok: liveOk,
      version: liveRow?.version ?? null,
      updatedAt: liveRow?.updated_at.toISOString() ?? null,
      updatedBy: liveRow?.updated_by ?? null,
      matchesTargetSnapshot: matchesTarget,
      problems: liveProblems,
    },
    historyRow,
    canonical,
  };
}

// ---------------------------------------------------------------------------------------------
// Reconciliation (gating ritual, gate 2)

export const findReconcilingWriteInputSchema = z
  .object({
    incidentId: incidentIdSchema,
    afterHistoryId: historyIdSchema,
    database: liveTargetFields.database,
  })
  .strict();
export type FindReconcilingWriteInput = z.input<typeof findReconcilingWriteInputSchema>;

export type ReconcilingWrite =
  | { found: false; checkedAt: string }
  | { found: true; checkedAt: string; id: number; version: string; changedBy: string; changedAt: string };

export async function findReconcilingWrite(poolFor: PoolFor, raw: unknown): Promise<ReconcilingWrite> {
  const input = parseInput(findReconcilingWriteInputSchema, raw, 'findReconcilingWrite input');
  const result = await poolFor(input.database).query<{
    id: string;
    version: string;
    changed_by: string;
    changed_at: Date;
  }>(FIND_RECONCILING_WRITE_SQL, [input.afterHistoryId, input.incidentId]);
  const checkedAt = new Date().toISOString();
  const row = result.rows[0];
  if (!row) return { found: false, checkedAt };
  return {
    found: true,
    checkedAt,
    id: toId(row.id),
    version: row.version,
    changedBy: row.changed_by,
    changedAt: row.changed_at.toISOString(),
  };
}
