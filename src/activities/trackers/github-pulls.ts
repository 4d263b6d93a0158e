import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import { z } from 'zod';
import type { ResolvedChannel } from '../channels';
import { deliveredReceipt, recordReceipt } from '../delivery-ledger';
import { callApi, parseJson, readAllPages } from '../http';
import { deliveryMarker, request } from './github';

/**
 * GitHub pull requests for seed 001 §5's merge revert: the merge's first parent (the pre-merge
 * code the helm tag pin goes back to), the revert pull request (GraphQL `revertPullRequest`: REST
 * has no revert, and only the server can compute the revert of a merge onto today's base) and its
 * state. Opening is idempotent: the body carries the delivery key's marker and the repository's
 * pull requests are searched for it before a new one is opened.
 */

export interface PullRequestState {
  number: number;
  url: string;
  state: 'open' | 'closed';
  merged: boolean;
  mergedAt?: string;
  mergeSha?: string;
}

export interface RevertPullRequestReceipt {
  number: number;
  url: string;
  /** The pull request whose merge it reverts. */
  reverts: number;
  created: boolean;
}

const PER_PAGE = 100;
const rawPullSchema = z.looseObject({
  number: z.number().int(),
  node_id: z.string().optional(),
  html_url: z.string(),
  state: z.enum(['open', 'closed']),
  body: z.string().nullish(),
  merged_at: z.string().nullish(),
  merge_commit_sha: z.string().nullish(),
});
type RawPull = z.output<typeof rawPullSchema>;

/** An answer that another attempt cannot change. */
function rejected(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'ChannelRejected', nonRetryable: true, message });
}

function toState(raw: RawPull): PullRequestState {
  return {
    number: raw.number,
    url: raw.html_url,
    state: raw.state,
    merged: Boolean(raw.merged_at),
    ...(raw.merged_at ? { mergedAt: raw.merged_at } : {}),
    ...(raw.merged_at && raw.merge_commit_sha ? { mergeSha: raw.merge_commit_sha } : {}),
  };
}

/** The first parent of `sha`: the base branch just before the merge. */
export async function mergeParent(
  channel: ResolvedChannel<'github'>,
  input: { repository: string; sha: string },
  secrets: readonly string[],
): Promise<{ sha: string; parents: number }> {
  const operation = 'read commit';
  const response = await request(channel, secrets)(
    operation,
    'GET',
    `/repos/${input.repository}/commits/${input.sha}`,
  );
  const commit = parseJson(
    z.looseObject({ sha: z.string(), parents: z.array(z.looseObject({ sha: z.string() })) }),
    response,
    { channel: channel.name, operation },
  );
  const first = commit.parents[0];
  if (!first) throw rejected(`commit ${input.sha} of ${input.repository} has no parent`);
  return { sha: first.sha, parents: commit.parents.length };
}

export async function readPullRequest(
  channel: ResolvedChannel<'github'>,
  input: { repository: string; number: number },
  secrets: readonly string[],
): Promise<PullRequestState> {
  const operation = 'read pull request';
  const response = await request(channel, secrets)(
    operation,
    'GET',
    `/repos/${input.repository}/pulls/${input.number}`,
  );
  return toState(parseJson(rawPullSchema, response, { channel: channel.name, operation }));
}

/** The GraphQL endpoint beside the REST one (api.github.com/graphql; GHE: /api/v3 → /api/graphql). */
export function graphqlUrl(apiUrl: string): string {
  const base = apiUrl.replace(/\/$/, '');
  return /\/api\/v3$/.test(base) ? base.replace(/\/api\/v3$/, '/api/graphql') : `${base}/graphql`;
}

export async function openRevertPullRequest(
  db: Pool,
  channel: ResolvedChannel<'github'>,
  input: { repository: string; mergeSha: string; title: string; body: string; deliveryKey: string },
  secrets: readonly string[],
): Promise<RevertPullRequestReceipt> {
  const recorded = await deliveredReceipt<RevertPullRequestReceipt>(db, input.deliveryKey, channel.name);
  if (recorded) return { ...recorded, created: false };
  const call = request(channel, secrets);
  const context = (operation: string) => ({ channel: channel.name, operation });

  // The pull request the merge commit belongs to (the one to revert).
  const byCommit = 'pull requests of commit';
  const merged = parseJson(
    z.array(rawPullSchema),
    await call(byCommit, 'GET', `/repos/${input.repository}/commits/${input.mergeSha}/pulls`),
    context(byCommit),
  ).find((pull) => pull.merge_commit_sha === input.mergeSha && pull.merged_at);
  if (!merged?.node_id)
    throw rejected(`no merged pull request of ${input.repository} has merge commit ${input.mergeSha}`);

  const marker = deliveryMarker(input.deliveryKey);
  const list = 'list pull requests';
  const pulls = await readAllPages(context(list), async (page) => {
    const response = await call(
      list,
      'GET',
      `/repos/${input.repository}/pulls?state=all&sort=created&direction=desc&per_page=${PER_PAGE}&page=${page}`,
    );
    const items = parseJson(z.array(rawPullSchema), response, context(list));
    return { items, more: items.length === PER_PAGE };
  });
  const existing = pulls.find((pull) => pull.body?.includes(marker));
  let receipt: RevertPullRequestReceipt;
  if (existing) {
    receipt = { number: existing.number, url: existing.html_url, reverts: merged.number, created: false };
  } else {
    const operation = 'revert pull request';
    const response = await callApi({
      channel: channel.name,
      operation,
      url: graphqlUrl(channel.config.apiUrl),
      method: 'POST',
      headers: {
        Accept: 'application/vnd.github+json',
        Authorization: `Bearer ${channel.secrets.token}`,
        'User-Agent': 'durable-runbooks',
      },
      body: {
        query:
          'mutation($id: ID!, $title: String!, $body: String!) { revertPullRequest(input: {pullRequestId: $id, title: $title, body: $body}) { revertPullRequest { number url } } }',
        variables: { id: merged.node_id, title: input.title, body: `${input.body}\n\n${marker}` },
      },
      timeoutMs: channel.config.timeout,
      secrets,
    });
    const answer = parseJson(
      z.looseObject({
        data: z
          .looseObject({
            revertPullRequest: z
              .looseObject({
                revertPullRequest: z.looseObject({ number: z.number().int(), url: z.string() }).nullish(),
              })
              .nullish(),
          })
          .nullish(),
        errors: z.array(z.looseObject({ message: z.string() })).optional(),
      }),
      response,
      context(operation),
    );
    const opened = answer.data?.revertPullRequest?.revertPullRequest;
    if (!opened)
      throw rejected(
        `GitHub refused to revert #${merged.number}: ${answer.errors?.map((e) => e.message).join('; ') ?? 'no pull request in the answer'}`,
      );
    receipt = { number: opened.number, url: opened.url, reverts: merged.number, created: true };
  }
  await recordReceipt(db, input.deliveryKey, channel.name, receipt);
  return receipt;
}
