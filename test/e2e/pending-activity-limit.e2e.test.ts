import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LoadedPolicy } from '../../src/worker/policy';
import { stepDecisionSignal } from '../../src/workflows/shared/messages';
import { FaultInjector } from '../fixtures/faults';
import { historyEvents, pendingActivities, noticesSent } from '../fixtures/history';
import { activityDeps, shortTestPolicy, withDeliveriesInFlight } from '../fixtures/policy';
import { workflowSuite } from '../fixtures/suite';
import { approveAtGate, restoreAtGate, resultWithin, waitForStatus } from '../fixtures/wait';

/**
 * Temporal refuses a workflow task that would leave a run more pending activities than
 * `limit.numPendingActivities.error` (2,000 by default) and fails every retry of it the same way:
 * the run stops where it is, and nothing tells anyone. A wait nobody answered for weeks ends with
 * one resolve per page it sent, all at once. Here the dev server's limit is 20 (the real check,
 * scaled down), the run pages every half second, and the human answers after 30 pages.
 */

const SERVER_LIMIT = 20;
const BOUND = 5;
const PAGES = 30;
const suite = workflowSuite({
  server: 'dev',
  queuePrefix: 'tq-pending-limit',
  dynamicConfig: { 'limit.numPendingActivities.error': SERVER_LIMIT },
});

function policy(): LoadedPolicy {
  const loaded = withDeliveriesInFlight(shortTestPolicy(), BOUND);
  return {
    ...loaded,
    policy: { ...loaded.policy, failSafe: { ...loaded.policy.failSafe, repageInterval: 500 } },
  };
}

describe('a run never goes over the server’s pending-activity limit (dev server, limit scaled down)', () => {
  test(`${PAGES} pages answered at once under a limit of ${SERVER_LIMIT}: the run ends, every page resolved`, async () => {
    const injector = new FaultInjector();
    injector.arm('verifyRestore', 'non_retryable', 'breakGlassRestore');
    await suite.withWorker(
      activityDeps(policy(), suite.db.pool),
      async (taskQueue) => {
        const { handle, gate } = await restoreAtGate(suite.env.client, taskQueue);
        try {
          await approveAtGate(handle, gate);
          const waiting = await waitForStatus(
            handle,
            (s) => (s.needsHuman?.pages ?? 0) >= PAGES,
            `${PAGES} pages of the failed verification`,
            60_000,
          );
          assert.equal(waiting.step, 'needs_human');
          await handle.signal(stepDecisionSignal, {
            by: '@dococeven',
            decision: 'abort',
            reason: 'left as is',
          });

          // Over the limit the run does not fail: its workflow task fails on every attempt.
          const result = await resultWithin(handle, 60_000, 'the decision');
          assert.equal(result.outcome, 'aborted', result.message);
          const events = await historyEvents(handle);
          const pages = noticesSent(events).filter((n) =>
            ['needs_human', 'needs_human_repage'].includes(n.kind),
          );
          const resolves = noticesSent(events).filter((n) => n.kind === 'needs_human_resolved');
          assert.ok(pages.length >= PAGES, `${pages.length} pages`);
          assert.equal(resolves.length, pages.length, 'every page resolved');
          assert.deepEqual(
            result.notices
              .filter((n) => n.kind === 'needs_human_resolved' && n.state !== 'delivered')
              .map((n) => n.subject),
            [],
          );
          assert.equal(pendingActivities(events, 'notify').most, BOUND);
        } finally {
          await handle.terminate('test over').catch(() => undefined);
        }
      },
      { activity: [injector.factory] },
    );
  });
});
