import type { Pool } from 'pg';
import { z } from 'zod';
import { parseInput } from '../validation';

/**
 * Seed 004 §1.3 "Freeze. No new deploys to the affected env until green." An incident records its
 * freeze here; every mutating runbook reads it before its gate and refuses to cross it without an
 * explicit override, which is recorded too. Rows are keyed by incident and environment, so a retry
 * after the commit changes nothing; lifting keeps the row (the record of the freeze).
 */

const environment = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a lower-case environment name');
const handle = z.string().min(1).max(100);
const incidentId = z.string().min(1).max(100);
const instant = z.iso.datetime();

const setInputSchema = z
  .object({
    incidentId,
    environment,
    workflowId: z.string().min(1).max(300),
    by: handle,
    reason: z.string().min(1).max(2_000),
    at: instant,
  })
  .strict();
export type SetChangeFreezeInput = z.input<typeof setInputSchema>;

const liftInputSchema = z
  .object({
    incidentId,
    environment,
    by: handle,
    at: instant,
    /** Why, when it is lifted by hand rather than by the incident's resolution (recorded). */
    reason: z.string().min(1).max(2_000).optional(),
  })
  .strict();
export type LiftChangeFreezeInput = z.input<typeof liftInputSchema>;

const readInputSchema = z.object({ incidentId }).strict();
export type ReadIncidentFreezesInput = z.input<typeof readInputSchema>;

const checkInputSchema = z
  .object({
    /** Absent: the environment our runbooks act on (the incident policy's default). */
    environment: environment.optional(),
    runbook: z.string().min(1).max(100),
    workflowId: z.string().min(1).max(300),
    runId: z.string().min(1).max(100),
    incidentId,
    /** Cross an active freeze, recorded with who and why. */
    override: z
      .object({ by: handle, reason: z.string().min(1).max(2_000) })
      .strict()
      .optional(),
    at: instant,
  })
  .strict();
export type CheckChangeFreezeInput = z.input<typeof checkInputSchema>;

export interface ChangeFreeze {
  incidentId: string;
  environment: string;
  workflowId: string;
  frozenBy: string;
  reason: string;
  frozenAt: string;
  liftedAt?: string;
  liftedBy?: string;
  liftReason?: string;
}

export type FreezeCheck =
  | { environment: string; frozen: false }
  | { environment: string; frozen: true; freezes: ChangeFreeze[]; crossed: boolean };

interface FreezeRow {
  incident_id: string;
  environment: string;
  workflow_id: string;
  frozen_by: string;
  reason: string;
  frozen_at: Date;
  lifted_at: Date | null;
  lifted_by: string | null;
  lift_reason: string | null;
}

function toFreeze(row: FreezeRow): ChangeFreeze {
  return {
    incidentId: row.incident_id,
    environment: row.environment,
    workflowId: row.workflow_id,
    frozenBy: row.frozen_by,
    reason: row.reason,
    frozenAt: row.frozen_at.toISOString(),
    ...(row.lifted_at ? { liftedAt: row.lifted_at.toISOString() } : {}),
    ...(row.lifted_by ? { liftedBy: row.lifted_by } : {}),
    ...(row.lift_reason ? { liftReason: row.lift_reason } : {}),
  };
}

/** Freezes the environment for the incident (again, if it was lifted); returns the freeze as recorded. */
export async function setChangeFreeze(db: Pool, raw: SetChangeFreezeInput): Promise<ChangeFreeze> {
  const input = parseInput(setInputSchema, raw, 'setChangeFreeze input');
  const { rows } = await db.query<FreezeRow>(
    `INSERT INTO change_freezes (incident_id, environment, workflow_id, frozen_by, reason, frozen_at)
     VALUES ($1, $2, $3, $4, $5, $6::timestamptz)
     ON CONFLICT (incident_id, environment) DO UPDATE
       SET lifted_at = NULL, lifted_by = NULL, frozen_by = EXCLUDED.frozen_by,
           reason = EXCLUDED.reason, frozen_at = EXCLUDED.frozen_at
       WHERE change_freezes.lifted_at IS NOT NULL AND change_freezes.lifted_at < EXCLUDED.frozen_at
     RETURNING *`,
    [input.incidentId, input.environment, input.workflowId, input.by, input.reason, input.at],
  );
  // Nothing returned: already frozen (a retry, or frozen again while frozen): read what is recorded.
  return toFreeze(rows[0] ?? (await freezeRow(db, input.incidentId, input.environment)));
}

/** Lifts the incident's freeze; a retry finds it lifted and returns the same record. */
export async function liftChangeFreeze(db: Pool, raw: LiftChangeFreezeInput): Promise<ChangeFreeze | null> {
  const input = parseInput(liftInputSchema, raw, 'liftChangeFreeze input');
  await db.query(
    `UPDATE change_freezes SET lifted_at = $3::timestamptz, lifted_by = $4, lift_reason = $5
     WHERE incident_id = $1 AND environment = $2 AND lifted_at IS NULL`,
    [input.incidentId, input.environment, input.at, input.by, input.reason ?? null],
  );
  const row = await findFreeze(db, input.incidentId, input.environment);
  return row ? toFreeze(row) : null;
}

/** Every freeze the incident recorded, in force or lifted, oldest first. */
export async function readIncidentFreezes(db: Pool, raw: ReadIncidentFreezesInput): Promise<ChangeFreeze[]> {
  const input = parseInput(readInputSchema, raw, 'readIncidentFreezes input');
  const { rows } = await db.query<FreezeRow>(
    'SELECT * FROM change_freezes WHERE incident_id = $1 ORDER BY frozen_at, environment',
    [input.incidentId],
  );
  return rows.map(toFreeze);
}

async function findFreeze(db: Pool, incident: string, env: string): Promise<FreezeRow | undefined> {
  const { rows } = await db.query<FreezeRow>(
    'SELECT * FROM change_freezes WHERE incident_id = $1 AND environment = $2',
    [incident, env],
  );
  return rows[0];
}

async function freezeRow(db: Pool, incident: string, env: string): Promise<FreezeRow> {
  const row = await findFreeze(db, incident, env);
  if (!row) throw new Error(`change freeze ${incident}/${env} vanished while being set`);
  return row;
}

/**
 * The active freezes of the environment. With an override and a freeze in force, the crossing is
 * recorded (once per run) before the answer says it may go on.
 */
export async function checkChangeFreeze(
  db: Pool,
  defaultEnvironment: string,
  raw: CheckChangeFreezeInput,
): Promise<FreezeCheck> {
  const input = parseInput(checkInputSchema, raw, 'checkChangeFreeze input');
  const env = input.environment ?? defaultEnvironment;
  const { rows } = await db.query<FreezeRow>(
    'SELECT * FROM change_freezes WHERE environment = $1 AND lifted_at IS NULL ORDER BY frozen_at',
    [env],
  );
  if (rows.length === 0) return { environment: env, frozen: false };
  const freezes = rows.map(toFreeze);
  if (!input.override) return { environment: env, frozen: true, freezes, crossed: false };
  await db.query(
    `INSERT INTO change_freeze_crossings
       (crossing_key, environment, incident_ids, runbook, workflow_id, run_id, run_incident_id, by_handle, reason, at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz)
     ON CONFLICT (crossing_key) DO NOTHING`,
    [
      `${input.workflowId}/${input.runId}/${env}`,
      env,
      JSON.stringify(freezes.map((freeze) => freeze.incidentId)),
      input.runbook,
      input.workflowId,
      input.runId,
      input.incidentId,
      input.override.by,
      input.override.reason,
      input.at,
    ],
  );
  return { environment: env, frozen: true, freezes, crossed: true };
}
