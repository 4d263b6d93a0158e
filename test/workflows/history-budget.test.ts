import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { renderStatus } from '../../src/cli/status';
import { breakGlassRestore } from '../../src/workflows';
import {
  acknowledgeConflictSignal,
  approveSignal,
  type BreakGlassRestoreInput,
  type BreakGlassRestoreResult,
} from '../../src/workflows/break-glass-restore/definitions';
import { stepDecisionSignal } from '../../src/workflows/shared/messages';
import {
  assertElapsed,
  eventTimeMs,
  historyEvents,
  pendingActivities,
  noticesSent,
  recordHistory,
  repeatedNotices,
  REPEATS_SLOWED,
  type SentNotice,
} from '../fixtures/history';
import { activityDeps, defaultPolicy, withDeliveriesInFlight } from '../fixtures/policy';
import { FaultInjector } from '../fixtures/faults';
import { workflowSuite } from '../fixtures/suite';
import { closeRun, uniqueId } from '../fixtures/temporal';
import { atStep, waitForStatus } from '../fixtures/wait';

/**
 * A run left waiting for a human repeats its pages and reminders (every 30 min by the default
 * policy), about 11 history events each. Temporal terminates a run whose history passes its limit
 * (51,200 events on a default server): about 97 days of an unanswered `needs_human`, without a
 * word to anyone. Once a wait has lasted a day and the history is over its budget (the server's
 * suggestion to continue as new, at 4,096 events on the test server, or 10,000 events / 10 MiB),
 * what repeats comes daily and says why. Time-skipping server, default policy, real Postgres.
 */

const suite = workflowSuite({ server: 'time-skipping', queuePrefix: 'tq-budget' });
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** A timer fires in the first workflow task after it is due: the notice follows within seconds. */
const SLACK = MINUTE;

type Handle = WorkflowHandle<typeof breakGlassRestore>;

function input(): BreakGlassRestoreInput {
  return {
    incidentId: uniqueId('INC'),
    targetHistoryId: 5,
    requestedBy: '@alice',
    rationale: 'LGB 5M learning rate set to 0.0 by a Console typo; restoring the previous snapshot',
  };
}

/**
 * Starts a restore, approves its plan, lets the pause pass and hands the run to `fn`. A run still
 * open after it (a hold acknowledged, a failed assertion) is closed while the worker still serves
 * it (`closeRun`: a terminated run's timers would hold the test server's clock for the tests after).
 */
async function withApprovedRestore(taskQueue: string, fn: (handle: Handle) => Promise<void>): Promise<void> {
  const args = input();
  const handle = await suite.env.client.workflow.start(breakGlassRestore, {
    taskQueue,
    workflowId: `break-glass-restore-${args.incidentId}`,
    args: [args],
  });
  try {
    const gate = await waitForStatus(handle, atStep('awaiting_approval'), 'the approval gate');
    await handle.signal(approveSignal, { approver: '@dococeven', planHash: gate.detail.plan!.planHash });
    await suite.env.sleep(3 * MINUTE);
    await fn(handle);
  } finally {
    await closeRun(handle, 'test over');
  }
}

/** A human aborts the run waiting in `needs_human`; it ends `aborted`. */
async function abortRun(handle: Handle): Promise<BreakGlassRestoreResult> {
  await handle.signal(stepDecisionSignal, { by: '@dococeven', decision: 'abort', reason: 'left as is' });
  const result = await handle.result();
  assert.equal(result.outcome, 'aborted', result.message);
  return result;
}

/** Lets `days` pass on the test server a day at a time (the worker answers each timer). */
async function waitDays(days: number): Promise<void> {
  for (let day = 0; day < days; day++) await suite.env.sleep(DAY);
}

/**
 * The gaps between consecutive notices, from the history's own times: every 30 min until the one
 * that says the run slowed down, daily after it. Returns the index of that notice.
 */
function assertCadence(notices: SentNotice[], what: string): number {
  const slowedAt = notices.findIndex((notice) => REPEATS_SLOWED.test(notice.body));
  assert.ok(slowedAt > 0, `${what}: no notice says the repeats slowed down (${notices.length} sent)`);
  for (let i = 1; i <= slowedAt; i++)
    assertElapsed(
      notices[i - 1]!.atMs,
      notices[i]!.atMs,
      30 * MINUTE,
      SLACK,
      `${what} ${i} after the one before`,
    );
  for (let i = slowedAt + 1; i < notices.length; i++) {
    assertElapsed(notices[i - 1]!.atMs, notices[i]!.atMs, DAY, SLACK, `${what} ${i} after the one before`);
    assert.match(notices[i]!.body, REPEATS_SLOWED, `${what} ${i} says why it came a day later`);
  }
  return slowedAt;
}

describe('history budget: what repeats until a human acts slows to daily on a long history (time-skipping)', () => {
  test('needs_human unanswered for weeks: re-pages every 30 min, then daily once over the budget; a new failure pages every 30 min for its first day again', async () => {
    const injector = new FaultInjector();
    injector.arm('verifyRestore', 'non_retryable', 'breakGlassRestore');
    await suite.withWorker(
      activityDeps(defaultPolicy(), suite.db.pool),
      (taskQueue) =>
        withApprovedRestore(taskQueue, async (handle) => {
          await waitForStatus(handle, atStep('needs_human'), 'the failed verification');
          await waitDays(11);

          const first = await historyEvents(handle);
          const episode1 = repeatedNotices(first, ['needs_human', 'needs_human_repage']).notices;
          const slowedAt = assertCadence(episode1, 'page');
          const status = await waitForStatus(
            handle,
            (s) => s.historyBudget !== undefined,
            'the budget in the status',
          );
          const budget = status.historyBudget!;
          // Slowed only after a day of the wait and past the server's suggestion (4,096 on this server).
          assert.ok(episode1[slowedAt]!.atMs - episode1[0]!.atMs >= DAY);
          assert.ok(budget.events >= 4_096, `over the budget at ${budget.events} events`);
          assert.equal(budget.reason, 'server_suggestion');
          assert.match(
            renderStatus(status as unknown as Parameters<typeof renderStatus>[0]),
            new RegExp(
              `HISTORY: +${budget.events} events on ${budget.exceededAt}, over the run's budget: .* every 1d`,
            ),
          );
          assert.ok(
            status.events.some(
              (event) => event.kind === 'history_budget' && REPEATS_SLOWED.test(event.message),
            ),
          );
          // After the slowdown: about 11 events a day, where the wait wrote 528 a day before.
          const slowedMs = episode1[slowedAt]!.atMs;
          const after = first.filter((event) => eventTimeMs(event) > slowedMs).length;
          const perDay = after / ((eventTimeMs(first[first.length - 1]!) - slowedMs) / DAY);
          assert.ok(perDay < 20, `${perDay.toFixed(1)} events a day after the slowdown`);

          // A retry that fails again is a new wait: its first day pages every 30 min, then daily.
          await handle.signal(stepDecisionSignal, {
            by: '@dococeven',
            decision: 'retry',
            reason: 'try once more',
          });
          await waitDays(3);
          const second = await historyEvents(handle);
          const episode2 = repeatedNotices(second, ['needs_human', 'needs_human_repage']).notices.slice(
            episode1.length,
          );
          assert.equal(episode2[0]?.kind, 'needs_human', 'the new failure pages at once');
          const slowedAgain = assertCadence(episode2, 'page of the second failure');
          assert.equal(slowedAgain, 48, 'a day of pages every 30 min before the first daily one');

          await abortRun(handle);
          await recordHistory(handle, 'break-glass-restore-repages-slowed-over-history-budget');
        }),
      { activity: [injector.factory] },
    );
  });

  test('a CONFLICT hold unacknowledged for weeks: reminders every 30 min, then daily once over the budget', async () => {
    await suite.withWorker(activityDeps(defaultPolicy(), suite.db.pool), (taskQueue) =>
      withApprovedRestore(taskQueue, async (handle) => {
        await waitForStatus(
          handle,
          (s) => s.detail.conflictHold?.state === 'awaiting_acknowledgement',
          'the CONFLICT hold',
        );
        await waitDays(11);
        const events = await historyEvents(handle);
        const reminders = repeatedNotices(events, [
          'canonical_conflict_hold',
          'canonical_conflict_reminder',
        ]).notices;
        assert.equal(reminders[0]?.kind, 'canonical_conflict_hold');
        assertCadence(reminders, 'reminder');
        await waitForStatus(handle, (s) => s.historyBudget !== undefined, 'the budget in the status');
        await handle.signal(acknowledgeConflictSignal, {
          by: '@alice',
          note: 'operator-tuned snapshot, intended',
        });
        await waitForStatus(
          handle,
          (s) => s.detail.conflictHold?.state === 'acknowledged',
          'the acknowledged hold',
        );
      }),
    );
  });

  test('a day of pages answered at once: their resolves go out no more than the policy allows in flight at a time, every one delivered', async () => {
    // Temporal fails every workflow task of a run with more pending activities than its limit
    // (2,000 by default), for ever: resolving a long wait's pages in one burst could stop the run.
    const BOUND = 10;
    const injector = new FaultInjector();
    injector.arm('verifyRestore', 'non_retryable', 'breakGlassRestore');
    await suite.withWorker(
      activityDeps(withDeliveriesInFlight(defaultPolicy(), BOUND), suite.db.pool),
      (taskQueue) =>
        withApprovedRestore(taskQueue, async (handle) => {
          await waitForStatus(handle, atStep('needs_human'), 'the failed verification');
          await waitDays(1);
          const { pages } = (await waitForStatus(handle, atStep('needs_human'), 'the wait')).needsHuman!;
          assert.ok(pages >= 48, `${pages} pages in a day`);
          const result = await abortRun(handle);

          const events = await historyEvents(handle);
          const resolves = noticesSent(events).filter((notice) => notice.kind === 'needs_human_resolved');
          assert.equal(resolves.length, pages, 'every page resolved');
          const answered = result.notices.filter((notice) => notice.kind === 'needs_human_resolved');
          assert.deepEqual(
            answered.filter((notice) => notice.state !== 'delivered').map((notice) => notice.subject),
            [],
            'every resolve delivered',
          );
          // Both bounds: the policy's number held them back (it was reached), and never more.
          assert.equal(pendingActivities(events, 'notify').most, BOUND);
          await recordHistory(handle, 'break-glass-restore-resolves-bounded-in-flight');
        }),
      { activity: [injector.factory] },
    );
  });
});
