import type { Pool } from 'pg';
import type { ResolvedChannel } from '../channels';
import { z } from 'zod';
import { callApi, parseJson, readAllPages, type ApiRequest } from '../http';
import { deliveredReceipt, recordReceipt } from '../delivery-ledger';

/**
 * GitHub REST (api.github.com or GitHub Enterprise): create an issue with labels, search issues by
 * label and text, comment. Creation and comments are idempotent: the body carries a hidden marker
 * with the delivery key and the issue list (consistent, unlike the search index) is checked for it
 * before creating.
 */

export interface GitHubIssue {
  number: number;
  title: string;
  state: string;
  url: string;
  labels: string[];
}

export interface GitHubIssueReceipt {
  number: number;
  url: string;
  created: boolean;
}

export interface GitHubCommentReceipt {
  id: number;
  url: string;
  created: boolean;
}

/** What the GitHub REST API returns that we rely on (other fields are ignored). */
const rawIssueSchema = z.looseObject({
  number: z.number().int(),
  title: z.string(),
  state: z.string(),
  html_url: z.string(),
  body: z.string().nullish(),
  labels: z.array(z.union([z.looseObject({ name: z.string().optional() }), z.string()])).optional(),
  pull_request: z.unknown().optional(),
});
type RawIssue = z.output<typeof rawIssueSchema>;
const commentSchema = z.looseObject({
  id: z.number().int(),
  html_url: z.string(),
  body: z.string().nullish(),
});
const PER_PAGE = 100;

export function deliveryMarker(deliveryKey: string): string {
  return `<!-- durable-runbooks:delivery=${deliveryKey} -->`;
}

export function request(channel: ResolvedChannel<'github'>, secrets: readonly string[]) {
  return (
    operation: string,
    method: ApiRequest['method'],
    pathAndQuery: string,
    body?: unknown,
  ): Promise<{ text: string; status: number; headers: Headers }> =>
    callApi({
      channel: channel.name,
      operation,
      url: `${channel.config.apiUrl.replace(/\/$/, '')}${pathAndQuery}`,
      method,
      headers: {
        Accept: 'application/vnd.github+json',
        Authorization: `Bearer ${channel.secrets.token}`,
        'X-GitHub-Api-Version': '2022-11-28',
        'User-Agent': 'durable-runbooks',
      },
      ...(body !== undefined ? { body } : {}),
      timeoutMs: channel.config.timeout,
      secrets,
    });
}

function toIssue(raw: RawIssue): GitHubIssue {
  return {
    number: raw.number,
    title: raw.title,
    state: raw.state,
    url: raw.html_url,
    labels: (raw.labels ?? []).map((label) => (typeof label === 'string' ? label : (label.name ?? ''))),
  };
}

/** Issues (not pull requests) of the repository with all `labels` whose title or body contains `text`. */
export async function searchIssues(
  channel: ResolvedChannel<'github'>,
  query: { labels: string[]; text?: string; state?: 'open' | 'closed' | 'all'; repository?: string },
  secrets: readonly string[],
): Promise<GitHubIssue[]> {
  const terms = [
    `repo:${query.repository ?? channel.config.repository}`,
    'is:issue',
    ...query.labels.map((label) => `label:"${label.replace(/"/g, '')}"`),
    ...(query.state && query.state !== 'all' ? [`state:${query.state}`] : []),
    ...(query.text ? [`"${query.text.replace(/"/g, '')}"`] : []),
  ];
  const operation = 'search issues';
  const call = request(channel, secrets);
  const q = encodeURIComponent(terms.join(' '));
  const items = await readAllPages({ channel: channel.name, operation }, async (page) => {
    const response = await call(operation, 'GET', `/search/issues?q=${q}&per_page=${PER_PAGE}&page=${page}`);
    const found = parseJson(
      z.looseObject({ total_count: z.number().int(), items: z.array(rawIssueSchema) }),
      response,
      { channel: channel.name, operation },
    );
    return {
      items: found.items,
      more: found.items.length === PER_PAGE && page * PER_PAGE < found.total_count,
    };
  });
  return items.filter((item) => !item.pull_request).map(toIssue);
}

/** The issue carrying `marker`, looked up in the repository's issue list (newest first, by label). */
async function findIssueWithMarker(
  channel: ResolvedChannel<'github'>,
  labels: string[],
  marker: string,
  secrets: readonly string[],
  repository: string,
): Promise<RawIssue | undefined> {
  const operation = 'list issues';
  const labelQuery = labels.length ? `&labels=${encodeURIComponent(labels.join(','))}` : '';
  const call = request(channel, secrets);
  const issues = await readAllPages({ channel: channel.name, operation }, async (page) => {
    const response = await call(
      operation,
      'GET',
      `/repos/${repository}/issues?state=all&sort=created&direction=desc&per_page=${PER_PAGE}&page=${page}${labelQuery}`,
    );
    const items = parseJson(z.array(rawIssueSchema), response, { channel: channel.name, operation });
    return { items, more: items.length === PER_PAGE };
  });
  return issues.find((issue) => issue.body?.includes(marker));
}

export async function createIssue(
  db: Pool,
  channel: ResolvedChannel<'github'>,
  input: { title: string; body: string; labels: string[]; deliveryKey: string; repository?: string },
  secrets: readonly string[],
): Promise<GitHubIssueReceipt> {
  const repository = input.repository ?? channel.config.repository;
  const recorded = await deliveredReceipt<GitHubIssueReceipt>(db, input.deliveryKey, channel.name);
  if (recorded) return { ...recorded, created: false };
  const marker = deliveryMarker(input.deliveryKey);
  const existing = await findIssueWithMarker(channel, input.labels, marker, secrets, repository);
  let receipt: GitHubIssueReceipt;
  if (existing) {
    receipt = { number: existing.number, url: existing.html_url, created: false };
  } else {
    const operation = 'create issue';
    const response = await request(channel, secrets)(operation, 'POST', `/repos/${repository}/issues`, {
      title: input.title,
      body: `${input.body}\n\n${marker}`,
      labels: input.labels,
    });
    const created = parseJson(rawIssueSchema, response, { channel: channel.name, operation });
    receipt = { number: created.number, url: created.html_url, created: true };
  }
  await recordReceipt(db, input.deliveryKey, channel.name, receipt);
  return receipt;
}

export async function commentOnIssue(
  db: Pool,
  channel: ResolvedChannel<'github'>,
  input: { issueNumber: number; body: string; deliveryKey: string },
  secrets: readonly string[],
): Promise<GitHubCommentReceipt> {
  const recorded = await deliveredReceipt<GitHubCommentReceipt>(db, input.deliveryKey, channel.name);
  if (recorded) return { ...recorded, created: false };
  const marker = deliveryMarker(input.deliveryKey);
  const call = request(channel, secrets);
  const listOperation = 'list issue comments';
  const comments = await readAllPages({ channel: channel.name, operation: listOperation }, async (page) => {
    const listed = await call(
      listOperation,
      'GET',
      `/repos/${channel.config.repository}/issues/${input.issueNumber}/comments?per_page=${PER_PAGE}&page=${page}`,
    );
    const items = parseJson(z.array(commentSchema), listed, {
      channel: channel.name,
      operation: listOperation,
    });
    return { items, more: items.length === PER_PAGE };
  });
  const existing = comments.find((comment) => comment.body?.includes(marker));
  let receipt: GitHubCommentReceipt;
  if (existing) {
    receipt = { id: existing.id, url: existing.html_url, created: false };
  } else {
    const operation = 'comment on issue';
    const response = await call(
      operation,
      'POST',
      `/repos/${channel.config.repository}/issues/${input.issueNumber}/comments`,
      {
        body: `${input.body}\n\n${marker}`,
      },
    );
    const created = parseJson(commentSchema, response, { channel: channel.name, operation });
    receipt = { id: created.id, url: created.html_url, created: true };
  }
  await recordReceipt(db, input.deliveryKey, channel.name, receipt);
  return receipt;
}
