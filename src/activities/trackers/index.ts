import type { Pool } from 'pg';
import { z } from 'zod';
import { repositorySchema } from '../../common/names';
import type { ChannelRegistry } from '../channels';
import { parseInput } from '../validation';
import {
  commentOnIssue,
  createIssue,
  searchIssues,
  type GitHubCommentReceipt,
  type GitHubIssue,
  type GitHubIssueReceipt,
} from './github';
import {
  mergeParent,
  openRevertPullRequest,
  readPullRequest,
  type PullRequestState,
  type RevertPullRequestReceipt,
} from './github-pulls';
import {
  commentOnWorkPackage,
  getWorkPackage,
  listChildWorkPackages,
  type WorkPackage,
  type WorkPackageCommentReceipt,
} from './openproject';

const channel = z.string().min(1);
const deliveryKey = z.string().min(1).max(400);
const label = z.string().min(1).max(50);
/** Overrides the channel's repository (same token). */
const repository = repositorySchema.optional();

const createIssueSchema = z
  .object({
    channel,
    title: z.string().min(1).max(256),
    body: z.string().max(60_000),
    labels: z.array(label).max(10),
    deliveryKey,
    repository,
  })
  .strict();
const searchIssuesSchema = z
  .object({
    channel,
    labels: z.array(label).max(10),
    text: z.string().max(200).optional(),
    state: z.enum(['open', 'closed', 'all']).optional(),
    repository,
  })
  .strict();
const commentOnIssueSchema = z
  .object({
    channel,
    issueNumber: z.number().int().positive(),
    body: z.string().min(1).max(60_000),
    deliveryKey,
  })
  .strict();
const commitSha = z.string().regex(/^[0-9a-f]{7,40}$/, 'must be a commit SHA (7-40 hex digits)');
const mergeParentSchema = z.object({ channel, repository: repositorySchema, sha: commitSha }).strict();
const revertPullRequestSchema = z
  .object({
    channel,
    repository: repositorySchema,
    mergeSha: commitSha,
    title: z.string().min(1).max(256),
    body: z.string().max(60_000),
    deliveryKey,
  })
  .strict();
const pullRequestSchema = z
  .object({ channel, repository: repositorySchema, number: z.number().int().positive() })
  .strict();
const workPackageSchema = z.object({ channel, id: z.number().int().positive() }).strict();
const childrenSchema = z.object({ channel, parentId: z.number().int().positive() }).strict();
const commentOnWorkPackageSchema = z
  .object({
    channel,
    workPackageId: z.number().int().positive(),
    markdown: z.string().min(1).max(60_000),
    deliveryKey,
  })
  .strict();

export type CreateIssueInput = z.input<typeof createIssueSchema>;
export type SearchIssuesInput = z.input<typeof searchIssuesSchema>;
export type CommentOnIssueInput = z.input<typeof commentOnIssueSchema>;
export type RevertPullRequestInput = z.input<typeof revertPullRequestSchema>;
export type CommentOnWorkPackageInput = z.input<typeof commentOnWorkPackageSchema>;

/** Tracker activities: GitHub issues and OpenProject work packages. */
export function createTrackerActivities(deps: { db: Pool; channels: ChannelRegistry }) {
  const secrets = deps.channels.secretValues;
  return {
    createGitHubIssue: (raw: CreateIssueInput): Promise<GitHubIssueReceipt> => {
      const input = parseInput(createIssueSchema, raw, 'createGitHubIssue input');
      return createIssue(deps.db, deps.channels.get(input.channel, 'github'), input, secrets);
    },
    searchGitHubIssues: (raw: SearchIssuesInput): Promise<GitHubIssue[]> => {
      const input = parseInput(searchIssuesSchema, raw, 'searchGitHubIssues input');
      return searchIssues(deps.channels.get(input.channel, 'github'), input, secrets);
    },
    commentOnGitHubIssue: (raw: CommentOnIssueInput): Promise<GitHubCommentReceipt> => {
      const input = parseInput(commentOnIssueSchema, raw, 'commentOnGitHubIssue input');
      return commentOnIssue(deps.db, deps.channels.get(input.channel, 'github'), input, secrets);
    },
    /** The merge's first parent: the code the release goes back to (seed 001 §5). */
    gitHubMergeParent: (raw: {
      channel: string;
      repository: string;
      sha: string;
    }): Promise<{ sha: string; parents: number }> => {
      const input = parseInput(mergeParentSchema, raw, 'gitHubMergeParent input');
      return mergeParent(deps.channels.get(input.channel, 'github'), input, secrets);
    },
    /** Opens the revert of the merge's pull request once per delivery key. */
    openGitHubRevertPullRequest: (raw: RevertPullRequestInput): Promise<RevertPullRequestReceipt> => {
      const input = parseInput(revertPullRequestSchema, raw, 'openGitHubRevertPullRequest input');
      return openRevertPullRequest(deps.db, deps.channels.get(input.channel, 'github'), input, secrets);
    },
    readGitHubPullRequest: (raw: {
      channel: string;
      repository: string;
      number: number;
    }): Promise<PullRequestState> => {
      const input = parseInput(pullRequestSchema, raw, 'readGitHubPullRequest input');
      return readPullRequest(deps.channels.get(input.channel, 'github'), input, secrets);
    },
    getWorkPackage: (raw: { channel: string; id: number }): Promise<WorkPackage> => {
      const input = parseInput(workPackageSchema, raw, 'getWorkPackage input');
      return getWorkPackage(deps.channels.get(input.channel, 'openproject'), input.id, secrets);
    },
    listChildWorkPackages: (raw: { channel: string; parentId: number }): Promise<WorkPackage[]> => {
      const input = parseInput(childrenSchema, raw, 'listChildWorkPackages input');
      return listChildWorkPackages(deps.channels.get(input.channel, 'openproject'), input.parentId, secrets);
    },
    commentOnWorkPackage: (raw: CommentOnWorkPackageInput): Promise<WorkPackageCommentReceipt> => {
      const input = parseInput(commentOnWorkPackageSchema, raw, 'commentOnWorkPackage input');
      return commentOnWorkPackage(deps.db, deps.channels.get(input.channel, 'openproject'), input, secrets);
    },
  };
}

export type { GitHubCommentReceipt, GitHubIssue, GitHubIssueReceipt } from './github';
export type { PullRequestState, RevertPullRequestReceipt } from './github-pulls';
export type { WorkPackage, WorkPackageCommentReceipt } from './openproject';
