import type { Pool } from 'pg';

/**
 * The runbooks' own bookkeeping, in the target database so that a side effect and its ledger
 * entry commit in one transaction:
 * - runbook_ledger: one row per executed mutating step; a retried activity finds it and returns
 *   the first result instead of writing again.
 * - runbook_notices: every notice routed to the "log" channel, keyed by delivery key.
 * - runbook_deliveries: per (delivery key, channel), recorded before sending and marked delivered
 *   after, so a retried delivery to a channel without its own idempotency is not sent twice.
 * - backstop_story_events: each backstop story's programs (started, reopened, decisions, ended),
 *   beyond any one run: the waiver is single-use per story, a second program needs a reopen.
 * - change_freezes: an incident's deploy/change freeze per environment (seed 004 §1.3), set and
 *   lifted by the incident; change_freeze_crossings: each run that crossed one with an override.
 */
export const RUNBOOK_DDL = `
CREATE TABLE IF NOT EXISTS runbook_ledger (
  ledger_key    text        PRIMARY KEY,
  runbook       text        NOT NULL,
  step          text        NOT NULL,
  incident_id   text        NOT NULL,
  workflow_id   text        NOT NULL,
  run_id        text        NOT NULL,
  plan_hash     text        NOT NULL,
  requested_by  text        NOT NULL,
  approver      text        NOT NULL,
  approval_line text        NOT NULL,
  rationale     text        NOT NULL,
  statements    jsonb       NOT NULL,
  result        jsonb       NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS runbook_notices (
  delivery_key  text        PRIMARY KEY,
  runbook       text        NOT NULL,
  incident_id   text        NOT NULL,
  workflow_id   text        NOT NULL,
  kind          text        NOT NULL,
  severity      text        NOT NULL,
  audience      text        NOT NULL,
  subject       text        NOT NULL,
  body          text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS runbook_deliveries (
  delivery_key     text        NOT NULL,
  channel          text        NOT NULL,
  state            text        NOT NULL CHECK (state IN ('sending', 'delivered')),
  attempts         integer     NOT NULL DEFAULT 1,
  receipt          jsonb,
  first_attempt_at timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  PRIMARY KEY (delivery_key, channel)
);

CREATE TABLE IF NOT EXISTS backstop_story_events (
  entry_key    text        PRIMARY KEY,
  story_id     text        NOT NULL,
  kind         text        NOT NULL CHECK (kind IN ('started', 'reopened', 'decision', 'ended')),
  workflow_id  text        NOT NULL,
  run_id       text        NOT NULL,
  by_handle    text,
  decision     text,
  outcome      text,
  detail       text        NOT NULL DEFAULT '',
  at           timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS backstop_story_events_story ON backstop_story_events (story_id, at);

-- A program's claim of its story in one round trip (it was five statements: begin, lock, read,
-- insert, commit). Versioned by name: a changed claim is a new function beside this one, so
-- workers of the previous release keep theirs during a rolling deploy.
CREATE OR REPLACE FUNCTION backstop_claim_story_v1(
  p_story_id text, p_workflow_id text, p_run_id text, p_at timestamptz,
  p_reopen_by text, p_reopen_reason text
) RETURNS TABLE (allowed boolean, events jsonb)
LANGUAGE plpgsql VOLATILE AS $claim$
DECLARE
  v_events jsonb;
  v_mine boolean;
  v_previous boolean;
BEGIN
  -- One claim of a story at a time. The read below is a statement of its own, so (a volatile
  -- function, read committed) its snapshot is taken after the lock is granted and sees a claim
  -- committed meanwhile; the lock is held until the calling statement's transaction commits.
  PERFORM pg_advisory_xact_lock(hashtextextended(p_story_id, 1));
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'kind', e.kind, 'workflow_id', e.workflow_id, 'run_id', e.run_id, 'by_handle', e.by_handle,
           'decision', e.decision, 'outcome', e.outcome,
           'at', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
           ORDER BY e.at, e.entry_key), '[]'::jsonb),
         coalesce(bool_or(e.kind = 'started' AND e.run_id = p_run_id), false),
         coalesce(bool_or(e.kind = 'started' AND e.run_id <> p_run_id), false)
    INTO v_events, v_mine, v_previous
    FROM backstop_story_events e WHERE e.story_id = p_story_id;
  -- A story that had a program needs a recorded reopen; a retry of this run's claim writes nothing.
  IF NOT v_mine AND v_previous AND p_reopen_by IS NULL THEN
    RETURN QUERY SELECT false, v_events;
    RETURN;
  END IF;
  IF NOT v_mine THEN
    IF v_previous THEN
      INSERT INTO backstop_story_events (entry_key, story_id, kind, workflow_id, run_id, by_handle, detail, at)
      VALUES (p_run_id || '/reopened', p_story_id, 'reopened', p_workflow_id, p_run_id, p_reopen_by, p_reopen_reason, p_at)
      ON CONFLICT (entry_key) DO NOTHING;
    END IF;
    INSERT INTO backstop_story_events (entry_key, story_id, kind, workflow_id, run_id, detail, at)
    VALUES (p_run_id || '/started', p_story_id, 'started', p_workflow_id, p_run_id, '', p_at)
    ON CONFLICT (entry_key) DO NOTHING;
  END IF;
  RETURN QUERY SELECT true, v_events;
END
$claim$;

CREATE TABLE IF NOT EXISTS change_freezes (
  incident_id  text        NOT NULL,
  environment  text        NOT NULL,
  workflow_id  text        NOT NULL,
  frozen_by    text        NOT NULL,
  reason       text        NOT NULL,
  frozen_at    timestamptz NOT NULL,
  lifted_at    timestamptz,
  lifted_by    text,
  PRIMARY KEY (incident_id, environment)
);
-- 0.11.0: why a freeze was lifted by hand (freezeLift); the incident's own lift leaves it empty.
ALTER TABLE change_freezes ADD COLUMN IF NOT EXISTS lift_reason text;
CREATE INDEX IF NOT EXISTS change_freezes_active ON change_freezes (environment) WHERE lifted_at IS NULL;

CREATE TABLE IF NOT EXISTS change_freeze_crossings (
  crossing_key    text        PRIMARY KEY,
  environment     text        NOT NULL,
  incident_ids    jsonb       NOT NULL,
  runbook         text        NOT NULL,
  workflow_id     text        NOT NULL,
  run_id          text        NOT NULL,
  run_incident_id text        NOT NULL,
  by_handle       text        NOT NULL,
  reason          text        NOT NULL,
  at              timestamptz NOT NULL
);
`;

/** Idempotent: safe to run at every worker start. */
export async function ensureRunbookTables(pool: Pool): Promise<void> {
  // Serialise concurrent worker starts: CREATE TABLE IF NOT EXISTS can race on the catalog.
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT pg_advisory_xact_lock(hashtext('durable-runbooks-schema'))");
    await client.query(RUNBOOK_DDL);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
