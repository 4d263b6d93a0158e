import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { abortSignal, approveSignal, approveUpdate, statusQuery } from '../../src/workflows/shared/messages';
import { REFUSAL_DETAIL_MAX } from '../../src/workflows/shared/run-record';
import { historyEvents } from '../fixtures/history';
import { activityDeps, shortTestPolicy } from '../fixtures/policy';
import { workflowSuite } from '../fixtures/suite';
import { closeRun } from '../fixtures/temporal';
import { restoreAtGate, resultWithin, waitForStatus } from '../fixtures/wait';

/**
 * A payload pasted into the Web UI's "Send a Signal" box can be as large as Temporal takes (2 MB).
 * Its refusal used to quote it: every unknown key named in the detail, which the run keeps in its
 * status, event log and result. Two pasted approvals of 60,000 keys (1.3 MB each) made the status
 * 7.9 MB (its query failed: "GRPC Message too large") and the result 2.6 MB, over Temporal's 2 MB
 * payload limit, so the workflow task that completed the run failed at every attempt: the run
 * stayed RUNNING, silent, after the IC aborted it. On the dev server, whose limits are the real ones.
 */

const suite = workflowSuite({ server: 'dev', queuePrefix: 'tq-oversized' });

const PASTED_KEYS = 60_000;

function pastedApproval(planHash: string): Record<string, unknown> {
  const payload: Record<string, unknown> = { approver: '@dococeven', planHash };
  for (let i = 0; i < PASTED_KEYS; i++) payload[`pasted_key_${i}`] = 1;
  return payload;
}

describe('a pasted payload of any size is refused in a few lines (dev server)', () => {
  test('two 1.3 MB approvals refused, the status still answers, the abort ends the run', async () => {
    await suite.withWorker(activityDeps(shortTestPolicy(), suite.db.pool), async (taskQueue) => {
      const { handle, gate } = await restoreAtGate(suite.env.client, taskQueue);
      try {
        const pasted = pastedApproval(gate.detail.plan!.planHash);
        assert.ok(JSON.stringify(pasted).length > 1_000_000);

        // As an Update (the CLI's way): refused by its validator, in a message a person can read.
        const refusal = await handle.executeUpdate(approveUpdate, { args: [pasted as never] }).then(
          () => assert.fail('the pasted approval was accepted'),
          (error: unknown) => error,
        );
        assert.ok(refusal instanceof WorkflowUpdateFailedError);
        const message = (refusal.cause as Error).message;
        assert.ok(message.length < 1_000, `${message.length} characters`);
        assert.match(message, /Unrecognized keys: "pasted_key_0", .* and 59990 more/);

        // As signals (the Web UI's way): recorded as refusals.
        await handle.signal(approveSignal, pasted as never);
        await handle.signal(approveSignal, pasted as never);
        const refused = await waitForStatus(
          handle,
          (s) => s.refusedAttempts.length >= 2,
          'both pasted approvals refused',
        );
        const status = await handle.query(statusQuery);
        assert.ok(JSON.stringify(status).length < 100_000, `status ${JSON.stringify(status).length} bytes`);
        assert.equal(refused.step, 'awaiting_approval');
        for (const attempt of refused.refusedAttempts) {
          assert.equal(attempt.reason, 'invalid_payload');
          assert.ok(attempt.detail.length <= REFUSAL_DETAIL_MAX + 40, `${attempt.detail.length} characters`);
          assert.match(attempt.detail, /and 59990 more/);
        }

        await handle.signal(abortSignal, {
          by: '@dococeven',
          reason: 'pasted the wrong thing, starting over',
        });
        const result = await resultWithin(handle, 30_000, 'the abort');
        assert.equal(result.outcome, 'aborted', result.message);
        assert.equal(result.refusedAttempts.length, 2);
        const events = await historyEvents(handle);
        assert.equal(
          events.filter((e) => e.workflowTaskFailedEventAttributes).length,
          0,
          'a workflow task failed',
        );
      } finally {
        await closeRun(handle, 'test over');
      }
    });
  });
});
