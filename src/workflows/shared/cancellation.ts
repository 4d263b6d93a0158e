import { CancellationScope, isCancellation } from '@temporalio/workflow';
import type { NoticeAudience, NoticeKind } from '../../common/notice';
import type { Notices, OpenPage } from './notices';
import { isPatched, PATCHES } from './patches';
import type { RunRecord } from './run-record';

/**
 * A cancellation asked of Temporal for this run (the Web UI's "Request Cancellation", `temporal
 * workflow cancel`, the API) as opposed to one of the run's own scopes: the root scope is
 * cancelled. `error` is what reached the caller (a CancelledFailure, or an ActivityFailure or
 * ChildWorkflowFailure caused by one).
 */
function isRunCancellation(error: unknown): boolean {
  return isCancellation(error) && CancellationScope.current().consideredCancelled;
}

/**
 * A run cancellation this run answers with the announcement below: runs since
 * run-cancellation-announced-v1 (asked only when one comes). The fail-safe lets it through too.
 */
export function isAnnouncedCancellation(error: unknown): boolean {
  return isRunCancellation(error) && isPatched(PATCHES.runCancellationAnnounced);
}

/** Whom the cancellation is told to, and what the run had done by then. */
export interface CancellationAnnouncement {
  /** "[break-glass A INC-1]": prefix of the notice's subject. */
  tag: string;
  audience: NoticeAudience;
  recipients: string[];
  /** What the run did and did not do (the fail-safe's account), when it has one. */
  account?: () => string;
  /**
   * Ends the run's record as cancelled (record.finish by default); the backstop also writes down
   * decisions received and keeps the end in the story's ledger.
   */
  finish?: (summary: string) => Promise<void>;
}

/** What a run that announces its cancellation has: its record, its notices and its fail-safe. */
export interface AnnouncingRun {
  record: RunRecord<unknown>;
  notices: Notices;
  failSafe: { cancellation(): CancellationAnnouncement };
}

/**
 * Runs the workflow body; a cancellation of the run ends it CANCELED as Temporal asks, but since
 * run-cancellation-announced-v1 not quietly: it is recorded (step, outcome `cancelled`, search
 * attributes), deadlines the run watched are marked cancelled and listed, and the run's people
 * are told at which step it stopped, that an activity running then may still finish, and what is
 * now theirs to do by hand. The ending runs in a non-cancellable scope (its activities must not be
 * cancelled by the request they report). `announcement` (by default the fail-safe's: the incident
 * commander or DRI it pages) is read when the cancellation comes, once the policy is read (before
 * that a run has done nothing and has nowhere to send a notice: its record alone says so).
 */
export function announcingCancellation<T>(
  run: AnnouncingRun,
  body: () => Promise<T>,
  announcement: () => CancellationAnnouncement = () => run.failSafe.cancellation(),
): Promise<T> {
  // A `.catch` rather than an async function awaiting the body: fewer promises for every run (the
  // SDK captures a source-mapped stack for each).
  return body().catch(async (error: unknown) => {
    if (!isAnnouncedCancellation(error)) throw error;
    const { record, notices } = run;
    const told = notices.routed ? announcement() : undefined;
    await CancellationScope.nonCancellable(() => endCancelled(record, notices, told));
    throw error;
  });
}

/**
 * Pages that asked this run for something (a step's decision, a pause's resume, the T+90 decision,
 * evidence it kept reading): once it is cancelled nobody can answer them here. The others are
 * about the target or the incident (a safe state not reached, a rollback started, a revert): they
 * stay open for a person, and the cancellation notice names them.
 */
const ASKED_OF_THE_RUN: ReadonlySet<NoticeKind> = new Set<NoticeKind>([
  'needs_human',
  'needs_human_repage',
  'reenablement_inconclusive',
  'backstop_t90_escalation',
  'backstop_t90_reescalation',
  'backstop_evidence_unavailable',
]);

/** Resolves the pages the run asked and can no longer be answered; returns those it leaves open. */
function resolvePagesAskedOfTheRun(notices: Notices, tag: string, summary: string): OpenPage[] {
  const asked = (page: OpenPage) => ASKED_OF_THE_RUN.has(page.kind);
  notices.resolvePages(
    asked,
    (page) => ({
      subject: `${tag} ${summary}: nothing more is asked (was: ${page.subject})`,
      body: `${summary}. The run that asked this has ended; what is left is to be done by hand.`,
    }),
    (page) => (page.kind.startsWith('needs_human') ? 'needs_human_resolved' : page.kind),
  );
  return notices.pagesOpen.filter((page) => !asked(page));
}

async function endCancelled(
  record: RunRecord<unknown>,
  notices: Notices,
  told: CancellationAnnouncement | undefined,
): Promise<void> {
  const { status } = record;
  const step = status.step;
  // A wait the fail-safe came back to began before the detour (the step entry is the return).
  const since =
    status.waitingSince !== undefined && isPatched(PATCHES.cancellationSinceWaitBegan)
      ? status.waitingSince
      : status.steps.at(-1)?.startedAt;
  const unwatched = status.deadlines.filter((deadline) => deadline.state === 'pending');
  for (const deadline of unwatched) record.resolveDeadline(deadline.name, 'cancelled');
  const summary = `cancelled from Temporal (Web UI, CLI or API) at step ${step}`;
  record.event('cancelled', `${summary}: the run ends here`);
  if (!told) return record.finish('cancelled', summary);
  const answered = isPatched(PATCHES.cancellationResolvesPages);
  const leftOpen = answered ? resolvePagesAskedOfTheRun(notices, told.tag, summary) : [];
  // The question nobody will answer now, said plainly ("at step needs_human" alone names none).
  const needs = answered ? status.needsHuman : undefined;
  const account = told.account?.();
  notices.send({
    kind: 'run_cancelled',
    severity: 'warning',
    audience: told.audience,
    recipients: told.recipients,
    subject: `${told.tag} CANCELLED at ${step}: the run does nothing more`,
    body: [
      `A cancellation was requested for this run from Temporal (Web UI, CLI or API) at step ${step}${since ? ` (since ${since})` : ''}. It ends here, as cancelled.`,
      ...(needs
        ? [
            `It was waiting for a human after ${needs.step} failed (${needs.what}: ${needs.error})${needs.safeState ? `; safe state (${needs.safeState.what}): ${needs.safeState.state}` : ''}. Nobody can decide it in this run any more.`,
          ]
        : []),
      ...(account ? [`So far: ${account}.`] : []),
      'An activity that was running at that moment is not stopped by the cancellation and may still finish: check the target before acting on it.',
      ...(unwatched.length
        ? [
            `No longer watched by the run, now to be done by hand: ${unwatched.map((d) => `${d.name} (due ${d.dueAt})`).join('; ')}.`,
          ]
        : []),
      ...(leftOpen.length
        ? [
            `Still open in PagerDuty, about the target or the incident (close each once handled): ${leftOpen.map((p) => `"${p.subject}" (dedup key ${p.dedupKey})`).join('; ')}.`,
          ]
        : []),
    ].join('\n'),
  });
  if (told.finish) await told.finish(summary);
  else record.finish('cancelled', summary);
  await notices.settle();
}
