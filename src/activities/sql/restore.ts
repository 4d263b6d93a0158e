import type { Pool, PoolClient } from 'pg';
import { z } from 'zod';
import { breakGlassActor, historyIdSchema, incidentIdSchema } from '../../common/break-glass';
import { parseInput } from '../validation';
import {
  APPEND_RESTORE_HISTORY_SQL,
  ASSERT_TARGET_EXISTS_SQL,
  canonicalJson,
  compareWithCanonical,
  diffBaseEnv,
  FIND_RECONCILING_WRITE_SQL,
  LOCK_LIVE_ROW_SQL,
  NEWEST_BREAK_GLASS_ROW_SQL,
  READ_HISTORY_ROW_SQL,
  readLiveRow,
  readRecentHistory,
  restoreStatements,
  sha256Hex,
  toId,
  UPSERT_LIVE_FROM_HISTORY_SQL,
  type BaseEnvDiff,
  type CanonicalComparison,
  type HistoryRowSummary,
  type LiveRowState,
  type SqlStatement,
} from './ftf-config';

/**
 * Procedure A (seed 000): inspect & plan, the one restore transaction, verification and the
 * reconciliation check. Each function takes the target pool; the activities wrap them.
 */

// ---------------------------------------------------------------------------------------------
// Plan

export const planRestoreInputSchema = z
  .object({ incidentId: incidentIdSchema, targetHistoryId: historyIdSchema })
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
}

/** Keys the seed's Step 1 samples to sanity-check a snapshot. */
export const SAMPLE_KEYS = ['CVN_HPO_LGB_5M_LEARNING_RATE', 'CVN_HPO_XGB_5M_N_ESTIMATORS'] as const;

export interface RestorePlan {
  incidentId: string;
  targetHistoryId: number;
  target: RestoreTarget;
  live: LiveRowState & { keyCount: number };
  recentHistory: HistoryRowSummary[];
  diff: BaseEnvDiff;
  samples: { key: string; current: unknown; target: unknown }[];
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

export async function planRestore(pool: Pool, raw: unknown): Promise<PlanRestoreOutcome> {
  const input = parseInput(planRestoreInputSchema, raw, 'planRestore input');
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
  const live = await readLiveRow(pool);
  if (!live) {
    return {
      status: 'live_row_missing',
      message:
        'ftf_config row id=1 is missing: Procedure A cannot restore it; use Procedure D (rebootstrap).',
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
  };
  const { baseEnv: liveEnv, ...liveState } = live;
  const diff = diffBaseEnv(liveEnv, targetRow.base_env);
  const statements = restoreStatements(input.incidentId, input.targetHistoryId);
  const expectedVersion = `${targetRow.version}_restored_${input.incidentId}`;
  const hashed = {
    runbook: 'breakGlassRestore',
    incidentId: input.incidentId,
    targetHistoryId: input.targetHistoryId,
    targetVersion: target.version,
    targetBaseEnvHash: sha256Hex(canonicalJson(targetRow.base_env)),
    liveFingerprint: liveState.fingerprint,
    statements,
  };
  return {
    status: 'ready',
    plan: {
      incidentId: input.incidentId,
      targetHistoryId: input.targetHistoryId,
      target,
      live: { ...liveState, keyCount: Object.keys(liveEnv).length },
      recentHistory,
      diff,
      samples: SAMPLE_KEYS.map((key) => ({
        key,
        current: liveEnv[key] ?? null,
        target: targetRow.base_env[key] ?? null,
      })),
      statements,
      expectedVersion,
      planHash: sha256Hex(canonicalJson(hashed)),
      plannedAt: new Date().toISOString(),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Execute: one transaction, guarded by the plan's fingerprint and the idempotency ledger

const handleSchema = z.string().min(1).max(100);

export const executeRestoreInputSchema = z
  .object({
    ledgerKey: z.string().min(1).max(300),
    incidentId: incidentIdSchema,
    targetHistoryId: historyIdSchema,
    expectedFingerprint: z.string().regex(/^[0-9a-f]{64}$/, 'must be the live-row fingerprint from the plan'),
    planHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be the planHash'),
    workflowId: z.string().min(1),
    runId: z.string().min(1),
    requestedBy: handleSchema,
    approver: handleSchema,
    approvalLine: z.string().min(1),
    rationale: z.string().min(1).max(1_000),
  })
  .strict();
export type ExecuteRestoreInput = z.input<typeof executeRestoreInputSchema>;

export interface RestoreCommitted {
  status: 'restored';
  ledgerKey: string;
  historyId: number;
  historyChangedAt: string;
  liveVersion: string;
  committedAt: string;
  statements: SqlStatement[];
  /** True when this call found the ledger entry of an earlier, committed attempt. */
  replayed: boolean;
}

export type ExecuteRestoreOutcome =
  | RestoreCommitted
  | {
      status: 'plan_stale';
      message: string;
      expectedFingerprint: string;
      actualFingerprint: string;
      live: LiveRowState;
    }
  | { status: 'target_not_found'; message: string }
  | { status: 'live_row_missing'; message: string };

export const LEDGER_LOCK_SQL = 'SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))';
export const LEDGER_LOOKUP_SQL = 'SELECT result FROM runbook_ledger WHERE ledger_key = $1::text';
export const LEDGER_INSERT_SQL = `INSERT INTO runbook_ledger
  (ledger_key, runbook, step, incident_id, workflow_id, run_id, plan_hash, requested_by, approver, approval_line, rationale, statements, result)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13::jsonb)`;

/**
 * Looks up the ledger under a transaction-scoped advisory lock on the key, so two concurrent
 * attempts of the same step serialise and the second sees the first's committed entry.
 */
export async function lockAndReadLedger<T>(client: PoolClient, ledgerKey: string): Promise<T | undefined> {
  await client.query(LEDGER_LOCK_SQL, [ledgerKey]);
  const prior = await client.query<{ result: T }>(LEDGER_LOOKUP_SQL, [ledgerKey]);
  return prior.rows[0]?.result;
}

export async function executeRestore(pool: Pool, raw: unknown): Promise<ExecuteRestoreOutcome> {
  const input = parseInput(executeRestoreInputSchema, raw, 'executeRestore input');
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const prior = await lockAndReadLedger<RestoreCommitted>(client, input.ledgerKey);
    if (prior) {
      await client.query('ROLLBACK');
      return { ...prior, replayed: true };
    }

    const liveResult = await client.query<{
      version: string;
      locked_by: string | null;
      updated_by: string;
      updated_at: Date;
      fingerprint: string;
    }>(LOCK_LIVE_ROW_SQL);
    const liveRow = liveResult.rows[0];
    if (!liveRow) {
      await client.query('ROLLBACK');
      return {
        status: 'live_row_missing',
        message:
          'ftf_config row id=1 disappeared after the plan was approved; nothing was written. Use Procedure D.',
      };
    }
    if (liveRow.fingerprint !== input.expectedFingerprint) {
      await client.query('ROLLBACK');
      const live: LiveRowState = {
        version: liveRow.version,
        lockedBy: liveRow.locked_by,
        updatedAt: liveRow.updated_at.toISOString(),
        updatedBy: liveRow.updated_by,
        fingerprint: liveRow.fingerprint,
      };
      return {
        status: 'plan_stale',
        message:
          `ftf_config id=1 changed after the plan was made (now version ${live.version}, updated by ${live.updatedBy} ` +
          `at ${live.updatedAt}); nothing was written. Start a new run to re-plan against the current state.`,
        expectedFingerprint: input.expectedFingerprint,
        actualFingerprint: live.fingerprint,
        live,
      };
    }

    const exists = await client.query<{ n: number }>(ASSERT_TARGET_EXISTS_SQL, [input.targetHistoryId]);
    if ((exists.rows[0]?.n ?? 0) === 0) {
      await client.query('ROLLBACK');
      return {
        status: 'target_not_found',
        message:
          `Procedure A aborted: ftf_config_history.id=${input.targetHistoryId} does not exist. ` +
          'Nothing was written and no history row was added. Verify the id from the plan, then start again.',
      };
    }

    await client.query(UPSERT_LIVE_FROM_HISTORY_SQL, [input.targetHistoryId, input.incidentId]);
    const appended = await client.query<{ id: string; changed_at: Date }>(APPEND_RESTORE_HISTORY_SQL, [
      input.targetHistoryId,
      input.incidentId,
    ]);
    const historyRow = appended.rows[0];
    if (!historyRow) throw new Error('the history insert returned no row');
    const versionResult = await client.query<{ version: string; now: Date }>(
      'SELECT version, now() AS now FROM ftf_config WHERE id = 1',
    );
    const statements = restoreStatements(input.incidentId, input.targetHistoryId);
    const committed: RestoreCommitted = {
      status: 'restored',
      ledgerKey: input.ledgerKey,
      historyId: toId(historyRow.id),
      historyChangedAt: historyRow.changed_at.toISOString(),
      liveVersion: versionResult.rows[0]?.version ?? '',
      committedAt: (versionResult.rows[0]?.now ?? new Date()).toISOString(),
      statements,
      replayed: false,
    };
    await client.query(LEDGER_INSERT_SQL, [
      input.ledgerKey,
      'breakGlassRestore',
      'execute_restore',
      input.incidentId,
      input.workflowId,
      input.runId,
      input.planHash,
      input.requestedBy,
      input.approver,
      input.approvalLine,
      input.rationale,
      JSON.stringify(statements),
      JSON.stringify(committed),
    ]);
    await client.query('COMMIT');
    return committed;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

// ---------------------------------------------------------------------------------------------
// Verify (seed 000 step 4)

export const verifyRestoreInputSchema = z
  .object({
    incidentId: incidentIdSchema,
    targetHistoryId: historyIdSchema,
    restoreHistoryId: historyIdSchema,
    expectedVersion: z.string().min(1),
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
  historyRow: {
    ok: boolean;
    id: number | null;
    version: string | null;
    changedBy: string | null;
    changeReason: string | null;
    problems: string[];
  };
  canonical: CanonicalComparison;
}

export async function verifyRestore(
  pool: Pool,
  canonicalPayload: Record<string, unknown>,
  raw: unknown,
): Promise<RestoreVerification> {
  const input = parseInput(verifyRestoreInputSchema, raw, 'verifyRestore input');
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
     FROM ftf_config WHERE id = 1`,
    [input.targetHistoryId],
  );
  const liveRow = live.rows[0];
  const liveProblems: string[] = [];
  if (!liveRow) liveProblems.push('ftf_config id=1 is missing');
  else {
    if (liveRow.version !== input.expectedVersion)
      liveProblems.push(`version is ${liveRow.version}, expected ${input.expectedVersion}`);
    if (liveRow.updated_by !== actor)
      liveProblems.push(`updated_by is ${liveRow.updated_by}, expected ${actor}`);
    if (liveRow.matches_target !== true) liveProblems.push('base_env differs from the target snapshot');
  }

  const newest = await pool.query<{
    id: string;
    version: string;
    changed_by: string;
    change_reason: string | null;
    tags: unknown;
  }>(NEWEST_BREAK_GLASS_ROW_SQL);
  const historyRow = newest.rows[0];
  const historyProblems: string[] = [];
  if (!historyRow) historyProblems.push('no history row is tagged break-glass');
  else {
    if (toId(historyRow.id) !== input.restoreHistoryId)
      historyProblems.push(
        `newest break-glass row is id=${historyRow.id}, expected id=${input.restoreHistoryId}`,
      );
    if (historyRow.changed_by !== actor)
      historyProblems.push(`changed_by is ${historyRow.changed_by}, expected ${actor}`);
    const tags = Array.isArray(historyRow.tags) ? (historyRow.tags as unknown[]) : [];
    for (const tag of ['break-glass', 'adr-90', input.incidentId]) {
      if (!tags.includes(tag)) historyProblems.push(`tag "${tag}" missing`);
    }
  }

  const canonical = compareWithCanonical(liveRow?.base_env ?? {}, canonicalPayload);
  const liveOk = liveProblems.length === 0;
  const historyOk = historyProblems.length === 0;
  return {
    ok: liveOk && historyOk,
    liveRow: {
      ok: liveOk,
      version: liveRow?.version ?? null,
      updatedAt: liveRow?.updated_at.toISOString() ?? null,
      updatedBy: liveRow?.updated_by ?? null,
      matchesTargetSnapshot: liveRow?.matches_target === true,
      problems: liveProblems,
    },
    historyRow: {
      ok: historyOk,
      id: historyRow ? toId(historyRow.id) : null,
      version: historyRow?.version ?? null,
      changedBy: historyRow?.changed_by ?? null,
      changeReason: historyRow?.change_reason ?? null,
      problems: historyProblems,
    },
    canonical,
  };
}

// ---------------------------------------------------------------------------------------------
// Reconciliation (gating ritual, gate 2)

export const findReconcilingWriteInputSchema = z
  .object({ incidentId: incidentIdSchema, afterHistoryId: historyIdSchema })
  .strict();
export type FindReconcilingWriteInput = z.input<typeof findReconcilingWriteInputSchema>;

export type ReconcilingWrite =
  | { found: false; checkedAt: string }
  | { found: true; checkedAt: string; id: number; version: string; changedBy: string; changedAt: string };

export async function findReconcilingWrite(pool: Pool, raw: unknown): Promise<ReconcilingWrite> {
  const input = parseInput(findReconcilingWriteInputSchema, raw, 'findReconcilingWrite input');
  const result = await pool.query<{ id: string; version: string; changed_by: string; changed_at: Date }>(
    FIND_RECONCILING_WRITE_SQL,
    [input.afterHistoryId, input.incidentId],
  );
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
