import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { setChangeFreeze } from '../../src/activities/sql/change-freeze';
import { incident } from '../../src/workflows';
import {
  incidentWorkflowId,
  resolveMessage,
  type IncidentInput,
  type IncidentStatus,
} from '../../src/workflows/incident/definitions';
import { cancelRun } from '../fixtures/cancellation';
import { freezeLifts } from '../fixtures/freeze-lift';
import { historyEvents, noticesSent, recordHistory, scheduledActivities } from '../fixtures/history';
import { incidentWorld } from '../fixtures/incident';
import { workflowSuite } from '../fixtures/suite';
import { uniqueId } from '../fixtures/temporal';
import { atStep, waitForStatus } from '../fixtures/wait';

/**
 * Lifting an incident's change freeze by hand (seed 004 §1.3), on the time-skipping server with
 * real Postgres: the freeze a P1 incident set is left in force when its run is cancelled (or its
 * lift skipped); `freezeLift` lifts it, recorded with who and why, refuses while the incident is
 * open and unresolved, and refuses anyone the incident policy does not name as a responder.
 */

const suite = workflowSuite({
  server: 'time-skipping',
  clockStart: '2026-12-04T09:00:00Z',
  queuePrefix: 'tq-freeze-lift',
});
const { started, declaration, declare, withWorker } = incidentWorld(suite, 'runbooks-freeze-lift');
const { runLift, freezeRows, frozenWithoutRun, productionFrozen } = freezeLifts(suite);

const IC = '@sre-lead';

/** A P1 in production: its run freezes production and waits in `responding`. */
async function declareP1(taskQueue: string): Promise<{ incidentId: string; handle: WorkflowHandle }> {
  const input = declaration();
  const { handle } = await declare(
    taskQueue,
    input,
    (status) => status.step === 'responding' && status.detail.freeze?.state === 'frozen',
  );
  return { incidentId: input.incidentId, handle };
}

describe('freezeLift (seed 004 §1.3 by hand) on the time-skipping server', () => {
  test('a cancelled P1 left its freeze in force: a non-responder is refused; a responder lifts it, recorded and told; again: not frozen', async () => {
    await withWorker(async (taskQueue) => {
      const { incidentId, handle } = await declareP1(taskQueue);
      await cancelRun<IncidentStatus>(handle);
      assert.equal(await productionFrozen(), true);

      const stranger = await runLift(taskQueue, {
        incidentId,
        requestedBy: '@intern',
        reason: 'want to deploy',
      });
      assert.equal(stranger.result.outcome, 'refused_not_responder', stranger.result.message);
      assert.match(stranger.result.message, /@intern may not lift .*@sre-lead/);
      assert.deepEqual(
        (await freezeRows(incidentId)).map((row) => row.lifted),
        [false],
      );

      const reason = 'incident run cancelled by mistake; production is green since 09:40';
      // Plan only: the same checks, the freeze it would lift named; nothing lifted, nobody told.
      const dry = await runLift(taskQueue, { incidentId, requestedBy: '@dococeven', reason, dryRun: true });
      assert.equal(dry.result.outcome, 'dry_run', dry.result.message);
      assert.deepEqual(
        dry.result.dryRun?.wouldLift.map((freeze) => [freeze.environment, freeze.liftedAt ?? null]),
        [['production', null]],
      );
      assert.equal(dry.result.dryRun?.signedApprovalRequired, false);
      assert.match(
        dry.result.message,
        /^dry run: would lift incident INC-\S+'s freeze of production \(frozen at \S+ by \S+\); nothing was lifted$/,
      );
      const dryEvents = await historyEvents(dry.handle);
      assert.deepEqual(noticesSent(dryEvents), []);
      assert.ok(!scheduledActivities(dryEvents).some((a) => a.type === 'liftChangeFreeze'));
      assert.deepEqual(
        (await freezeRows(incidentId)).map((row) => row.lifted),
        [false],
      );
      await recordHistory(dry.handle, 'freeze-lift-dry-run');

      const lift = await runLift(taskQueue, { incidentId, requestedBy: '@dococeven', reason });
      assert.equal(lift.result.outcome, 'lifted', lift.result.message);
      assert.match(lift.result.message, /^production no longer frozen by incident .* lifted by @dococeven/);
      assert.deepEqual(await freezeRows(incidentId), [
        { environment: 'production', lifted_by: '@dococeven', lift_reason: reason, lifted: true },
      ]);
      assert.equal(await productionFrozen(), false);
      const told = noticesSent(await historyEvents(lift.handle)).filter((n) => n.kind === 'incident_freeze');
      assert.equal(told.length, 1);
      assert.match(told[0]!.subject, /change freeze on production lifted by hand/);
      const { rows } = await suite.db.pool.query<{ body: string }>(
        "SELECT body FROM runbook_notices WHERE workflow_id = $1 AND kind = 'incident_freeze'",
        [lift.handle.workflowId],
      );
      assert.match(rows[0]!.body, /its run is cancelled/);

      await recordHistory(lift.handle, 'freeze-lift-lifted-after-cancelled-incident');
      const again = await runLift(taskQueue, { incidentId, requestedBy: IC, reason: 'double-check' });
      assert.equal(again.result.outcome, 'not_frozen');
      assert.match(again.result.message, /production lifted at .* by @dococeven/);
    });
  });

  test('an open, unresolved incident keeps its freeze: refused, nothing changed', async () => {
    await withWorker(async (taskQueue) => {
      const { incidentId } = await declareP1(taskQueue);
      const lift = await runLift(taskQueue, { incidentId, requestedBy: IC, reason: 'looks green' });
      assert.equal(lift.result.outcome, 'refused_incident_open', lift.result.message);
      assert.match(lift.result.message, /open and not resolved: its freeze lifts when it is resolved/);
      await recordHistory(lift.handle, 'freeze-lift-refused-incident-open');
      assert.deepEqual(
        (await freezeRows(incidentId)).map((row) => row.lifted),
        [false],
      );
      assert.equal(await productionFrozen(), true);
    });
  });

  test('an open incident whose run does not answer its status query (no worker serves it): refused, saying why', async () => {
    await withWorker(async (taskQueue) => {
      const incidentId = uniqueId('INC');
      const unserved = await suite.env.client.workflow.start(incident, {
        taskQueue: uniqueId('no-worker'),
        workflowId: incidentWorkflowId(incidentId),
        args: [{ incidentId } as IncidentInput],
      });
      started.push(unserved);
      const lift = await runLift(taskQueue, { incidentId, requestedBy: IC, reason: 'worker gone' });
      assert.equal(lift.result.outcome, 'refused_incident_open', lift.result.message);
      assert.match(lift.result.message, /open and not resolved \(its status could not be read: .+\)/);
    });
  });

  test('a resolved incident whose freeze is still in force (its lift skipped) is lifted while the run waits for its review', async () => {
    await withWorker(async (taskQueue) => {
      const { incidentId, handle } = await declareP1(taskQueue);
      await handle.signal(resolveMessage.signal, { by: IC, summary: 'rolled back, green' });
      await waitForStatus<IncidentStatus>(handle, atStep('awaiting_review'), 'the resolution');
      // As after a skipped lift_freeze: the freeze in force again after the resolution lifted it.
      const { rows } = await suite.db.pool.query<{ lifted_at: Date }>(
        'SELECT lifted_at FROM change_freezes WHERE incident_id = $1',
        [incidentId],
      );
      await setChangeFreeze(suite.db.pool, {
        incidentId,
        environment: 'production',
        workflowId: handle.workflowId,
        by: IC,
        reason: 'P1: lift skipped',
        at: new Date(rows[0]!.lifted_at.getTime() + 60_000).toISOString(),
      });
      assert.equal(await productionFrozen(), true);
      const lift = await runLift(taskQueue, {
        incidentId,
        requestedBy: IC,
        reason: 'resolved; lift was skipped',
      });
      assert.equal(lift.result.outcome, 'lifted', lift.result.message);
      assert.equal(await productionFrozen(), false);
    });
  });

  test('a freeze whose incident has no run (gone from Temporal) is lifted; another environment is named', async () => {
    await withWorker(async (taskQueue) => {
      const incidentId = await frozenWithoutRun(['production', 'staging'], IC);
      const lift = await runLift(taskQueue, {
        incidentId,
        requestedBy: IC,
        reason: 'history past retention',
        environment: 'staging',
      });
      assert.equal(lift.result.outcome, 'lifted', lift.result.message);
      assert.deepEqual(
        (await freezeRows(incidentId)).map((row) => `${row.environment} ${row.lifted}`).sort(),
        ['production false', 'staging true'],
      );
      const rest = await runLift(taskQueue, { incidentId, requestedBy: IC, reason: 'and production' });
      assert.deepEqual(
        rest.result.lifted.map((freeze) => freeze.environment),
        ['production'],
      );
    });
  });
});
