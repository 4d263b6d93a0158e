import { z } from 'zod';
import { parseInput } from '../validation';
import { toHistorySummary, type HistoryRowSummary } from './ftf-config';
import type { PoolFor } from './ftf-config';

/**
 * The 30-day drill (seed 000): Procedure A against the staging copy, on a sentinel live row
 * (id 999 by default, created from the newest snapshot if missing), restoring the snapshot N
 * versions back. Only ever touches the staging database.
 */

export const ENSURE_SENTINEL_SQL = `INSERT INTO ftf_config (id, base_env, version, locked_by, updated_at, updated_by)
SELECT $1::int, base_env, version, locked_by, NOW(), 'break-glass-drill'
FROM ftf_config_history ORDER BY changed_at DESC, id DESC LIMIT 1
ON CONFLICT (id) DO NOTHING`;

export const VERSIONS_BACK_SQL = `SELECT id, version, changed_by, change_reason, changed_at
FROM ftf_config_history ORDER BY changed_at DESC, id DESC OFFSET $1::int LIMIT 1`;

export const prepareDrillInputSchema = z
  .object({ sentinelRowId: z.number().int().positive(), versionsBack: z.number().int().min(1).max(20) })
  .strict();
export type PrepareDrillInput = z.input<typeof prepareDrillInputSchema>;

export type PrepareDrillOutcome =
  | { status: 'ready'; sentinelCreated: boolean; target: HistoryRowSummary; historyRows: number }
  | { status: 'not_enough_history'; message: string; historyRows: number };

export async function prepareDrill(poolFor: PoolFor, raw: unknown): Promise<PrepareDrillOutcome> {
  const input = parseInput(prepareDrillInputSchema, raw, 'prepareDrill input');
  const staging = poolFor('staging');
  const created = await staging.query(ENSURE_SENTINEL_SQL, [input.sentinelRowId]);
  const counted = await staging.query<{ n: number }>('SELECT count(*)::int AS n FROM ftf_config_history');
  const historyRows = counted.rows[0]?.n ?? 0;
  const target = await staging.query<{
    id: string;
    version: string;
    changed_by: string;
    change_reason: string | null;
    changed_at: Date;
  }>(VERSIONS_BACK_SQL, [input.versionsBack]);
  const row = target.rows[0];
  if (!row) {
    return {
      status: 'not_enough_history',
      message: `the staging history has ${historyRows} rows; a ${input.versionsBack}-versions-back drill needs at least ${input.versionsBack + 1}`,
      historyRows,
    };
  }
  return {
    status: 'ready',
    sentinelCreated: (created.rowCount ?? 0) > 0,
    target: toHistorySummary(row),
    historyRows,
  };
}
