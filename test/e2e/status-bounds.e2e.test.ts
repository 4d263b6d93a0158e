import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  fileReviewMessage,
  postUpdateMessage,
  resolveMessage,
} from '../../src/workflows/incident/definitions';
import type { IncidentStatus } from '../../src/workflows/incident/definitions';
import { statusQuery, stepDecisionSignal, stepDecisionUpdate } from '../../src/workflows/shared/messages';
import { NOTICES_KEPT } from '../../src/workflows/shared/notices';
import { STEPS_KEPT } from '../../src/workflows/shared/run-record';
import { FaultInjector } from '../fixtures/faults';
import { incidentWorld } from '../fixtures/incident';
import { activityDeps, shortTestPolicy } from '../fixtures/policy';
import { workflowSuite } from '../fixtures/suite';
import { closeRun } from '../fixtures/temporal';
import { atStep, approveAtGate, restoreAtGate, waitForStatus } from '../fixtures/wait';

/**
 * A run's status answers its query and its result carries the status's steps and notices; the
 * server takes neither over 2 MB (a query's answer fails with `Blob data size exceeds limit`). Both
 * lists grew with every message and every retry: an incident that received 6,000 updates ended
 * with a 2.07 MB result, just under the limit, and past it the workflow task that ends the run
 * fails at every attempt, the run RUNNING and silent. The status now keeps the latest STEPS_KEPT
 * steps and NOTICES_KEPT notices and counts the rest. On the dev server (its real limits); the
 * lists' bounds are reached, not the limits (that takes minutes).
 */

// The server's suggestion to continue as new raised out of the way: an incident would hand over
// to a new run (history-limit.e2e) before its notices reached their bound.
const suite = workflowSuite({
  server: 'dev',
  clockStart: '2026-12-04T09:00:00Z',
  queuePrefix: 'tq-bounds',
  dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 40_000 },
});
const world = incidentWorld(suite, 'runbooks-status-bounds');

describe('a run’s status keeps its latest steps and notices, however many (dev server)', () => {
  test(`an incident sent ${NOTICES_KEPT + 200} updates: the latest ${NOTICES_KEPT} notices kept, the rest counted, the run ends`, async () => {
    await world.withWorker(async (taskQueue) => {
      const { handle: guarded } = await world.declare(taskQueue, world.declaration({ severity: 'P2' }));
      // The plain handle: the guarded one reads the history after each message (MBs here).
      const handle: typeof guarded = suite.env.client.workflow.getHandle(guarded.workflowId);
      const updates = NOTICES_KEPT + 200;
      for (let sent = 0; sent < updates; sent += 50)
        await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            handle.signal(postUpdateMessage.signal, { by: '@sre-lead', text: `progress update ${sent + i}` }),
          ),
        );
      const status = await waitForStatus<IncidentStatus>(
        handle,
        (s) => s.detail.updates.count === updates && s.notices.every((n) => n.state !== 'sending'),
        'every update posted and its notice delivered',
        120_000,
      );
      assert.equal(status.notices.length, NOTICES_KEPT);
      const sentInAll = status.notices.length + (status.noticesOmitted ?? 0);
      assert.ok(sentInAll > updates, `${sentInAll} notices in all`);
      assert.match(status.notices.at(-1)!.subject, /update from @sre-lead$/);
      await handle.signal(resolveMessage.signal, { by: '@sre-lead', summary: 'green' });
      await waitForStatus(handle, atStep('awaiting_review'), 'the review');
      await handle.signal(fileReviewMessage.signal, {
        by: '@sre-lead',
        documentUrl: 'https://docs.example/pm',
      });
      const result = await handle.result();
      assert.equal(result.outcome, 'resolved_and_reviewed');
      assert.equal(result.notices.length, NOTICES_KEPT);
      assert.match(result.notices.at(-1)!.kind, /review|resolved/);
    });
  });

  test(`a step retried ${STEPS_KEPT / 2 + 10} times: the latest ${STEPS_KEPT} steps kept, the rest counted`, async () => {
    const injector = new FaultInjector();
    injector.arm('verifyRestore', 'non_retryable', 'breakGlassRestore');
    await suite.withWorker(
      activityDeps(shortTestPolicy(), suite.db.pool),
      async (taskQueue) => {
        const { handle, gate } = await restoreAtGate(suite.env.client, taskQueue);
        try {
          await approveAtGate(handle, gate);
          let failed = await waitForStatus(handle, atStep('needs_human'), 'the failed verification', 60_000);
          const retries = STEPS_KEPT / 2 + 10;
          for (let retry = 0; retry < retries; retry++) {
            const since = failed.needsHuman!.since;
            await handle.executeUpdate(stepDecisionUpdate, {
              args: [{ by: '@dococeven', decision: 'retry', reason: `attempt ${retry}` }],
            });
            failed = await waitForStatus(
              handle,
              (s) => s.step === 'needs_human' && s.needsHuman?.since !== since,
              `retry ${retry} failed again`,
            );
          }
          const status = await handle.query(statusQuery);
          assert.equal(status.steps.length, STEPS_KEPT);
          assert.ok((status.stepsOmitted ?? 0) > 0, `${status.stepsOmitted} steps omitted`);
          assert.equal(status.steps.at(-1)!.name, 'needs_human');
          await handle.signal(stepDecisionSignal, {
            by: '@dococeven',
            decision: 'abort',
            reason: 'left as is',
          });
          const result = await handle.result();
          assert.equal(result.outcome, 'aborted', result.message);
          assert.ok(result.steps.length <= STEPS_KEPT);
        } finally {
          await closeRun(handle, 'test over');
        }
      },
      { activity: [injector.factory] },
    );
  });
});
