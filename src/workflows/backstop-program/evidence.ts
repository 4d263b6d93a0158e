import { proxyActivities } from '@temporalio/workflow';
import type { GitHubIssue, RunbookActivities, WorkPackage } from '../../activities';
import type { CheckpointName } from '../../common/backstop';
import { formatDuration, utcIso } from '../../common/duration';
import { notification, probe } from '../activity-options';
import { describeFailure } from '../shared/notices';
import type { CheckpointEvidence } from './definitions';
import type { BackstopRun } from './run';

const trackers = proxyActivities<RunbookActivities>(notification);
const { probeUrl } = proxyActivities<RunbookActivities>(probe);

/**
 * Reads every piece of evidence of a checkpoint (the Epic and its children in OpenProject, the
 * gate-failure search on GitHub, the Console restore probe); a tracker that cannot be read makes
 * the checkpoint wait and read again.
 */
export async function gatherEvidence(
  run: BackstopRun,
  name: CheckpointName,
  dueMs: number,
): Promise<CheckpointEvidence> {
  const { input, detail, notices, dri, tag, policy, search } = run;
  const op = policy.openProjectChannel;
  const gh = policy.gitHubChannel;
  for (;;) {
    const unavailable: string[] = [];
    const stamp = <T extends object>(value: T): T & { checkedAt: string } => ({
      ...value,
      checkedAt: utcIso(Date.now()),
    });
    const [epic, children, issues, restore] = await Promise.all([
      trackers.getWorkPackage({ channel: op, id: input.openProject.epicId }).then(stamp, (error: unknown) => {
        unavailable.push(`epic wp#${input.openProject.epicId}: ${describeFailure(error)}`);
        return undefined;
      }),
      trackers.listChildWorkPackages({ channel: op, parentId: input.openProject.epicId }).then(
        (list: WorkPackage[]) => list.map(stamp),
        (error: unknown) => {
          unavailable.push(`children of wp#${input.openProject.epicId}: ${describeFailure(error)}`);
          return undefined;
        },
      ),
      trackers
        .searchGitHubIssues({
          channel: gh,
          repository: input.github.repository,
          labels: [input.github.gateFailureLabel],
          text: search,
          state: 'all',
        })
        .then(
          (found: GitHubIssue[]) => found,
          (error: unknown) => {
            unavailable.push(`gate-failure search: ${describeFailure(error)}`);
            return undefined;
          },
        ),
      probeUrl({ url: input.consoleRestoreProbeUrl, timeoutMs: policy.probeTimeout }),
    ]);
    const closedChild = children?.some((child) => child.status === policy.shippedStatus) ?? false;
    const evidence: CheckpointEvidence = {
      checkpoint: name,
      dueAt: utcIso(dueMs),
      evaluatedAt: utcIso(Date.now()),
      ...(epic ? { epic } : {}),
      ...(children ? { children } : {}),
      ...(issues ? { gateFailureIssues: issues, gateFailureCheckedAt: utcIso(Date.now()) } : {}),
      probe: restore,
      // Shipped needs both: a Closed child and the restore live. An unreachable probe is "not live".
      shipped: closedChild && restore.up,
      verdict: '',
    };
    if (evidence.shipped || !unavailable.length) return evidence;
    evidence.unavailable = unavailable;
    evidence.verdict = 'evidence unavailable: read again later';
    detail.evidence.push(evidence);
    notices.send({
      kind: 'backstop_evidence_unavailable',
      severity: 'warning',
      audience: 'owner',
      recipients: [dri],
      subject: `${tag} ${name}: evidence unavailable, reading again in ${formatDuration(policy.evidenceRetryInterval)}`,
      body: unavailable.join('\n'),
    });
    await run.sleepUntil(Date.now() + policy.evidenceRetryInterval, `${name}: read the evidence again`);
  }
}
