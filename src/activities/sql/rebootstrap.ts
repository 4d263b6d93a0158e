import { z } from 'zod';
import type { PoolClient } from 'pg';
import { breakGlassActor, incidentIdSchema } from '../../common/break-glass';
import { parseInput } from '../validation';
import {
  canonicalJson,
  compareWithCanonical,
  liveTargetFields,
  sha256Hex,
  snapshotHash,
  snapshotHashSchema,
  toId,
  type CanonicalComparison,
  type PoolFor,
  type SqlStatement,
} from './ftf-config';
import { checkBreakGlassHistoryRow, type HistoryRowCheck } from './checks';
import { approvedWriteFields, ledgeredWrite, Rollback, type CommittedWrite } from './ledger';

/**
 * Procedure D (seed 000): the live row is missing. Re-bootstrap it from the newest history
 * snapshot in one transaction that rolls back if a concurrent insert won the race; with an empty
 * history, apply the canonical payload instead (the canonical seed path, not a break-glass write).
 */

export const NEWEST_HISTORY_SQL = `SELECT id, version, changed_by, change_reason, changed_at, base_env
FROM ftf_config_history ORDER BY changed_at DESC, id DESC LIMIT 1`;

/** The same row inside the transaction, locked against edits until the insert commits. */
export const LOCK_NEWEST_HISTORY_SQL = `${NEWEST_HISTORY_SQL}
FOR SHARE`;

export const INSERT_LIVE_FROM_HISTORY_SQL = `INSERT INTO ftf_config (id, base_env, version, locked_by, updated_at, updated_by)
SELECT $3::int, base_env, version || '_rebootstrap_' || $2::text, locked_by, NOW(), 'break-glass-' || $2::text
FROM ftf_config_history WHERE id = $1::bigint
ON CONFLICT (id) DO NOTHING`;

export const APPEND_REBOOTSTRAP_HISTORY_SQL = `INSERT INTO ftf_config_history (base_env, version, locked_by, changed_by, change_reason, parent_id, diff, tags)
SELECT base_env, version, locked_by, 'break-glass-' || $1::text,
       'rebootstrap after missing ftf_config.id=' || $2::int || ', incident=' || $1::text, NULL,
       jsonb_build_object('rebootstrap', true),
       jsonb_build_array('break-glass', 'rebootstrap', 'adr-90', $1::text)
FROM ftf_config WHERE id = $2::int
RETURNING id, changed_at`;

export const INSERT_LIVE_CANONICAL_SQL = `INSERT INTO ftf_config (id, base_env, version, locked_by, updated_at, updated_by)
VALUES ($1::int, $2::jsonb, $3::text, NULL, NOW(), $4::text)
ON CONFLICT (id) DO NOTHING`;

export const APPEND_CANONICAL_HISTORY_SQL = `INSERT INTO ftf_config_history (base_env, version, locked_by, changed_by, change_reason, parent_id, diff, tags)
VALUES ($1::jsonb, $2::text, NULL, $3::text, $4::text, NULL, jsonb_build_object('canonical_seed', true), '["seed", "canonical"]'::jsonb)
RETURNING id, changed_at`;

/** Who the canonical seed path writes as: a normal seeding write, not a break-glass one. */
export const CANONICAL_SEED_ACTOR = 'seed_hyperparams_console.py --apply (breakGlassRebootstrap)';

export type RebootstrapSource =
  | {
      kind: 'history';
      historyId: number;
      version: string;
      changedBy: string;
      changedAt: string;
      /** sha256 of the snapshot's `base_env` as planned (absent in plans made before it was recorded). */
      baseEnvHash?: string;
    }
  | { kind: 'canonical'; keyCount: number; payloadHash: string; version: string };

export interface RebootstrapPlan {
  incidentId: string;
  liveRowId: number;
  database: 'target' | 'staging';
  source: RebootstrapSource;
  statements: SqlStatement[];
  /** The source snapshot against the canonical payload, shown before approval (seed 000 step 4.3 ahead). */
  canonical?: CanonicalComparison;
  /** Identifies the state the plan expects: no live row, and this newest history row (or none). */
  expectedFingerprint: string;
  planHash: string;
  plannedAt: string;
}

export type PlanRebootstrapOutcome =
  | { status: 'ready'; plan: RebootstrapPlan }
  | { status: 'row_exists'; message: string; newestHistoryId: number | null };

export const planRebootstrapInputSchema = z
  .object({ incidentId: incidentIdSchema, ...liveTargetFields })
  .strict();
export type PlanRebootstrapInput = z.input<typeof planRebootstrapInputSchema>;

function fingerprintOf(newestHistoryId: number | null): string {
  return sha256Hex(canonicalJson({ liveRow: 'absent', newestHistoryId }));
}

function canonicalVersion(incidentId: string): string {
  return `canonical_seed_${incidentId}`;
}

function describePayload(payloadHash: string, keyCount: number): string {
  return `<canonical payload: ${keyCount} keys, sha256 ${payloadHash}>`;
}

type StatementSource =
  | { kind: 'history'; historyId: number }
  | { kind: 'canonical'; keyCount: number; payloadHash: string; version: string };

export function rebootstrapStatements(
  incidentId: string,
  liveRowId: number,
  source: StatementSource,
): SqlStatement[] {
  if (source.kind === 'history') {
    return [
      {
        label: 'insert the live row from the newest history snapshot (a concurrent insert wins)',
        sql: INSERT_LIVE_FROM_HISTORY_SQL,
        params: [source.historyId, incidentId, liveRowId],
      },
      {
        label: 'append the rebootstrap history row',
        sql: APPEND_REBOOTSTRAP_HISTORY_SQL,
        params: [incidentId, liveRowId],
      },
    ];
  }
  const payload = describePayload(source.payloadHash, source.keyCount);
  return [
    {
      label: 'insert the live row from the canonical payload',
      sql: INSERT_LIVE_CANONICAL_SQL,
      params: [liveRowId, payload, source.version, CANONICAL_SEED_ACTOR],
    },
    {
      label: 'append the canonical seed history row',
      sql: APPEND_CANONICAL_HISTORY_SQL,
      params: [payload, source.version, CANONICAL_SEED_ACTOR, '<policy seedingChangeReason>'],
    },
  ];
}

export async function planRebootstrap(
  poolFor: PoolFor,
  canonicalPayload: Record<string, unknown>,
  raw: unknown,
): Promise<PlanRebootstrapOutcome> {
  const input = parseInput(planRebootstrapInputSchema, raw, 'planRebootstrap input');
  const pool = poolFor(input.database);
  const newest = await pool.query<{
    id: string;
    version: string;
    changed_by: string;
    changed_at: Date;
    base_env: Record<string, unknown>;
  }>(NEWEST_HISTORY_SQL);
  const newestRow = newest.rows[0];
  const exists = await pool.query('SELECT 1 FROM ftf_config WHERE id = $1::int', [input.liveRowId]);
  if ((exists.rowCount ?? 0) > 0) {
    return {
      status: 'row_exists',
      message:
        `ftf_config row id=${input.liveRowId} exists: ROW_EXISTS_USE_PROCEDURE_A_NOT_D. Procedure D is refused; ` +
        (newestRow
          ? `to restore, run Procedure A (newest history id is ${newestRow.id}).`
          : 'the history is empty.'),
      newestHistoryId: newestRow ? toId(newestRow.id) : null,
    };
  }
  const source: RebootstrapSource = newestRow
    ? {
        kind: 'history',
        historyId: toId(newestRow.id),
        version: newestRow.version,
        changedBy: newestRow.changed_by,
        changedAt: newestRow.changed_at.toISOString(),
        baseEnvHash: snapshotHash(newestRow.base_env),
      }
    : {
        kind: 'canonical',
        keyCount: Object.keys(canonicalPayload).length,
        payloadHash: sha256Hex(canonicalJson(canonicalPayload)),
        version: canonicalVersion(input.incidentId),
      };
  const statements = rebootstrapStatements(input.incidentId, input.liveRowId, source);
  const expectedFingerprint = fingerprintOf(newestRow ? toId(newestRow.id) : null);
  return {
    status: 'ready',
    plan: {
      incidentId: input.incidentId,
      liveRowId: input.liveRowId,
      database: input.database,
      source,
      statements,
      canonical: compareWithCanonical(newestRow?.base_env ?? canonicalPayload, canonicalPayload),
      expectedFingerprint,
      planHash: sha256Hex(
        canonicalJson({ runbook: 'breakGlassRebootstrap', source, expectedFingerprint, statements }),
      ),
      plannedAt: new Date().toISOString(),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Execute

export const executeRebootstrapInputSchema = z
  .object({
    ...approvedWriteFields,
    seedingChangeReason: z.string().min(1),
    /** The source snapshot's hash in the approved plan (absent in runs planned before it was recorded). */
    expectedSourceHash: snapshotHashSchema.optional(),
  })
  .strict();
export type ExecuteRebootstrapInput = z.input<typeof executeRebootstrapInputSchema>;

export interface RebootstrapCommitted extends CommittedWrite {
  status: 'rebootstrapped' | 'canonical_seeded';
  source: RebootstrapSource['kind'];
}

export type ExecuteRebootstrapOutcome =
  | RebootstrapCommitted
  | { status: 'row_exists'; message: string }
  | { status: 'plan_stale'; message: string; reason?: 'source_snapshot_changed' };

/** The newest history row (locked) is still the one the approved plan saw, content included. */
async function sourceAsApproved(
  client: PoolClient,
  input: z.output<typeof executeRebootstrapInputSchema>,
): Promise<
  | { newestId: number | null }
  | Rollback<{ status: 'plan_stale'; message: string; reason?: 'source_snapshot_changed' }>
> {
  const newest = await client.query<{ id: string; base_env: Record<string, unknown> }>(
    LOCK_NEWEST_HISTORY_SQL,
  );
  const row = newest.rows[0];
  const newestId = row ? toId(row.id) : null;
  if (fingerprintOf(newestId) !== input.expectedFingerprint) {
    return new Rollback({
      status: 'plan_stale' as const,
      message: `ftf_config_history changed after the plan was made (newest id now ${newestId ?? 'none'}); nothing was written. Start a new run.`,
    });
  }
  if (
    input.expectedSourceHash !== undefined &&
    (!row || snapshotHash(row.base_env) !== input.expectedSourceHash)
  ) {
    return new Rollback({
      status: 'plan_stale' as const,
      reason: 'source_snapshot_changed' as const,
      message:
        `ftf_config_history.id=${newestId} was edited after the plan was approved (its base_env is not the ` +
        'approved snapshot); nothing was written. Find out who edited the history row, then start a new run.',
    });
  }
  return { newestId };
}

export async function executeRebootstrap(
  poolFor: PoolFor,
  canonicalPayload: Record<string, unknown>,
  raw: unknown,
): Promise<ExecuteRebootstrapOutcome> {
  const input = parseInput(executeRebootstrapInputSchema, raw, 'executeRebootstrap input');
  const ledger = { ...input, runbook: 'breakGlassRebootstrap', step: 'execute_rebootstrap' };
  return ledgeredWrite<
    Omit<RebootstrapCommitted, keyof CommittedWrite>,
    Exclude<ExecuteRebootstrapOutcome, RebootstrapCommitted>
  >(poolFor(input.database), ledger, async (client) => {
    const fresh = await sourceAsApproved(client, input);
    if (fresh instanceof Rollback) return fresh;
    const newestId = fresh.newestId;
    const rowExists = new Rollback({
      status: 'row_exists' as const,
      message:
        `rebootstrap aborted: ftf_config(id=${input.liveRowId}) was already present (a concurrent insert won the race). ` +
        'Rolled back; no history row was written. Use Procedure A instead.',
    });
    let source: StatementSource;
    let historyRow: { id: string; changed_at: Date } | undefined;
    if (newestId !== null) {
      const inserted = await client.query(INSERT_LIVE_FROM_HISTORY_SQL, [
        newestId,
        input.incidentId,
        input.liveRowId,
      ]);
      if (inserted.rowCount !== 1) return rowExists;
      historyRow = (
        await client.query<{ id: string; changed_at: Date }>(APPEND_REBOOTSTRAP_HISTORY_SQL, [
          input.incidentId,
          input.liveRowId,
        ])
      ).rows[0];
      source = { kind: 'history', historyId: newestId };
    } else {
      const payload = JSON.stringify(canonicalPayload);
      const version = canonicalVersion(input.incidentId);
      const inserted = await client.query(INSERT_LIVE_CANONICAL_SQL, [
        input.liveRowId,
        payload,
        version,
        CANONICAL_SEED_ACTOR,
      ]);
      if (inserted.rowCount !== 1) return rowExists;
      historyRow = (
        await client.query<{ id: string; changed_at: Date }>(APPEND_CANONICAL_HISTORY_SQL, [
          payload,
          version,
          CANONICAL_SEED_ACTOR,
          input.seedingChangeReason,
        ])
      ).rows[0];
      source = {
        kind: 'canonical',
        keyCount: Object.keys(canonicalPayload).length,
        payloadHash: sha256Hex(canonicalJson(canonicalPayload)),
        version,
      };
    }
    return {
      historyRow,
      statements: rebootstrapStatements(input.incidentId, input.liveRowId, source),
      fields: {
        status: source.kind === 'history' ? ('rebootstrapped' as const) : ('canonical_seeded' as const),
        source: source.kind,
      },
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Verify

export const verifyRebootstrapInputSchema = z
  .object({
    incidentId: incidentIdSchema,
    historyId: z.number().int().positive(),
    source: z.enum(['history', 'canonical']),
    sourceHistoryId: z.number().int().positive().nullable(),
    /** The approved source snapshot's hash: the live row must match it, whatever the history row says now. */
    approvedSourceHash: snapshotHashSchema.optional(),
    ...liveTargetFields,
  })
  .strict();
export type VerifyRebootstrapInput = z.input<typeof verifyRebootstrapInputSchema>;

export interface RebootstrapVerification {
  ok: boolean;
  liveRow: { ok: boolean; version: string | null; updatedBy: string | null; problems: string[] };
  historyRow: HistoryRowCheck | { ok: boolean; id: number; problems: string[] };
  canonical: CanonicalComparison;
}

export async function verifyRebootstrap(
  poolFor: PoolFor,
  canonicalPayload: Record<string, unknown>,
  raw: unknown,
): Promise<RebootstrapVerification> {
  const input = parseInput(verifyRebootstrapInputSchema, raw, 'verifyRebootstrap input');
  const pool = poolFor(input.database);
  const live = await pool.query<{
    version: string;
    updated_by: string;
    base_env: Record<string, unknown>;
    matches: boolean | null;
  }>(
    `SELECT version, updated_by, base_env,
            base_env = (SELECT base_env FROM ftf_config_history WHERE id = $2::bigint) AS matches
     FROM ftf_config WHERE id = $1::int`,
    [input.liveRowId, input.sourceHistoryId ?? input.historyId],
  );
  const row = live.rows[0];
  const problems: string[] = [];
  if (!row) problems.push(`ftf_config id=${input.liveRowId} is still missing`);
  else {
    const matches =
      input.approvedSourceHash !== undefined
        ? snapshotHash(row.base_env) === input.approvedSourceHash
        : row.matches === true;
    if (!matches) problems.push('base_env differs from the approved source snapshot');
    const expectedActor =
      input.source === 'history' ? breakGlassActor(input.incidentId) : CANONICAL_SEED_ACTOR;
    if (row.updated_by !== expectedActor)
      problems.push(`updated_by is ${row.updated_by}, expected ${expectedActor}`);
  }
  const historyRow =
    input.source === 'history'
      ? await checkBreakGlassHistoryRow(pool, {
          incidentId: input.incidentId,
          historyId: input.historyId,
          tags: ['break-glass', 'rebootstrap', 'adr-90', input.incidentId],
        })
      : await (async () => {
          const seeded = await pool.query<{ tags: unknown }>(
            'SELECT tags FROM ftf_config_history WHERE id = $1::bigint',
            [input.historyId],
          );
          const tags = (seeded.rows[0]?.tags ?? []) as unknown[];
          const rowProblems = seeded.rows[0]
            ? tags.includes('break-glass')
              ? ['the canonical seed row must not be tagged break-glass']
              : []
            : ['history row missing'];
          return { ok: rowProblems.length === 0, id: input.historyId, problems: rowProblems };
        })();
  const canonical = compareWithCanonical(row?.base_env ?? {}, canonicalPayload);
  return {
    ok: problems.length === 0 && historyRow.ok,
    liveRow: {
      ok: problems.length === 0,
      version: row?.version ?? null,
      updatedBy: row?.updated_by ?? null,
      problems,
    },
    historyRow,
    canonical,
  };
}
