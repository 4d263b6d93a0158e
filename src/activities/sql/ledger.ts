import type { Pool, PoolClient } from 'pg';
import { z } from 'zod';
import { incidentIdSchema } from '../../common/break-glass';
import { liveTargetFields, toId, type SqlStatement } from './ftf-config';

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

const handleField = z.string().min(1).max(100);

/** What every mutating break-glass activity carries besides its own fields (validated at its boundary). */
export const approvedWriteFields = {
  ledgerKey: z.string().min(1).max(300),
  incidentId: incidentIdSchema,
  expectedFingerprint: z.string().regex(/^[0-9a-f]{64}$/, 'must be the fingerprint from the plan'),
  planHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be the planHash'),
  workflowId: z.string().min(1),
  runId: z.string().min(1),
  requestedBy: handleField,
  approver: handleField,
  approvalLine: z.string().min(1),
  rationale: z.string().min(1).max(1_000),
  ...liveTargetFields,
};

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

/** A committed break-glass write, as every procedure's execute step returns it. */
export interface CommittedWrite {
  ledgerKey: string;
  historyId: number;
  historyChangedAt: string;
  liveVersion: string;
  committedAt: string;
  statements: SqlStatement[];
  /** True when this call found the ledger entry of an earlier, committed attempt. */
  replayed: boolean;
}

/** What a procedure's statements produced inside the transaction. */
export interface WrittenRows<Fields> {
  /** The history row the write appended (RETURNING id, changed_at). */
  historyRow: { id: string; changed_at: Date } | undefined;
  statements: SqlStatement[];
  /** The procedure's own result fields (status, key, source…). */
  fields: Fields;
}

const READ_LIVE_VERSION_SQL = 'SELECT version, now() AS now FROM ftf_config WHERE id = $1::int';

/**
 * The one shape of every mutating break-glass step, in one transaction: lock the ledger key → an
 * entry from an earlier attempt returns the first result and writes nothing → the procedure's own
 * checks and statements (a `Rollback` refuses, nothing written) → re-read the live row → the
 * ledger entry, committed with the change it records.
 */
export async function ledgeredWrite<Fields extends object, Refusal>(
  pool: Pool,
  entry: LedgerContext & { runbook: string; step: string; liveRowId: number },
  write: (client: PoolClient) => Promise<WrittenRows<Fields> | Rollback<Refusal>>,
): Promise<(Fields & CommittedWrite) | Refusal> {
  type Committed = Fields & CommittedWrite;
  return inTransaction<Committed | Refusal>(pool, async (client) => {
    const prior = await lockAndReadLedger<Committed>(client, entry.ledgerKey);
    if (prior) return new Rollback({ ...prior, replayed: true });
    const written = await write(client);
    if (written instanceof Rollback) return written;
    if (!written.historyRow) throw new Error('the history insert returned no row');
    const after = await client.query<{ version: string; now: Date }>(READ_LIVE_VERSION_SQL, [
      entry.liveRowId,
    ]);
    const committed: Committed = {
      ...written.fields,
      ledgerKey: entry.ledgerKey,
      historyId: toId(written.historyRow.id),
      historyChangedAt: written.historyRow.changed_at.toISOString(),
      liveVersion: after.rows[0]?.version ?? '',
      committedAt: (after.rows[0]?.now ?? new Date()).toISOString(),
      statements: written.statements,
      replayed: false,
    };
    await insertLedger(client, { ...entry, statements: written.statements, result: committed });
    return committed;
  });
}
