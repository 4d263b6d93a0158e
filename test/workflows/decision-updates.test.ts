import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApplicationFailure, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { decide } from '../../src/client/decide';
import { breakGlassRestore, phasedReenablement } from '../../src/workflows';
import { recordDecisionMessage } from '../../src/workflows/backstop-program/definitions';
import type { BreakGlassRestoreStatus } from '../../src/workflows/break-glass-restore/definitions';
import { pauseMessage } from '../../src/workflows/phased-reenablement/definitions';
import {
  DECISION_REFUSED,
  abortUpdate,
  approveUpdate,
  rejectUpdate,
  stepDecisionUpdate,
  type ApprovePayload,
  type DecisionAnswer,
} from '../../src/workflows/shared/messages';
import {
  acceptedUpdates,
  recordHistory,
  assertElapsed,
  completedActivities,
  historyEvents,
} from '../fixtures/history';
import {
  activityDeps,
  declareStory,
  defaultPolicy,
  TRACKER_SECRETS,
  withRestorePolicy,
  withTrackerChannels,
} from '../fixtures/policy';
import { workflowSuite } from '../fixtures/suite';
import { closeRun, uniqueId } from '../fixtures/temporal';
import { atStep, waitForStatus } from '../fixtures/wait';

/**
 * Every decision is also a Workflow Update that answers at once: accepted, or refused with the
 * reason (and recorded in the audit trail like a refused signal); a malformed payload is refused
 * by the validator, before the workflow records anything.
 */

const suite = workflowSuite({ server: 'time-skipping', queuePrefix: 'tq-updates' });
type Handle = WorkflowHandle<typeof breakGlassRestore>;

function withWorker<T>(fn: (taskQueue: string) => Promise<T>, quorum = 1): Promise<T> {
  // Tracker channels too: the backstop program refuses to start on a policy without them.
  const policy = withRestorePolicy(withTrackerChannels(defaultPolicy()), {
    approvers: ['@dococeven', '@alice', '@oncall-lead'],
    soleOperator: false,
    quorum,
  });
  declareStory(policy, DECLARED_STORY, {
    dri: '@dococeven',
    openProject: { epicId: 149, storyWorkPackageId: 153 },
    github: { repository: 'cvntrade/champollion' },
    consoleRestoreProbeUrl: 'http://127.0.0.1:9/restore',
  });
  return suite.withWorker(activityDeps(policy, suite.db.pool, TRACKER_SECRETS), fn);
}
const DECLARED_STORY = 'CVN-S20';

async function restoreAtTheGate(taskQueue: string): Promise<{ handle: Handle; planHash: string }> {
  const incidentId = uniqueId('INC');
  const handle = await suite.env.client.workflow.start(breakGlassRestore, {
    taskQueue,
    workflowId: `break-glass-restore-${incidentId}`,
    args: [{ incidentId, targetHistoryId: 5, requestedBy: '@alice', rationale: 'typo 0.0 in LGB 5M' }],
  });
  const gate = await waitForStatus<BreakGlassRestoreStatus>(handle, atStep('awaiting_approval'), 'the gate');
  return { handle, planHash: gate.detail.plan!.planHash };
}

async function status(handle: Handle): Promise<BreakGlassRestoreStatus> {
  return handle.query<BreakGlassRestoreStatus>('status');
}

// Runs terminated mid-flight can hold the test server's clock: the tests that skip time come first.
describe('decisions as Workflow Updates (time-skipping)', () => {
  test('approve: each refusal answered with its reason and recorded; the right one accepted; then already decided', async () => {
    await withWorker(async (taskQueue) => {
      const { handle, planHash } = await restoreAtTheGate(taskQueue);
      const wrongHash = planHash.replace(/^./, (c) => (c === '0' ? '1' : '0'));
      const refusals: [ApprovePayload, string][] = [
        [{ approver: '@mallory', planHash }, 'not_on_roster'],
        [{ approver: '@alice', planHash }, 'self_approval'],
        [{ approver: '@dococeven', planHash: wrongHash }, 'plan_hash_mismatch'],
      ];
      for (const [payload, reason] of refusals) {
        const answer: DecisionAnswer = await decide(handle, approveUpdate, payload);
        assert.equal(answer.accepted, false, JSON.stringify(payload));
        assert.equal(answer.reason, reason);
        assert.equal(answer.step, 'awaiting_approval');
      }
      const shown = await status(handle);
      assert.deepEqual(
        shown.refusedAttempts.map((attempt) => attempt.reason),
        ['not_on_roster', 'self_approval', 'plan_hash_mismatch'],
      );
      // The approval block comes first: the full hash, what to paste, who may approve, until when.
      assert.equal(Object.keys(shown)[0], 'approval');
      const block = shown.approval!;
      assert.equal(block.planHash, planHash);
      assert.deepEqual(block.argument, { approver: '@you', planHash });
      assert.deepEqual(block.mayApprove, ['@dococeven', '@oncall-lead'], 'the requester may not approve');
      assert.match(block.cli, new RegExp(`--plan-hash ${planHash}$`));
      assert.equal(block.expiresAt, shown.deadlines.find((d) => d.name === 'approval')!.dueAt);
      assert.equal(block.lastRefused?.reason, 'plan_hash_mismatch');
      assert.ok(block.lastRefused.detail.includes(wrongHash) && block.lastRefused.detail.includes(planHash));
      assert.match(
        shown.currentDetails,
        new RegExp(`until ${block.expiresAt}.*last refused: approve by @dococeven \\(plan_hash_mismatch\\)`),
      );
      // As the Web UI sees it: the Update itself fails, its message naming the reason, no stack.
      const raw: unknown = await handle
        .executeUpdate(approveUpdate, { args: [{ approver: '@mallory', planHash }] })
        .then(
          () => assert.fail('a refusal must fail the Update'),
          (error: unknown) => error,
        );
      assert.ok(raw instanceof WorkflowUpdateFailedError, String(raw));
      assert.ok(raw.cause instanceof ApplicationFailure);
      assert.equal(raw.cause.type, DECISION_REFUSED);
      assert.match(raw.cause.message, /^REFUSED \(not_on_roster\): .*approve did not count$/);
      assert.equal(raw.cause.stack ?? '', '');

      const accepted = await decide(handle, approveUpdate, {
        approver: '@dococeven',
        planHash,
        rationale: 'typo',
      });
      assert.equal(accepted.accepted, true);
      assert.deepEqual(
        [(await status(handle)).approval?.state, (await status(handle)).approval?.decidedBy],
        ['approved', '@dococeven'],
      );
      assert.equal(accepted.reason, undefined);
      const again = await decide(handle, rejectUpdate, { approver: '@dococeven', reason: 'changed my mind' });
      assert.deepEqual([again.accepted, again.reason], [false, 'already_decided']);

      // The Updates are in the history, with their answers: the five refusals as failures.
      const events = await historyEvents(handle);
      const completed = events.flatMap(
        (event) => event.workflowExecutionUpdateCompletedEventAttributes ?? [],
      );
      assert.equal(completed.length, 6);
      assert.equal(completed.filter((update) => update.outcome?.failure).length, 5);
      const abort = await decide(handle, abortUpdate, { by: '@alice', reason: 'wrong target' });
      assert.equal(abort.accepted, true, 'an abort during the pause is accepted');
      const result = await handle.result();
      assert.equal(result.outcome, 'aborted');
      await recordHistory(handle, 'break-glass-restore-update-refusals');
    });
  });

  test('quorum 2: one approval does not open the gate; the same person twice counts once; the pause starts at the second', async () => {
    await withWorker(async (taskQueue) => {
      const { handle, planHash } = await restoreAtTheGate(taskQueue);
      const first = await decide(handle, approveUpdate, { approver: '@dococeven', planHash });
      assert.deepEqual(
        [first.accepted, first.step],
        [true, 'awaiting_approval'],
        'counted, the gate stays shut',
      );
      const twice = await decide(handle, approveUpdate, { approver: '@DocOcEven', planHash });
      assert.deepEqual([twice.accepted, twice.reason], [false, 'already_approved']);
      const waiting = (await status(handle)).approval!;
      assert.equal(waiting.quorum, 2);
      assert.deepEqual(
        waiting.approvals?.map((approval) => approval.by),
        ['@dococeven'],
      );
      assert.deepEqual(
        waiting.mayApprove,
        ['@oncall-lead'],
        'who still may: not the requester, not the first',
      );
      await suite.env.sleep(10 * 60_000);
      assert.equal(
        (await status(handle)).step,
        'awaiting_approval',
        'ten minutes on, one approval still opens nothing',
      );
      const second = await decide(handle, approveUpdate, { approver: '@oncall-lead', planHash });
      assert.equal(second.accepted, true, 'the second approval opens the gate');
      // The pause, then the restore transaction (the run then holds on its canonical CONFLICT).
      let events = await historyEvents(handle);
      for (
        let minute = 0;
        minute < 5 && !completedActivities(events).some((a) => a.type === 'executeRestore');
        minute++
      ) {
        await suite.env.sleep(60_000);
        events = await historyEvents(handle);
      }
      const shown = await status(handle);
      assert.match(shown.detail.approval!.line, /approver=@dococeven,@oncall-lead /);
      assert.deepEqual(
        shown.approval?.approvals?.map((approval) => approval.by),
        ['@dococeven', '@oncall-lead'],
      );
      const approvals = acceptedUpdates(events).filter((update) => update.name === 'approve');
      assert.equal(approvals.length, 3);
      const execute = completedActivities(events).find((activity) => activity.type === 'executeRestore')!;
      // Seed 000's 2 min pause, from the second (quorum) approval, not the first.
      assertElapsed(approvals[2]!.atMs, execute.scheduledAtMs, 2 * 60_000, 5_000, 'approval → SQL');
      await closeRun(handle, 'test over');
    }, 2);
  });

  test('a malformed payload is refused by the validator: each bad field named, nothing recorded', async () => {
    await withWorker(async (taskQueue) => {
      const { handle } = await restoreAtTheGate(taskQueue);
      const failure = await decide(handle, approveUpdate, { approver: 'no body', planHash: 'abc' }).then(
        () => assert.fail('must be refused'),
        (error: unknown) => error,
      );
      assert.ok(failure instanceof WorkflowUpdateFailedError, String(failure));
      const message = (failure.cause as Error).message;
      assert.match(message, /approver/);
      assert.match(message, /planHash/);
      assert.deepEqual((await status(handle)).refusedAttempts, []);
      const step = await decide(handle, stepDecisionUpdate, { by: '@alice', decision: 'retry' });
      assert.deepEqual([step.accepted, step.reason], [false, 'gate_not_open'], 'no step waits for a human');
      await closeRun(handle, 'test over');
    });
  });

  test('pause (re-enablement) and recordDecision (backstop) answer as Updates too', async () => {
    await withWorker(async (taskQueue) => {
      const incidentId = uniqueId('INC');
      const reenablement = await suite.env.client.workflow.start(phasedReenablement, {
        taskQueue,
        workflowId: `phased-reenablement-${incidentId}`,
        args: [
          {
            incidentId,
            requestedBy: '@sre-lead',
            pilotRepo: 'compliance-service',
            canaryRepo: 'ledger-sync',
            phase2Repos: ['payments-api'],
            remainingRepos: [],
          },
        ],
      });
      const outsider = await decide(reenablement, pauseMessage.update, { by: '@mallory', reason: 'why not' });
      assert.deepEqual([outsider.accepted, outsider.reason], [false, 'not_authorized']);
      const paused = await decide(reenablement, pauseMessage.update, { by: '@sre-lead' });
      assert.equal(paused.accepted, true);
      await closeRun(reenablement, 'test over');

      const backstop = await suite.env.client.workflow.start('backstopProgram', {
        taskQueue,
        workflowId: uniqueId('backstop-updates'),
        args: [
          {
            storyId: DECLARED_STORY,
            mergeSha: '0b0a9c7f',
            mergedAt: new Date(await suite.env.currentTimeMs()).toISOString().replace(/\.\d+Z$/, 'Z'),
          },
        ],
      });
      const early = await decide(backstop, recordDecisionMessage.update, {
        by: '@dococeven',
        decision: 'waiver',
        rationale: 'too early',
      });
      assert.deepEqual([early.accepted, early.reason], [false, 'gate_not_open']);
      await closeRun(backstop, 'test over');
    });
  });
});
