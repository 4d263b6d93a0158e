import type { Pool } from 'pg';

/**
 * The one ledger of outward deliveries (`runbook_deliveries`, keyed by delivery key and channel),
 * shared by notices, trackers, the status page and commands.
 *
 * Deliveries that have no idempotency key at the receiving end (Slack webhooks, email, generic
 * webhooks) use begin → complete: the key is recorded before sending and marked delivered after
 * success, so a retried activity after a successful send returns the first receipt instead of
 * sending again (a crash between the send and the mark can still resend once: at-least-once,
 * never lost). Trackers that can also check remotely (a marker in the issue or comment) look up
 * `deliveredReceipt` first and `recordReceipt` after.
 */

export type DeliveryStart<R> = { state: 'new' } | { state: 'delivered'; receipt: R };

export async function beginDelivery<R>(
  db: Pool,
  deliveryKey: string,
  channel: string,
): Promise<DeliveryStart<R>> {
  const result = await db.query<{ state: string; receipt: R | null }>(
    `INSERT INTO runbook_deliveries (delivery_key, channel, state) VALUES ($1, $2, 'sending')
     ON CONFLICT (delivery_key, channel) DO UPDATE SET attempts = runbook_deliveries.attempts + 1
     RETURNING state, receipt`,
    [deliveryKey, channel],
  );
  const row = result.rows[0];
  return row?.state === 'delivered' && row.receipt !== null
    ? { state: 'delivered', receipt: row.receipt }
    : { state: 'new' };
}

export async function completeDelivery(
  db: Pool,
  deliveryKey: string,
  channel: string,
  receipt: unknown,
): Promise<void> {
  await db.query(
    `UPDATE runbook_deliveries SET state = 'delivered', receipt = $3::jsonb, delivered_at = now()
     WHERE delivery_key = $1 AND channel = $2`,
    [deliveryKey, channel, JSON.stringify(receipt)],
  );
}

/** Looks up a delivered receipt without starting a delivery (for trackers that also check remotely). */
export async function deliveredReceipt<R>(
  db: Pool,
  deliveryKey: string,
  channel: string,
): Promise<R | undefined> {
  const result = await db.query<{ receipt: R }>(
    "SELECT receipt FROM runbook_deliveries WHERE delivery_key = $1 AND channel = $2 AND state = 'delivered'",
    [deliveryKey, channel],
  );
  return result.rows[0]?.receipt;
}

/** Records a delivery as done with its receipt (creating the entry if the send had none). */
export async function recordReceipt(
  db: Pool,
  deliveryKey: string,
  channel: string,
  receipt: unknown,
): Promise<void> {
  await db.query(
    `INSERT INTO runbook_deliveries (delivery_key, channel, state, receipt, delivered_at) VALUES ($1, $2, 'delivered', $3::jsonb, now())
     ON CONFLICT (delivery_key, channel) DO UPDATE SET state = 'delivered', receipt = EXCLUDED.receipt, delivered_at = now()`,
    [deliveryKey, channel, JSON.stringify(receipt)],
  );
}
