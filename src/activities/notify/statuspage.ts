import type { Pool } from 'pg';
import { z } from 'zod';
import type { ResolvedChannel } from '../channels';
import { callApi, parseJson, readAllPages } from '../http';
import { completeDelivery, deliveredReceipt, recordReceipt } from '../delivery-ledger';

/**
 * Statuspage-style REST API (https://api.statuspage.io/v1): create, update and resolve an incident
 * on a page. Creation is idempotent: the incident name carries a marker, the unresolved incidents
 * are checked for it first, and the created id is kept in the delivery ledger.
 */

export const statusPageUpdateSchema = z
  .object({
    channel: z.string().min(1),
    /** Stable per run and topic, e.g. "<workflowId>/status-page". */
    incidentKey: z.string().min(1).max(300),
    action: z.enum(['create', 'update', 'resolve']),
    name: z.string().min(1).max(200),
    status: z.enum(['investigating', 'identified', 'monitoring', 'resolved']),
    body: z.string().min(1).max(5_000),
    /**
     * Stable per update (e.g. "<workflowId>/status-page/update-2"): a retried update or resolve
     * finds its receipt and is not posted again. Creation is idempotent through incidentKey.
     */
    updateKey: z.string().min(1).max(300).optional(),
  })
  .strict();
export type StatusPageUpdate = z.input<typeof statusPageUpdateSchema>;

export interface StatusPageReceipt {
  incidentId: string;
  status: string;
  url?: string;
  created: boolean;
}

/** What the status page API returns that we rely on (other fields are ignored). */
const incidentSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  status: z.string(),
  shortlink: z.string().nullish(),
});
const PER_PAGE = 100;

function marker(incidentKey: string): string {
  // Short and stable; shown at the end of the incident name.
  let hash = 0;
  for (const char of incidentKey) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) >>> 0;
  return `[rb-${hash.toString(36)}]`;
}

export async function updateStatusPage(
  db: Pool,
  channel: ResolvedChannel<'statuspage'>,
  update: z.output<typeof statusPageUpdateSchema>,
  secrets: readonly string[],
): Promise<StatusPageReceipt> {
  const base = `${channel.config.baseUrl.replace(/\/$/, '')}/pages/${channel.config.pageId}`;
  const headers = { Authorization: `OAuth ${channel.secrets.apiKey}`, Accept: 'application/json' };
  const common = { channel: channel.name, timeoutMs: channel.config.timeout, secrets, headers };
  const tag = marker(update.incidentKey);
  const ledgerKey = `${update.incidentKey}/statuspage-incident`;

  const recorded = await deliveredReceipt<StatusPageReceipt>(db, ledgerKey, channel.name);
  // A retried create whose incident exists: the first answer (posting again would add an update).
  if (recorded && update.action === 'create') return recorded;
  let incidentId = recorded?.incidentId;
  if (!incidentId) {
    const operation = 'list unresolved incidents';
    const open = await readAllPages({ channel: channel.name, operation }, async (page) => {
      const listed = await callApi({
        ...common,
        operation,
        url: `${base}/incidents/unresolved?per_page=${PER_PAGE}&page=${page}`,
        method: 'GET',
      });
      const items = parseJson(z.array(incidentSchema), listed, { channel: channel.name, operation });
      return { items, more: items.length === PER_PAGE };
    });
    const found = open.find((incident) => incident.name.includes(tag));
    if (found && update.action === 'create')
      return { incidentId: found.id, status: found.status, created: false };
    incidentId = found?.id;
  }

  if (!incidentId) {
    // No incident yet (also for an update/resolve that arrives first): create it in the requested state.
    const operation = 'create incident';
    const created = await callApi({
      ...common,
      operation,
      url: `${base}/incidents`,
      method: 'POST',
      body: { incident: { name: `${update.name} ${tag}`, status: update.status, body: update.body } },
    });
    const incident = parseJson(incidentSchema, created, { channel: channel.name, operation });
    const receipt: StatusPageReceipt = {
      incidentId: incident.id,
      status: incident.status,
      created: true,
      ...(incident.shortlink ? { url: incident.shortlink } : {}),
    };
    await recordReceipt(db, ledgerKey, channel.name, receipt);
    return receipt;
  }

  if (update.updateKey) {
    const sent = await deliveredReceipt<StatusPageReceipt>(db, update.updateKey, channel.name);
    if (sent) return sent;
  }
  const operation = `${update.action} incident`;
  const patched = await callApi({
    ...common,
    operation,
    url: `${base}/incidents/${encodeURIComponent(incidentId)}`,
    method: 'PATCH',
    body: { incident: { status: update.status, body: update.body } },
  });
  const incident = parseJson(incidentSchema, patched, { channel: channel.name, operation });
  await completeDelivery(db, ledgerKey, channel.name, {
    incidentId: incident.id,
    status: incident.status,
    created: false,
  });
  const receipt: StatusPageReceipt = {
    incidentId: incident.id,
    status: incident.status,
    created: false,
    ...(incident.shortlink ? { url: incident.shortlink } : {}),
  };
  if (update.updateKey) await recordReceipt(db, update.updateKey, channel.name, receipt);
  return receipt;
}
