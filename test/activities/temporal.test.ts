import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  createTemporalActivities,
  type AwaitRunbookEndInput,
  type RunbookEnd,
} from '../../src/activities/temporal';
import { quietLogger } from '../fixtures/logger';
import { startTimeSkipping, uniqueId, type TimeSkippingHarness } from '../fixtures/temporal';

/**
 * awaitRunbookEnd, the wait an incident's new run makes for a runbook an earlier run started, on
 * the time-skipping server: the ends other than a result (the e2e has that one, across a hand-over).
 */
describe('awaitRunbookEnd: an incident following a runbook an earlier run started', () => {
  let harness: TimeSkippingHarness;
  before(async () => {
    harness = await startTimeSkipping();
  });
  after(() => harness.teardown());

  const activities = createTemporalActivities();
  const awaitRunbookEnd = (input: AwaitRunbookEndInput) => activities.awaitRunbookEnd(input);
  const environment = () =>
    new MockActivityEnvironment({}, { client: harness.env.client, logger: quietLogger });
  /** A run on a task queue nobody polls: it waits until ended from Temporal. */
  const startNobodysRun = async () =>
    harness.env.client.workflow.start('breakGlassRestore', {
      taskQueue: uniqueId('tq-nobody'),
      workflowId: uniqueId('followed'),
      args: [],
    });

  test('a run Temporal does not know: failed, saying so (not a runbook that failed on its own)', async () => {
    const end: RunbookEnd = await environment().run(awaitRunbookEnd, {
      workflowId: 'no-such-run',
      runId: 'no-such-id',
    });
    assert.equal(end.state, 'failed');
    assert.match(
      end.state === 'failed' ? end.message : '',
      /no-such-run \(run no-such-id\) is not known to Temporal/,
    );
  });

  test('a run terminated from Temporal: failed, with the reason given', async () => {
    const handle = await startNobodysRun();
    await handle.terminate('closed by hand from the Web UI');
    const end: RunbookEnd = await environment().run(awaitRunbookEnd, {
      workflowId: handle.workflowId,
      runId: handle.firstExecutionRunId,
    });
    assert.deepEqual(end, { state: 'failed', message: 'closed by hand from the Web UI' });
  });

  test('cancelled while it waits (the incident ended or handed over): the wait stops', async () => {
    const handle = await startNobodysRun();
    const env = environment();
    const waiting = env.run(awaitRunbookEnd, {
      workflowId: handle.workflowId,
      runId: handle.firstExecutionRunId,
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    env.cancel('CANCELLED');
    await assert.rejects(waiting);
    await handle.terminate('test over');
  });

  test('an input that is not a run names the bad fields', async () => {
    await assert.rejects(
      environment().run(awaitRunbookEnd, { workflowId: '', runId: 'x'.repeat(101) }),
      (error: Error) => /workflowId/.test(error.message) && /runId/.test(error.message),
    );
  });
});
