import { z } from 'zod';
import { incidentIdSchema } from '../../common/break-glass';
import { parseInput } from '../validation';
import { liveTargetFields, toHistorySummary, type HistoryRowSummary } from './ftf-config';
import type { PoolFor } from './ftf-config';

/**
 * Procedure C (seed 000): after a `--force-overwrite` accident, the pre-clobber snapshot is the
 * newest history row before the newest seeding write whose change_reason is not the seeding reason.
 */

export const NEWEST_SEEDING_ROW_SQL = `SELECT id, version, changed_by, change_reason, changed_at
FROM ftf_config_history WHERE change_reason = $1::text
ORDER BY changed_at DESC, id DESC LIMIT 1`;

export const PRE_CLOBBER_CANDIDATE_SQL = `SELECT id, version, changed_by, change_reason, changed_at
FROM ftf_config_history
WHERE (changed_at, id) < ($2::timestamptz, $3::bigint)
  AND change_reason IS DISTINCT FROM $1::text
ORDER BY changed_at DESC, id DESC LIMIT 1`;

export const findPreClobberInputSchema = z
  .object({
    incidentId: incidentIdSchema,
    seedingChangeReason: z.string().min(1),
    database: liveTargetFields.database,
  })
  .strict();
export type FindPreClobberInput = z.input<typeof findPreClobberInputSchema>;

export type PreClobberOutcome =
  | { status: 'candidate'; clobber: HistoryRowSummary; candidate: HistoryRowSummary; explanation: string }
  | { status: 'no_seeding_row'; explanation: string }
  | { status: 'no_candidate'; clobber: HistoryRowSummary; explanation: string };

export async function findPreClobber(poolFor: PoolFor, raw: unknown): Promise<PreClobberOutcome> {
  const input = parseInput(findPreClobberInputSchema, raw, 'findPreClobber input');
  const pool = poolFor(input.database);
  const seeding = await pool.query<{
    id: string;
    version: string;
    changed_by: string;
    change_reason: string | null;
    changed_at: Date;
  }>(NEWEST_SEEDING_ROW_SQL, [input.seedingChangeReason]);
  const seedingRow = seeding.rows[0];
  if (!seedingRow) {
    return {
      status: 'no_seeding_row',
      explanation: `No history row has change_reason '${input.seedingChangeReason}': there was no --force-overwrite seeding write to recover from. Use Procedure A with a chosen id.`,
    };
  }
  const clobber = toHistorySummary(seedingRow);
  const candidateResult = await pool.query<{
    id: string;
    version: string;
    changed_by: string;
    change_reason: string | null;
    changed_at: Date;
  }>(PRE_CLOBBER_CANDIDATE_SQL, [input.seedingChangeReason, seedingRow.changed_at, seedingRow.id]);
  const candidateRow = candidateResult.rows[0];
  if (!candidateRow) {
    return {
      status: 'no_candidate',
      clobber,
      explanation:
        `The newest seeding write is id=${clobber.id} (${clobber.changedAt}) and no earlier row has another change_reason: ` +
        'there are no operator-tuned values to recover. Nothing to restore.',
    };
  }
  const candidate = toHistorySummary(candidateRow);
  return {
    status: 'candidate',
    clobber,
    candidate,
    explanation:
      `The newest seeding write (the clobber) is id=${clobber.id} at ${clobber.changedAt} ("${clobber.changeReason}"). ` +
      `The newest earlier row whose change_reason is not the seeding reason is id=${candidate.id} (version ${candidate.version}, ` +
      `${candidate.changedBy} at ${candidate.changedAt}: "${candidate.changeReason ?? ''}"): the pre-clobber snapshot.`,
  };
}
