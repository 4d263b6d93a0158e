import type { Pool } from 'pg';
import type { ResolvedChannel } from '../channels';
import { callApi, parseJson, type ApiRequest } from '../http';
import { deliveredReceipt, recordReceipt } from '../delivery-ledger';
import { deliveryMarker } from './github';

/**
 * OpenProject API v3 (HAL+JSON, API key as basic auth "apikey:<key>"): read a work package and its
 * status, list its children (the `parent` filter), add a comment. Comments are idempotent: the raw
 * text carries a hidden marker and the work package's activities are checked for it first.
 */

export interface WorkPackage {
  id: number;
  subject: string;
  status: string;
  type?: string;
  url: string;
}

export interface WorkPackageCommentReceipt {
  workPackageId: number;
  created: boolean;
}

interface HalWorkPackage {
  id: number;
  subject: string;
  _links?: { status?: { title?: string }; type?: { title?: string }; self?: { href?: string } };
}

function request(channel: ResolvedChannel<'openproject'>, secrets: readonly string[]) {
  const authorization = `Basic ${Buffer.from(`apikey:${channel.secrets.apiKey}`).toString('base64')}`;
  return (operation: string, method: ApiRequest['method'], pathAndQuery: string, body?: unknown) =>
    callApi({
      channel: channel.name,
      operation,
      url: `${channel.config.baseUrl.replace(/\/$/, '')}/api/v3${pathAndQuery}`,
      method,
      headers: { Accept: 'application/hal+json', Authorization: authorization },
      ...(body !== undefined ? { body } : {}),
      timeoutMs: channel.config.timeout,
      secrets: [...secrets, authorization.slice('Basic '.length)],
    });
}

function toWorkPackage(channel: ResolvedChannel<'openproject'>, raw: HalWorkPackage): WorkPackage {
  return {
    id: raw.id,
    subject: raw.subject,
    status: raw._links?.status?.title ?? 'unknown',
    ...(raw._links?.type?.title ? { type: raw._links.type.title } : {}),
    url: `${channel.config.baseUrl.replace(/\/$/, '')}/work_packages/${raw.id}`,
  };
}

export async function getWorkPackage(
  channel: ResolvedChannel<'openproject'>,
  id: number,
  secrets: readonly string[],
): Promise<WorkPackage> {
  const operation = `read work package ${id}`;
  const response = await request(channel, secrets)(operation, 'GET', `/work_packages/${id}`);
  return toWorkPackage(channel, parseJson<HalWorkPackage>(response, { channel: channel.name, operation }));
}

export async function listChildWorkPackages(
  channel: ResolvedChannel<'openproject'>,
  parentId: number,
  secrets: readonly string[],
): Promise<WorkPackage[]> {
  const operation = `list children of work package ${parentId}`;
  const filters = JSON.stringify([{ parent: { operator: '=', values: [String(parentId)] } }]);
  const response = await request(channel, secrets)(
    operation,
    'GET',
    `/work_packages?filters=${encodeURIComponent(filters)}&pageSize=200`,
  );
  const collection = parseJson<{ _embedded?: { elements?: HalWorkPackage[] } }>(response, {
    channel: channel.name,
    operation,
  });
  return (collection._embedded?.elements ?? []).map((element) => toWorkPackage(channel, element));
}

export async function commentOnWorkPackage(
  db: Pool,
  channel: ResolvedChannel<'openproject'>,
  input: { workPackageId: number; markdown: string; deliveryKey: string },
  secrets: readonly string[],
): Promise<WorkPackageCommentReceipt> {
  const recorded = await deliveredReceipt<WorkPackageCommentReceipt>(db, input.deliveryKey, channel.name);
  if (recorded) return { ...recorded, created: false };
  const marker = deliveryMarker(input.deliveryKey);
  const call = request(channel, secrets);
  const listOperation = `read activities of work package ${input.workPackageId}`;
  const activities = parseJson<{ _embedded?: { elements?: { comment?: { raw?: string } }[] } }>(
    await call(listOperation, 'GET', `/work_packages/${input.workPackageId}/activities`),
    { channel: channel.name, operation: listOperation },
  );
  const already = (activities._embedded?.elements ?? []).some((activity) =>
    activity.comment?.raw?.includes(marker),
  );
  if (!already) {
    await call(
      `comment on work package ${input.workPackageId}`,
      'POST',
      `/work_packages/${input.workPackageId}/activities`,
      {
        comment: { raw: `${input.markdown}\n\n${marker}` },
      },
    );
  }
  const receipt = { workPackageId: input.workPackageId, created: !already };
  await recordReceipt(db, input.deliveryKey, channel.name, receipt);
  return receipt;
}
