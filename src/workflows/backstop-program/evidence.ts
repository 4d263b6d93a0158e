import { proxyActivities } from '@temporalio/workflow';
import type { GitHubIssue, HttpProbe, RunbookActivities, WorkPackage } from '../../activities';
import type { CheckpointName } from '../../common/backstop';
import { formatDuration, utcIso } from '../../common/duration';
import { notification, probe } from '../activity-options';
import { repeatInterval } from '../shared/history-budget';
import { describeFailure } from '../shared/notices';
import { isPatched, PATCHES } from '../shared/patches';
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
  const { detail, notices, dri, tag, policy } = run;
  let pagedAbout = false;
  /** When this checkpoint's evidence was first unavailable: its re-reads slow down a day after. */
  let unavailableSinceMs: number | undefined;
  for (;;) {
    const unavailable: string[] = [];
    const [epic, children, issues, restore] = await readEvidence(run, unavailable);
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
    if (evidence.shipped || !unavailable.length) {
      if (pagedAbout) resolvePage(run, name);
      return evidence;
    }
    evidence.unavailable = unavailable;
    evidence.verdict = 'evidence unavailable: read again later';
    detail.evidence.push(evidence);
    // Evidence that cannot be read is a failure of the outside world: it pages (one incident per
    // checkpoint) while the program keeps reading, so a checkpoint never waits quietly.
    pagedAbout = isPatched(PATCHES.backstopFailSafe);
    const page = pagedAbout
      ? { page: { action: 'trigger' as const, dedupKey: evidencePageKey(run, name) } }
      : {};
    unavailableSinceMs ??= Date.now();
    const retry = repeatInterval(run.record, policy.evidenceRetryInterval, unavailableSinceMs);
    notices.send({
      kind: 'backstop_evidence_unavailable',
      severity: 'warning',
      audience: 'owner',
      recipients: [dri],
      ...page,
      subject: `${tag} ${name}: evidence unavailable, reading again in ${formatDuration(retry.ms)}`,
      body: [...unavailable, ...(retry.note ? [retry.note] : [])].join('\n'),
    });
    await run.sleepUntil(Date.now() + retry.ms, `${name}: read the evidence again`);
  }
}

function evidencePageKey(run: BackstopRun, name: CheckpointName): string {
  return `${run.workflowId}/evidence-${name}`;
}

/** The evidence could be read again: the page about it is resolved. */
function resolvePage(run: BackstopRun, name: CheckpointName): void {
  run.notices.send({
    kind: 'backstop_evidence_unavailable',
    severity: 'info',
    audience: 'owner',
    recipients: [run.dri],
    page: { action: 'resolve', dedupKey: evidencePageKey(run, name) },
    subject: `${run.tag} ${name}: evidence readable again`,
    body: 'The checkpoint was evaluated.',
  });
}

/** The checkpoint's four readings side by side; what cannot be read goes into `unavailable`. */
function readEvidence(run: BackstopRun, unavailable: string[]) {
  const { policy, search } = run;
  const op = policy.openProjectChannel;
  const gh = policy.gitHubChannel;
  const stamp = <T extends object>(value: T): T & { checkedAt: string } => ({
    ...value,
    checkedAt: utcIso(Date.now()),
  });
  return Promise.all([
    trackers
      .getWorkPackage({ channel: op, id: run.program.openProject.epicId })
      .then(stamp, (error: unknown) => {
        unavailable.push(`epic wp#${run.program.openProject.epicId}: ${describeFailure(error)}`);
        return undefined;
      }),
    trackers.listChildWorkPackages({ channel: op, parentId: run.program.openProject.epicId }).then(
      (list: WorkPackage[]) => list.map(stamp),
      (error: unknown) => {
        unavailable.push(`children of wp#${run.program.openProject.epicId}: ${describeFailure(error)}`);
        return undefined;
      },
    ),
    trackers
      .searchGitHubIssues({
        channel: gh,
        repository: run.program.github.repository,
        labels: [run.program.github.gateFailureLabel],
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
    // A probe that cannot run (not a probe that answers "down") is evidence not read.
    probeUrl({ url: run.program.consoleRestoreProbeUrl, timeoutMs: policy.probeTimeout }).catch(
      (error: unknown): HttpProbe => {
        const failure = describeFailure(error);
        unavailable.push(`Console restore probe: ${failure}`);
        return {
          url: run.program.consoleRestoreProbeUrl,
          up: false,
          error: failure,
          elapsedMs: 0,
          checkedAt: utcIso(Date.now()),
        };
      },
    ),
  ]);
}
