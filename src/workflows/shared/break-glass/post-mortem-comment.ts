import { proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../../activities';
import { notification } from '../../activity-options';
import { describeFailure, type Notices } from '../notices';
import type { RunRecord } from '../run-record';
import type { BreakGlassDetail, PostMortemComment, PostMortemRecord } from './definitions';

const { commentOnWorkPackage, commentOnGitHubIssue } = proxyActivities<RunbookActivities>(notification);

export type PostMortemCommentTarget =
  { channel: string; workPackageId: number } | { channel: string; issueNumber: number };

/**
 * Posts the post-mortem draft as a comment on the policy's work package (OpenProject) or issue
 * (GitHub), once per run (the delivery key makes a retry a no-op). A failure is recorded and the
 * IC told to file the draft by hand; it never holds up the obligations.
 */
export function postDraftComment(args: {
  record: RunRecord<BreakGlassDetail<unknown, unknown, unknown>>;
  notices: Notices;
  tag: string;
  target: PostMortemCommentTarget;
  postMortem: PostMortemRecord;
}): void {
  const { record, notices, tag, target, postMortem } = args;
  if (postMortem.comment) return;
  const deliveryKey = `${record.status.workflowId}/${record.status.runId}/post-mortem-draft`;
  const where =
    'workPackageId' in target ? `work package #${target.workPackageId}` : `issue #${target.issueNumber}`;
  const comment: PostMortemComment = { channel: target.channel, target: where, state: 'posting' };
  postMortem.comment = comment;
  const posting =
    'workPackageId' in target
      ? commentOnWorkPackage({
          channel: target.channel,
          workPackageId: target.workPackageId,
          markdown: postMortem.draft,
          deliveryKey,
        }).then(() => undefined)
      : commentOnGitHubIssue({
          channel: target.channel,
          issueNumber: target.issueNumber,
          body: postMortem.draft,
          deliveryKey,
        }).then((receipt) => {
          comment.url = receipt.url;
        });
  notices.track(
    posting.then(
      () => {
        comment.state = 'posted';
        record.event('post_mortem_draft_posted', `post-mortem draft posted on ${target.channel} ${where}`);
      },
      (error: unknown) => {
        comment.state = 'failed';
        comment.error = describeFailure(error);
        record.event(
          'post_mortem_draft_failed',
          `post-mortem draft not posted on ${target.channel} ${where}: ${comment.error}`,
        );
        notices.send({
          kind: 'post_mortem_draft_failed',
          severity: 'warning',
          audience: 'incident_commander',
          subject: `${tag} could not post the post-mortem draft on ${where}`,
          body: `${comment.error}\nThe draft is in the run's status (detail.postMortem.draft); file it by hand.`,
        });
      },
    ),
  );
}
