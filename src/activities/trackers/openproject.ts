import type { Pool } from 'pg';
import type { ResolvedChannel } from '../channels';
import { z } from 'zod';
import { callApi, parseJson, readAllPages, type ApiRequest } from '../http';
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

/** What the OpenProject API v3 returns that we rely on (other fields are ignored). */
const halWorkPackageSchema = z.looseObject({
  id: z.number().int(),
  subject: z.string(),
  _links: z
    .looseObject({
      status: z.looseObject({ title: z.string().optional() }).optional(),
      type: z.looseObject({ title: z.string().optional() }).optional(),
    })
    .optional(),
});
type HalWorkPackage = z.output<typeof halWorkPackageSchema>;
/** A HAL collection page: `total` items in all, `count` on this page. */
const collectionSchema = <T extends z.ZodType>(element: T) =>
  z.looseObject({
    total: z.number().int(),
    count: z.number().int(),
    _embedded: z.looseObject({ elements: z.array(element) }),
  });
const PAGE_SIZE = 100;

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
  return toWorkPackage(
    channel,
    parseJson(halWorkPackageSchema, response, { channel: channel.name, operation }),
  );
}

export async function listChildWorkPackages(
  channel: ResolvedChannel<'openproject'>,
  parentId: number,
  secrets: readonly string[],
): Promise<WorkPackage[]> {
  const operation = `list children of work package ${parentId}`;
  const filters = encodeURIComponent(
    JSON.stringify([{ parent: { operator: '=', values: [String(parentId)] } }]),
  );
  const call = request(channel, secrets);
  const elements = await readAllPages({ channel: channel.name, operation }, async (page) => {
    const response = await call(
      operation,
      'GET',
      `/work_packages?filters=${filters}&pageSize=${PAGE_SIZE}&offset=${page}`,
    );
    const collection = parseJson(collectionSchema(halWorkPackageSchema), response, {
      channel: channel.name,
      operation,
    });
    const items = collection._embedded.elements;
    return { items, more: items.length > 0 && (page - 1) * PAGE_SIZE + items.length < collection.total };
  });
  return elements.map((element) => toWorkPackage(channel, element));
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
  const activitySchema = z.looseObject({ comment: z.looseObject({ raw: z.string().optional() }).nullish() });
  const activities = await readAllPages({ channel: channel.name, operation: listOperation }, async (page) => {
    const response = await call(
      listOperation,
      'GET',
      `/work_packages/${input.workPackageId}/activities?pageSize=${PAGE_SIZE}&offset=${page}`,
    );
    const collection = parseJson(collectionSchema(activitySchema), response, {
      channel: channel.name,
      operation: listOperation,
    });
    const items = collection._embedded.elements;
    return { items, more: items.length > 0 && (page - 1) * PAGE_SIZE + items.length < collection.total };
  });
  const already = activities.some((activity) => activity.comment?.raw?.includes(marker));
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
