import { z } from 'zod';
import {
  breakGlassActor,
  hpoKeyFields,
  hpoKeyOf,
  incidentIdSchema,
  NUMERIC_VALUE,
} from '../../common/break-glass';
import { parseInput } from '../validation';
import {
  canonicalJson,
  FINGERPRINT_EXPR,
  liveTargetFields,
  LOCK_LIVE_ROW_SQL,
  lockLiveRow,
  sha256Hex,
  type LiveRowState,
  type PoolFor,
  type SqlStatement,
} from './ftf-config';
import { checkBreakGlassHistoryRow, staleRefusal, type HistoryRowCheck, type StaleRefusal } from './checks';
import { approvedWriteFields, ledgeredWrite, Rollback, type CommittedWrite } from './ledger';

/**
 * Procedure B (seed 000): an urgent single-key edit while the Console is down. `jsonb_set` with
 * create_missing = false on an existing key only; 0 rows changed → roll back, no history row.
 * The key is built from enum-checked parts and every value is a bound parameter.
 */

export const READ_KEY_SQL = `SELECT base_env ? $2::text AS present, base_env ->> $2::text AS current_value,
       jsonb_typeof(base_env -> $2::text) AS current_type, version, locked_by, updated_by, updated_at,
       ${FINGERPRINT_EXPR} AS fingerprint
FROM ftf_config WHERE id = $1::int`;

export const UPDATE_KEY_SQL = `UPDATE ftf_config
SET base_env = jsonb_set(base_env, ARRAY[$1::text], to_jsonb($2::text), false), -- create_missing = false: never add a key
    version = version || '_breakglass_' || $3::text,
    updated_at = NOW(),
    updated_by = 'break-glass-' || $3::text
WHERE id = $4::int
  AND base_env ? $1::text`;

export const APPEND_EDIT_HISTORY_SQL = `INSERT INTO ftf_config_history (base_env, version, locked_by, changed_by, change_reason, parent_id, diff, tags)
SELECT base_env, version, locked_by, 'break-glass-' || $1::text,
       'urgent value edit during Console UI outage, incident=' || $1::text, NULL,
       jsonb_build_object('key', $2::text, 'to', $3::text),
       jsonb_build_array('break-glass', 'console-outage', 'adr-90', $1::text)
FROM ftf_config WHERE id = $4::int
RETURNING id, changed_at`;

export function consoleEditStatements(
  incidentId: string,
  key: string,
  newValue: string,
  liveRowId: number,
): SqlStatement[] {
  return [
    {
      label: 'lock the live row and re-check it against the plan',
      sql: LOCK_LIVE_ROW_SQL,
      params: [liveRowId],
    },
    {
      label: 'set the key (existing key only)',
      sql: UPDATE_KEY_SQL,
      params: [key, newValue, incidentId, liveRowId],
    },
    {
      label: 'append the break-glass history row',
      sql: APPEND_EDIT_HISTORY_SQL,
      params: [incidentId, key, newValue, liveRowId],
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Plan

export const planConsoleEditInputSchema = z
  .object({
    incidentId: incidentIdSchema,
    ...hpoKeyFields,
    newValue: z.string().max(10_000),
    ...liveTargetFields,
  })
  .strict();
export type PlanConsoleEditInput = z.input<typeof planConsoleEditInputSchema>;

export interface ConsoleEditPlan {
  incidentId: string;
  key: string;
  currentValue: string | null;
  currentType: string | null;
  newValue: string;
  numericKey: boolean;
  live: LiveRowState;
  statements: SqlStatement[];
  expectedVersion: string;
  planHash: string;
  plannedAt: string;
  database: 'target' | 'staging';
  liveRowId: number;
}

export type PlanConsoleEditOutcome =
  | { status: 'ready'; plan: ConsoleEditPlan }
  | { status: 'key_not_found'; message: string }
  | { status: 'invalid_value'; message: string }
  | { status: 'unchanged'; message: string }
  | { status: 'live_row_missing'; message: string };

export async function planConsoleEdit(poolFor: PoolFor, raw: unknown): Promise<PlanConsoleEditOutcome> {
  const input = parseInput(planConsoleEditInputSchema, raw, 'planConsoleEdit input');
  const key = hpoKeyOf(input);
  const result = await poolFor(input.database).query<{
    present: boolean;
    current_value: string | null;
    current_type: string | null;
    version: string;
    locked_by: string | null;
    updated_by: string;
    updated_at: Date;
    fingerprint: string;
  }>(READ_KEY_SQL, [input.liveRowId, key]);
  const row = result.rows[0];
  if (!row) {
    return {
      status: 'live_row_missing',
      message: `ftf_config row id=${input.liveRowId} is missing: use Procedure D (rebootstrap).`,
    };
  }
  if (!row.present) {
    return {
      status: 'key_not_found',
      message: `${key} does not exist in ftf_config.base_env: Procedure B only edits an existing key (check MODEL / TF / PARAM). Nothing was changed.`,
    };
  }
  const numericKey =
    row.current_type === 'number' || (row.current_value !== null && NUMERIC_VALUE.test(row.current_value));
  if (numericKey && !NUMERIC_VALUE.test(input.newValue)) {
    return {
      status: 'invalid_value',
      message: `${key} holds a number (${row.current_value}); the new value must match ^-?[0-9]+(\\.[0-9]+)?$ (got ${JSON.stringify(input.newValue)}).`,
    };
  }
  if (row.current_value === input.newValue && row.current_type === 'string') {
    return {
      status: 'unchanged',
      message: `${key} is already ${JSON.stringify(input.newValue)}: nothing to do.`,
    };
  }
  const live: LiveRowState = {
    version: row.version,
    lockedBy: row.locked_by,
    updatedAt: row.updated_at.toISOString(),
    updatedBy: row.updated_by,
    fingerprint: row.fingerprint,
  };
  const statements = consoleEditStatements(input.incidentId, key, input.newValue, input.liveRowId);
  return {
    status: 'ready',
    plan: {
      incidentId: input.incidentId,
      key,
      currentValue: row.current_value,
      currentType: row.current_type,
      newValue: input.newValue,
      numericKey,
      live,
      statements,
      expectedVersion: `${row.version}_breakglass_${input.incidentId}`,
      planHash: sha256Hex(
        canonicalJson({
          runbook: 'breakGlassConsoleEdit',
          key,
          newValue: input.newValue,
          liveFingerprint: live.fingerprint,
          statements,
        }),
      ),
      plannedAt: new Date().toISOString(),
      database: input.database,
      liveRowId: input.liveRowId,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Execute

export const executeConsoleEditInputSchema = z
  .object({ ...approvedWriteFields, ...hpoKeyFields, newValue: z.string().max(10_000) })
  .strict();
export type ExecuteConsoleEditInput = z.input<typeof executeConsoleEditInputSchema>;

export interface ConsoleEditCommitted extends CommittedWrite {
  status: 'edited';
  key: string;
}

export type ExecuteConsoleEditOutcome =
  | ConsoleEditCommitted
  | StaleRefusal
  | { status: 'key_not_found'; message: string }
  | { status: 'live_row_missing'; message: string };

export async function executeConsoleEdit(poolFor: PoolFor, raw: unknown): Promise<ExecuteConsoleEditOutcome> {
  const input = parseInput(executeConsoleEditInputSchema, raw, 'executeConsoleEdit input');
  const key = hpoKeyOf(input);
  const ledger = { ...input, runbook: 'breakGlassConsoleEdit', step: 'execute_console_edit' };
  return ledgeredWrite<
    Omit<ConsoleEditCommitted, keyof CommittedWrite>,
    Exclude<ExecuteConsoleEditOutcome, ConsoleEditCommitted>
  >(poolFor(input.database), ledger, async (client) => {
    const live = await lockLiveRow(client, input.liveRowId);
    if (!live) {
      return new Rollback({
        status: 'live_row_missing' as const,
        message: `ftf_config row id=${input.liveRowId} is missing; nothing was written.`,
      });
    }
    if (live.fingerprint !== input.expectedFingerprint) {
      return new Rollback(staleRefusal(live, input.expectedFingerprint, input.liveRowId));
    }
    const updated = await client.query(UPDATE_KEY_SQL, [
      key,
      input.newValue,
      input.incidentId,
      input.liveRowId,
    ]);
    if (updated.rowCount !== 1) {
      return new Rollback({
        status: 'key_not_found' as const,
        message:
          `Procedure B aborted: UPDATE matched 0 rows (${key} not found in base_env of ftf_config id=${input.liveRowId}). ` +
          'Rolled back; no history row was written. Verify the key spelling.',
      });
    }
    const appended = await client.query<{ id: string; changed_at: Date }>(APPEND_EDIT_HISTORY_SQL, [
      input.incidentId,
      key,
      input.newValue,
      input.liveRowId,
    ]);
    return {
      historyRow: appended.rows[0],
      statements: consoleEditStatements(input.incidentId, key, input.newValue, input.liveRowId),
      fields: { status: 'edited' as const, key },
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Verify (seed: "as Procedure A step 4, but check only the targeted key")

export const verifyConsoleEditInputSchema = z
  .object({
    incidentId: incidentIdSchema,
    ...hpoKeyFields,
    newValue: z.string().max(10_000),
    historyId: z.number().int().positive(),
    expectedVersion: z.string().min(1),
    ...liveTargetFields,
  })
  .strict();
export type VerifyConsoleEditInput = z.input<typeof verifyConsoleEditInputSchema>;

export interface ConsoleEditVerification {
  ok: boolean;
  key: string;
  value: string | null;
  liveRow: { ok: boolean; version: string | null; updatedBy: string | null; problems: string[] };
  historyRow: HistoryRowCheck;
}

export async function verifyConsoleEdit(poolFor: PoolFor, raw: unknown): Promise<ConsoleEditVerification> {
  const input = parseInput(verifyConsoleEditInputSchema, raw, 'verifyConsoleEdit input');
  const key = hpoKeyOf(input);
  const pool = poolFor(input.database);
  const live = await pool.query<{ value: string | null; version: string; updated_by: string }>(
    'SELECT base_env ->> $2::text AS value, version, updated_by FROM ftf_config WHERE id = $1::int',
    [input.liveRowId, key],
  );
  const row = live.rows[0];
  const problems: string[] = [];
  if (!row) problems.push(`ftf_config id=${input.liveRowId} is missing`);
  else {
    if (row.value !== input.newValue)
      problems.push(`${key} is ${JSON.stringify(row.value)}, expected ${JSON.stringify(input.newValue)}`);
    if (row.version !== input.expectedVersion)
      problems.push(`version is ${row.version}, expected ${input.expectedVersion}`);
    if (row.updated_by !== breakGlassActor(input.incidentId))
      problems.push(`updated_by is ${row.updated_by}`);
  }
  const historyRow = await checkBreakGlassHistoryRow(pool, {
    incidentId: input.incidentId,
    historyId: input.historyId,
    tags: ['break-glass', 'console-outage', 'adr-90', input.incidentId],
  });
  return {
    ok: problems.length === 0 && historyRow.ok,
    key,
    value: row?.value ?? null,
    liveRow: {
      ok: problems.length === 0,
      version: row?.version ?? null,
      updatedBy: row?.updated_by ?? null,
      problems,
    },
    historyRow,
  };
}
