import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { z } from 'zod';

/**
 * Break-glass SQL against `ftf_config` / `ftf_config_history` (seed 000). Every statement uses
 * bound parameters; the texts below are what the post-mortem quotes verbatim.
 */

export type SqlParam = string | number;

export interface SqlStatement {
  label: string;
  sql: string;
  params: SqlParam[];
}

export interface HistoryRowSummary {
  id: number;
  version: string;
  changedBy: string;
  changeReason: string | null;
  changedAt: string;
}

export interface KeyChange {
  key: string;
  kind: 'changed' | 'added' | 'removed';
  from?: unknown;
  to?: unknown;
}

export interface BaseEnvDiff {
  changed: number;
  added: number;
  removed: number;
  unchanged: number;
  changes: KeyChange[];
}

export interface LiveRowState {
  version: string;
  lockedBy: string | null;
  updatedAt: string;
  updatedBy: string;
  /** sha256 of (version, locked_by, updated_by, updated_at, base_env): any write changes it. */
  fingerprint: string;
}

// ---------------------------------------------------------------------------------------------
// Statements

/** Step 1 of Procedure A: the 20 newest history rows. */
export const RECENT_HISTORY_SQL = `SELECT id, version, changed_by, change_reason, changed_at
FROM ftf_config_history
ORDER BY changed_at DESC, id DESC
LIMIT 20`;

/** sha256 over the whole live row: any write (even a no-op version bump) changes it. */
export const FINGERPRINT_EXPR = `encode(sha256(convert_to(jsonb_build_array(version, locked_by, updated_by, extract(epoch FROM updated_at)::text, base_env)::text, 'UTF8')), 'hex')`;

export const READ_LIVE_ROW_SQL = `SELECT version, locked_by, updated_by, updated_at, base_env, ${FINGERPRINT_EXPR} AS fingerprint
FROM ftf_config WHERE id = $1::int`;

export const LOCK_LIVE_ROW_SQL = `SELECT version, locked_by, updated_by, updated_at, ${FINGERPRINT_EXPR} AS fingerprint
FROM ftf_config WHERE id = $1::int
FOR UPDATE`;

export const READ_HISTORY_ROW_SQL = `SELECT id, version, locked_by, changed_by, change_reason, parent_id, tags, changed_at, base_env
FROM ftf_config_history WHERE id = $1::bigint`;

/** The target snapshot, locked against edits until the restore commits (it must be the approved one). */
export const LOCK_TARGET_ROW_SQL = `SELECT base_env FROM ftf_config_history WHERE id = $1::bigint
FOR SHARE`;

export const UPSERT_LIVE_FROM_HISTORY_SQL = `INSERT INTO ftf_config (id, base_env, version, locked_by, updated_at, updated_by)
SELECT $3::int, base_env, version || '_restored_' || $2::text, locked_by, NOW(), 'break-glass-' || $2::text
FROM ftf_config_history WHERE id = $1::bigint
ON CONFLICT (id) DO UPDATE SET
  base_env = EXCLUDED.base_env,
  version = EXCLUDED.version,
  updated_at = NOW(),
  updated_by = EXCLUDED.updated_by`;

export const APPEND_RESTORE_HISTORY_SQL = `INSERT INTO ftf_config_history (base_env, version, locked_by, changed_by, change_reason, parent_id, diff, tags)
SELECT base_env, version || '_restored_' || $2::text, locked_by, 'break-glass-' || $2::text,
       'break-glass restore from id=' || $1::bigint || ', incident=' || $2::text, $1::bigint,
       jsonb_build_object('restored_from', $1::bigint),
       jsonb_build_array('break-glass', 'adr-90', $2::text)
FROM ftf_config_history WHERE id = $1::bigint
RETURNING id, changed_at`;

export const NEWEST_BREAK_GLASS_ROW_SQL = `SELECT id, version, changed_by, change_reason, tags, changed_at
FROM ftf_config_history
WHERE tags ? 'break-glass'
ORDER BY changed_at DESC, id DESC
LIMIT 1`;

export const FIND_RECONCILING_WRITE_SQL = `SELECT id, version, changed_by, changed_at
FROM ftf_config_history
WHERE id > $1::bigint AND change_reason = 'break-glass-' || $2::text
ORDER BY id
LIMIT 1`;

/** The statements Procedure A executes, with their bound parameters, in order. */
export function restoreStatements(
  incidentId: string,
  targetHistoryId: number,
  liveRowId: number,
): SqlStatement[] {
  return [
    {
      label: 'lock the live row and re-check it against the plan',
      sql: LOCK_LIVE_ROW_SQL,
      params: [liveRowId],
    },
    {
      label: 'lock the target snapshot and re-check it against the approved plan',
      sql: LOCK_TARGET_ROW_SQL,
      params: [targetHistoryId],
    },
    {
      label: 'upsert the live row from the target snapshot',
      sql: UPSERT_LIVE_FROM_HISTORY_SQL,
      params: [targetHistoryId, incidentId, liveRowId],
    },
    {
      label: 'append the break-glass history row',
      sql: APPEND_RESTORE_HISTORY_SQL,
      params: [targetHistoryId, incidentId],
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Which database and which live row (the drill works on a sentinel row of the staging copy)

export const liveTargetFields = {
  database: z.enum(['target', 'staging']).default('target'),
  liveRowId: z.number().int().positive().max(2_147_483_647).default(1),
};

export type Database = z.output<typeof liveTargetFields.database>;

/** Chooses the pool of a database (the worker's target, or the staging copy for the drill). */
export type PoolFor = (database: Database) => Pool;

// ---------------------------------------------------------------------------------------------
// Row mapping

interface HistoryDbRow {
  id: string;
  version: string;
  changed_by: string;
  change_reason: string | null;
  changed_at: Date;
}

export function toId(value: string | number): number {
  const id = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(id)) throw new Error(`id ${String(value)} is not a safe integer`);
  return id;
}

export function toHistorySummary(row: HistoryDbRow): HistoryRowSummary {
  return {
    id: toId(row.id),
    version: row.version,
    changedBy: row.changed_by,
    changeReason: row.change_reason,
    changedAt: row.changed_at.toISOString(),
  };
}

interface LiveDbRow {
  version: string;
  locked_by: string | null;
  updated_by: string;
  updated_at: Date;
  fingerprint: string;
  base_env?: Record<string, unknown>;
}

function toLiveState(row: LiveDbRow): LiveRowState {
  return {
    version: row.version,
    lockedBy: row.locked_by,
    updatedAt: row.updated_at.toISOString(),
    updatedBy: row.updated_by,
    fingerprint: row.fingerprint,
  };
}

/** Locks the live row and returns its state (with fingerprint), or undefined when it is absent. */
export async function lockLiveRow(db: PoolClient, liveRowId: number): Promise<LiveRowState | undefined> {
  const result = await db.query<LiveDbRow>(LOCK_LIVE_ROW_SQL, [liveRowId]);
  const row = result.rows[0];
  return row ? toLiveState(row) : undefined;
}

export async function readRecentHistory(db: Pool | PoolClient): Promise<HistoryRowSummary[]> {
  const result = await db.query<HistoryDbRow>(RECENT_HISTORY_SQL);
  return result.rows.map(toHistorySummary);
}

export async function readLiveRow(
  db: Pool | PoolClient,
  liveRowId: number,
): Promise<(LiveRowState & { baseEnv: Record<string, unknown> }) | undefined> {
  const result = await db.query<LiveDbRow & { base_env: Record<string, unknown> }>(READ_LIVE_ROW_SQL, [
    liveRowId,
  ]);
  const row = result.rows[0];
  return row ? { ...toLiveState(row), baseEnv: row.base_env } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Diff and hashing

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Key-by-key diff of two `base_env` objects, keys sorted for a stable plan. */
export function diffBaseEnv(current: Record<string, unknown>, target: Record<string, unknown>): BaseEnvDiff {
  const keys = [...new Set([...Object.keys(current), ...Object.keys(target)])].sort();
  const changes: KeyChange[] = [];
  let unchanged = 0;
  for (const key of keys) {
    const inCurrent = Object.hasOwn(current, key);
    const inTarget = Object.hasOwn(target, key);
    if (inCurrent && inTarget) {
      if (sameJson(current[key], target[key])) unchanged += 1;
      else changes.push({ key, kind: 'changed', from: current[key], to: target[key] });
    } else if (inTarget) {
      changes.push({ key, kind: 'added', to: target[key] });
    } else {
      changes.push({ key, kind: 'removed', from: current[key] });
    }
  }
  return {
    changed: changes.filter((c) => c.kind === 'changed').length,
    added: changes.filter((c) => c.kind === 'added').length,
    removed: changes.filter((c) => c.kind === 'removed').length,
    unchanged,
    changes,
  };
}

/** JSON with object keys sorted, so equal content always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export const snapshotHashSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a 64-hex sha256');

/** The hash of a `base_env` snapshot as approved: what the transaction and the verification compare. */
export function snapshotHash(baseEnv: Record<string, unknown>): string {
  return sha256Hex(canonicalJson(baseEnv));
}

// ---------------------------------------------------------------------------------------------
// Canonical payload comparison (seed 000 step 4.3: the seed script's NEW / EQUAL / CONFLICT)

export interface CanonicalComparison {
  total: number;
  new: number;
  equal: number;
  conflict: number;
  /** Live keys the canonical payload does not have (reported, not counted by the seed script). */
  extra: number;
  conflictKeys: string[];
  newKeys: string[];
}

export function compareWithCanonical(
  live: Record<string, unknown>,
  canonical: Record<string, unknown>,
): CanonicalComparison {
  const conflictKeys: string[] = [];
  const newKeys: string[] = [];
  let equal = 0;
  const canonicalKeys = Object.keys(canonical).sort();
  for (const key of canonicalKeys) {
    if (!Object.hasOwn(live, key)) newKeys.push(key);
    else if (sameJson(live[key], canonical[key])) equal += 1;
    else conflictKeys.push(key);
  }
  const extra = Object.keys(live).filter((key) => !Object.hasOwn(canonical, key)).length;
  return {
    total: canonicalKeys.length,
    new: newKeys.length,
    equal,
    conflict: conflictKeys.length,
    extra,
    conflictKeys,
    newKeys,
  };
}
