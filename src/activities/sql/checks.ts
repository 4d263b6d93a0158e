import type { Pool } from 'pg';
import { breakGlassActor } from '../../common/break-glass';
import { NEWEST_BREAK_GLASS_ROW_SQL, toId, type LiveRowState } from './ftf-config';

/** Checks every break-glass procedure makes: the live row against the plan, the tagged history row. */

export type StaleRefusal = {
  status: 'plan_stale';
  message: string;
  expectedFingerprint: string;
  actualFingerprint: string;
  live: LiveRowState;
};

/** The live row is not the one the approved plan saw: refuse, nothing written. */
export function staleRefusal(
  live: LiveRowState,
  expectedFingerprint: string,
  liveRowId: number,
): StaleRefusal {
  return {
    status: 'plan_stale',
    message:
      `ftf_config id=${liveRowId} changed after the plan was made (now version ${live.version}, updated by ${live.updatedBy} ` +
      `at ${live.updatedAt}); nothing was written. Start a new run to re-plan against the current state.`,
    expectedFingerprint,
    actualFingerprint: live.fingerprint,
    live,
  };
}

export interface HistoryRowCheck {
  ok: boolean;
  id: number | null;
  version: string | null;
  changedBy: string | null;
  changeReason: string | null;
  problems: string[];
}

/** Seed step 4.2: the newest break-glass-tagged history row is ours, with the expected tags. */
export async function checkBreakGlassHistoryRow(
  pool: Pool,
  input: { incidentId: string; historyId: number; tags: string[] },
): Promise<HistoryRowCheck> {
  const newest = await pool.query<{
    id: string;
    version: string;
    changed_by: string;
    change_reason: string | null;
    tags: unknown;
  }>(NEWEST_BREAK_GLASS_ROW_SQL);
  const row = newest.rows[0];
  const actor = breakGlassActor(input.incidentId);
  const problems: string[] = [];
  if (!row) problems.push('no history row is tagged break-glass');
  else {
    if (toId(row.id) !== input.historyId)
      problems.push(`newest break-glass row is id=${row.id}, expected id=${input.historyId}`);
    if (row.changed_by !== actor) problems.push(`changed_by is ${row.changed_by}, expected ${actor}`);
    const tags = Array.isArray(row.tags) ? (row.tags as unknown[]) : [];
    for (const tag of input.tags) {
      if (!tags.includes(tag)) problems.push(`tag "${tag}" missing`);
    }
  }
  return {
    ok: problems.length === 0,
    id: row ? toId(row.id) : null,
    version: row?.version ?? null,
    changedBy: row?.changed_by ?? null,
    changeReason: row?.change_reason ?? null,
    problems,
  };
}
