import type { Pool, PoolClient } from 'pg';
import type { SqlStatement } from './ftf-config';

/**
 * The idempotency ledger shared by every mutating break-glass step. The entry is written in the
 * same transaction as the change it records, so "committed" and "ledgered" are one fact: a retry
 * after the commit finds the entry and returns the first result, writing nothing.
 */

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

/** Who approved what: carried by every mutating break-glass activity and kept in the ledger. */
export interface LedgerContext {
  ledgerKey: string;
  incidentId: string;
  workflowId: string;
  runId: string;
  planHash: string;
  requestedBy: string;
  approver: string;
  approvalLine: string;
  rationale: string;
}

export async function insertLedger(
  client: PoolClient,
  entry: LedgerContext & { runbook: string; step: string; statements: SqlStatement[]; result: unknown },
): Promise<void> {
  await client.query(LEDGER_INSERT_SQL, [
    entry.ledgerKey,
    entry.runbook,
    entry.step,
    entry.incidentId,
    entry.workflowId,
    entry.runId,
    entry.planHash,
    entry.requestedBy,
    entry.approver,
    entry.approvalLine,
    entry.rationale,
    JSON.stringify(entry.statements),
    JSON.stringify(entry.result),
  ]);
}

/** Returned by a transaction body to roll back and still return a (refusal) value. */
export class Rollback<T> {
  constructor(readonly value: T) {}
}

/** Runs `work` in one transaction on its own connection; a throw or a `Rollback` rolls back. */
export async function inTransaction<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T | Rollback<T>>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const outcome = await work(client);
    if (outcome instanceof Rollback) {
      await client.query('ROLLBACK');
      return outcome.value;
    }
    await client.query('COMMIT');
    return outcome;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
