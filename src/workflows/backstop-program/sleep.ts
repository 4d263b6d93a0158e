import { condition, sleep } from '@temporalio/workflow';
import { utcIso } from '../../common/duration';
import { isPatched, PATCHES } from '../shared/patches';

/** The decisions received and not yet written down, as a wait sees them. */
export interface DecisionInbox {
  waiting(): boolean;
  record(): Promise<void>;
}

/**
 * Sleeps until `atMs` on one durable timer, writing down decisions as they come (a programme
 * sleeps up to 30 days between checkpoints). Since backstop-one-timer-per-wait-v1 a decision no
 * longer cancels the timer and starts another, and the wait makes 8 promises where one on a
 * condition with a timeout made 19 (the SDK captures a source-mapped stack for each, for its
 * stack-trace query).
 */
export async function sleepRecordingDecisions(
  atMs: number,
  what: string,
  inbox: DecisionInbox,
): Promise<void> {
  if (Date.now() >= atMs) return;
  const summary = `${what} at ${utcIso(atMs)}`;
  if (!isPatched(PATCHES.backstopOneTimerPerWait)) return sleepRestartingTimer(atMs, summary, inbox);
  let due = false;
  // Handled here (an unhandled rejection fails the workflow task, retried forever); the condition
  // below rejects with the same cancellation and ends the wait.
  void sleep(atMs - Date.now(), { summary }).then(
    () => {
      due = true;
    },
    () => undefined,
  );
  for (;;) {
    await condition(() => due || inbox.waiting());
    await inbox.record();
    if (due) return;
  }
}

/** The wait as recorded before backstop-one-timer-per-wait-v1: a decision restarts the timer. */
async function sleepRestartingTimer(atMs: number, summary: string, inbox: DecisionInbox): Promise<void> {
  while (Date.now() < atMs) {
    await condition(() => inbox.waiting(), atMs - Date.now(), { summary });
    await inbox.record();
  }
}
