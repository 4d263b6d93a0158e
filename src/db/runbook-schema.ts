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
