import { HUMAN_WAIT_DEADLINES } from '../../src/common/metrics';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import type { LoadedPolicy } from '../../src/worker/policy';
import { breakGlassRestore } from '../../src/workflows';
import {
  abortSignal,
  acknowledgeConflictSignal,
  approveSignal,
  checkReconciliationSignal,
  postMortemFiledSignal,
  rejectSignal,
  type BreakGlassRestoreInput,
  type BreakGlassRestoreStatus,
  type BreakGlassRestoreResult,
} from '../../src/workflows/break-glass-restore/definitions';
import { stepDecisionSignal } from '../../src/workflows/shared/messages';
import {
  assertElapsed,
  completedActivities,
  type HistoryEvent,
  historyEvents,
  localActivities,
  noticeAt,
  noticesSent,
  recordHistory,
  scheduledActivities,
  signals,
} from '../fixtures/history';
import { activityDeps, defaultPolicy, withRestorePolicy } from '../fixtures/policy';
import { FaultInjector } from '../fixtures/faults';
import { cancellationNotices, cancelRun } from '../fixtures/cancellation';
import { workflowSuite } from '../fixtures/suite';
import { uniqueId } from '../fixtures/temporal';
import { acknowledgeConflict, atStep, readUntil, waitForStatus } from '../fixtures/wait';

/** The step a RunbookStep upsert names (search attributes are not encoded by the payload codec). */
function stepUpserted(event: HistoryEvent): string | undefined {
  const data =
    event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.RunbookStep?.data;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as string) : undefined;
}

/**
 * Procedure A's workflow logic on the time-skipping test server, with the shipped default policy's
 * real durations (2 min pause, 60 min approval and reconciliation, 24 h post-mortem), real
 * activities and a real Postgres.
 */

const suite = workflowSuite({ server: 'time-skipping', queuePrefix: 'tq' });
const MINUTE = 60_000;

type Handle = WorkflowHandle<typeof breakGlassRestore>;

function withWorker<T>(policy: LoadedPolicy, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  return suite.withWorker(activityDeps(policy, suite.db.pool), fn);
}

function input(overrides: Partial<BreakGlassRestoreInput> = {}): BreakGlassRestoreInput {
  return {
    incidentId: uniqueId('INC'),
    targetHistoryId: 5,
    requestedBy: '@alice',
    rationale: 'LGB 5M learning rate set to 0.0 by a Console typo; restoring the previous snapshot',
    ...overrides,
  };
}

function start(taskQueue: string, args: BreakGlassRestoreInput): Promise<Handle> {
  return suite.env.client.workflow.start(breakGlassRestore, {
    taskQueue,
    workflowId: `break-glass-restore-${args.incidentId}`,
    args: [args],
  });
}

async function planHashAtGate(handle: Handle): Promise<string> {
  const status = await waitForStatus(handle, atStep('awaiting_approval'), 'the approval gate');
  return status.detail.plan!.planHash;
}

/**
 * A run requested by @dococeven under a two-approver roster (@dococeven, @oncall-lead; no sole
 * operator), at its approval gate.
 */
function atTwoApproverGate<T>(
  fn: (gate: { args: BreakGlassRestoreInput; handle: Handle; planHash: string }) => Promise<T>,
): Promise<T> {
  const policy = withRestorePolicy(defaultPolicy(), {
    approvers: ['@dococeven', '@oncall-lead'],
    soleOperator: false,
  });
  return withWorker(policy, async (taskQueue) => {
    const args = input({ requestedBy: '@dococeven' });
    const handle = await start(taskQueue, args);
    return fn({ args, handle, planHash: await planHashAtGate(handle) });
  });
}

/** The operator's reconciling Console write (gating ritual gate 2). */
async function consoleWrite(incidentId: string): Promise<number> {
  const inserted = await suite.db.pool.query<{ id: string }>(
    `INSERT INTO ftf_config_history (base_env, version, locked_by, changed_by, change_reason, tags)
     SELECT base_env, version || '-console', locked_by, 'console:alice', $1, '["console"]'::jsonb
     FROM ftf_config WHERE id = 1 RETURNING id`,
    [`break-glass-${incidentId}`],
  );
  return Number(inserted.rows[0]!.id);
}

async function breakGlassRows(incidentId: string): Promise<number> {
  const rows = await suite.db.pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM ftf_config_history WHERE changed_by = $1 AND tags ? 'break-glass'",
    [`break-glass-${incidentId}`],
  );
  return rows.rows[0]!.n;
}

async function liveVersion(): Promise<string> {
  const rows = await suite.db.pool.query<{ version: string }>('SELECT version FROM ftf_config WHERE id = 1');
  return rows.rows[0]!.version;
}

/** The deadline the open-run gauges take the current wait's due time from (HUMAN_WAIT_DEADLINES). */
function waitDeadline(status: {
  step: string;
  deadlines: { name: string; dueAt: string; state: string }[];
}): { dueAt: string; state: string } | undefined {
  const name = HUMAN_WAIT_DEADLINES[status.step];
  return status.deadlines.find((deadline) => deadline.name === name);
}

describe('breakGlassRestore (time-skipping, default policy)', () => {
  test('happy path: SQL waits 2 min after approval, restore verified, reconciliation in time, post-mortem filed', async () => {
    await withWorker(defaultPolicy(), async (taskQueue) => {
      const args = input();
      const handle = await start(taskQueue, args);
      const planHash = await planHashAtGate(handle);
      await handle.signal(approveSignal, {
        approver: '@dococeven',
        planHash,
        rationale: "typo 0.0 -> 0.07; it's urgent; -- sweep restarts",
      });

      const paused = await waitForStatus(handle, atStep('pause_and_think'), 'the pause');
      assert.ok(paused.detail.executesAt, 'the status shows when the SQL executes');
      assert.equal(await breakGlassRows(args.incidentId), 0, 'nothing executes before the pause ends');

      await suite.env.sleep(3 * MINUTE);
      const reconciling = await waitForStatus(
        handle,
        atStep('awaiting_reconciliation'),
        'the reconciliation wait',
      );
      // Each wait's own deadline, under the name the open-run gauges read it by (overdue past it only).
      assert.equal(waitDeadline(reconciling)?.state, 'pending', 'the reconciliation wait’s deadline');
      await acknowledgeConflict(handle);
      const reconcileId = await consoleWrite(args.incidentId);
      await handle.signal(checkReconciliationSignal, {});
      await waitForStatus(
        handle,
        (s) => s.detail.reconciliation?.state === 'found_in_time',
        'the reconciling write',
      );
      const postMortemWait = await waitForStatus(
        handle,
        atStep('awaiting_post_mortem'),
        'the post-mortem wait',
      );
      assert.equal(waitDeadline(postMortemWait)?.dueAt, postMortemWait.detail.postMortem?.dueAt);
      await handle.signal(postMortemFiledSignal, {
        by: '@alice',
        link: 'https://op.example/wp/153#comment-9',
      });
      const result: BreakGlassRestoreResult = await handle.result();

      assert.equal(result.outcome, 'restored');
      assert.equal(result.conforming, true);
      assert.deepEqual(result.nonConformities, []);
      assert.equal(result.approval?.approver, '@dococeven');
      assert.match(
        result.approval.line,
        new RegExp(
          `^event=break_glass_approval incident_id=${args.incidentId} story=CVN-N001-EE-S17 rationale='typo 0.0 -> 0.07; it''s urgent; -- sweep restarts' approver=@dococeven approval_ts=\\d{4}-\\d\\d-\\d\\dT`,
        ),
      );

      // The restore activity started no earlier than approval + 2 minutes (history timestamps).
      const events = await historyEvents(handle);
      const approval = signals(events).find((s) => s.name === 'approve')!;
      const restore = scheduledActivities(events).find((a) => a.type === 'executeRestore')!;
      assert.ok(
        restore.atMs - approval.atMs >= 2 * MINUTE,
        `restore scheduled ${restore.atMs - approval.atMs} ms after approval`,
      );
      assert.ok(
        restore.atMs >= Date.parse(result.approval.approvedAt) + 2 * MINUTE,
        'pause measured from the approval instant',
      );

      // The reads before the gate ride on the policy read and the verification on the transaction
      // (break-glass-inline-steps-v1), and the opening is a local activity in the run's first
      // workflow task (break-glass-open-local-v1), which goes on to the gate: besides notices, one
      // activity task up to the verified restore.
      const steps = completedActivities(events)
        .map((a) => a.type)
        .filter((type) => !type.startsWith('notify'));
      assert.equal(steps[0], 'executeRestore');
      for (const type of [
        'openBreakGlassProcedure',
        'loadRunbookPolicy',
        'planRestore',
        'checkChangeFreeze',
        'verifyRestore',
      ])
        assert.ok(!steps.includes(type), `${type} done inline, not in its own activity`);
      assert.deepEqual(
        localActivities(events).map((a) => a.type),
        ['openBreakGlassProcedure'],
      );
      const firstTaskEnd = events.findIndex((e) => e.workflowTaskCompletedEventAttributes);
      const secondTaskStart = events.findIndex(
        (e, i) => i > firstTaskEnd && e.workflowTaskStartedEventAttributes,
      );
      const atGate = events.findIndex((e) => stepUpserted(e) === 'awaiting_approval');
      assert.ok(
        firstTaskEnd >= 0 && atGate > firstTaskEnd && (secondTaskStart < 0 || atGate < secondTaskStart),
        `the gate in the first workflow task (gate at event ${atGate}, first task ended at ${firstTaskEnd}, the second started at ${secondTaskStart})`,
      );

      // Exactly one restore, with the seed's row contents.
      assert.equal(result.execution?.status, 'restored');
      assert.equal(await breakGlassRows(args.incidentId), 1);
      assert.deepEqual(result.idsCreated.historyRowIds.length, 1);
      assert.equal(await liveVersion(), `2026.10.30-1_restored_${args.incidentId}`);
      assert.equal(result.verification?.ok, true);
      assert.equal(result.verification?.canonical.total, 455);
      assert.equal(result.reconciliation?.state, 'found_in_time');
      assert.equal(result.reconciliation?.write?.id, reconcileId);
      assert.equal(result.postMortem?.state, 'filed');
      assert.equal(result.postMortem?.filedBy, '@alice');

      // The post-mortem draft is the seed's template filled from the record.
      const draft = result.postMortem.draft;
      assert.match(draft, new RegExp(`## Break-glass post-mortem — incident ${args.incidentId}`));
      assert.ok(draft.includes(result.approval.line));
      assert.ok(
        draft.includes(
          'INSERT INTO ftf_config_history (base_env, version, locked_by, changed_by, change_reason, parent_id, diff, tags)',
        ),
      );
      assert.ok(draft.includes(`$1 = 5, $2 = '${args.incidentId}'`));
      assert.ok(draft.includes(`ftf_config_history.id created : ${result.idsCreated.historyRowIds[0]}`));
      assert.ok(draft.includes(`ftf_config_history.id=${reconcileId}`));
      for (const step of ['inspect_and_plan', 'awaiting_approval', 'pause_and_think', 'execute', 'verify']) {
        assert.ok(
          result.steps.some((s) => s.name === step && s.durationMs !== undefined),
          `step ${step} timed`,
        );
      }

      // Notices were recorded, once each.
      const notices = await suite.db.pool.query<{ kind: string }>(
        'SELECT kind FROM runbook_notices WHERE incident_id = $1 ORDER BY created_at',
        [args.incidentId],
      );
      const kinds = notices.rows.map((r) => r.kind);
      for (const kind of ['approval_request', 'pause_started', 'restore_done', 'post_mortem_draft']) {
        assert.equal(kinds.filter((k) => k === kind).length, 1, `${kind} recorded once`);
      }

      await recordHistory(handle, 'break-glass-restore-time-skipping');
    });
  });

  test('abort during the pause: the run ends and nothing is executed', async () => {
    await withWorker(defaultPolicy(), async (taskQueue) => {
      const args = input();
      const handle = await start(taskQueue, args);
      const planHash = await planHashAtGate(handle);
      await handle.signal(approveSignal, { approver: '@dococeven', planHash });
      await waitForStatus(handle, atStep('pause_and_think'), 'the pause');
      await suite.env.sleep(MINUTE);
      await handle.signal(abortSignal, {
        by: '@alice',
        reason: 'wrong snapshot: the typo is in 15M, not 5M',
      });
      const result = await handle.result();

      assert.equal(result.outcome, 'aborted');
      assert.equal(result.execution, undefined);
      assert.equal(await breakGlassRows(args.incidentId), 0);
      assert.equal(await liveVersion(), '2026.11.23-1');
      const activities = scheduledActivities(await historyEvents(handle)).map((a) => a.type);
      assert.ok(!activities.includes('executeRestore'), 'the restore activity was never scheduled');
    });
  });

  test('reject ends the run with nothing executed', async () => {
    await withWorker(defaultPolicy(), async (taskQueue) => {
      const args = input();
      const handle = await start(taskQueue, args);
      await planHashAtGate(handle);
      await handle.signal(rejectSignal, { approver: '@dococeven', reason: 'use the Console: it is back up' });
      const result = await handle.result();
      assert.equal(result.outcome, 'rejected');
      assert.match(result.message, /use the Console/);
      assert.equal(await breakGlassRows(args.incidentId), 0);
    });
  });

  test('non-roster, self, stale-plan and malformed approvals are refused, recorded and announced', async () => {
    await atTwoApproverGate(async ({ args, handle, planHash }) => {
      const stale = planHash.replace(/^./, planHash.startsWith('0') ? '1' : '0');

      await handle.signal(approveSignal, { approver: '@mallory', planHash });
      await handle.signal(approveSignal, { approver: '@DocOceven', planHash });
      await handle.signal(approveSignal, { approver: '@oncall-lead', planHash: stale });
      await handle.signal(approveSignal, { approver: '@oncall-lead' } as never);
      const refused = await waitForStatus(handle, (s) => s.refusedAttempts.length === 4, 'four refusals');
      assert.deepEqual(
        refused.refusedAttempts.map((a) => [a.reason, a.by]),
        [
          ['not_on_roster', '@mallory'],
          ['self_approval', '@dococeven'],
          ['plan_hash_mismatch', '@oncall-lead'],
          ['invalid_payload', '@oncall-lead'],
        ],
      );
      assert.match(refused.refusedAttempts[3]!.detail, /planHash/);
      assert.equal(refused.step, 'awaiting_approval', 'refusals do not open the gate');

      await handle.signal(approveSignal, { approver: '@oncall-lead', planHash });
      await waitForStatus(handle, atStep('pause_and_think'), 'the pause after a valid approval');
      await handle.signal(abortSignal, { by: '@mallory', reason: 'not mine to stop' });
      await handle.signal(abortSignal, { by: '@dococeven', reason: 'test over' });
      const result = await handle.result();
      assert.equal(result.outcome, 'aborted');
      await recordHistory(handle, 'break-glass-restore-refusals-then-abort');
      assert.deepEqual(
        result.refusedAttempts.map((a) => a.reason),
        ['not_on_roster', 'self_approval', 'plan_hash_mismatch', 'invalid_payload', 'not_authorized'],
      );
      const announced = await suite.db.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM runbook_notices WHERE incident_id = $1 AND kind = 'refused_attempt'",
        [args.incidentId],
      );
      assert.equal(announced.rows[0]!.n, 5);
    });
  });

  // Issue "fail safe and loud", point 10: 300 refused approvals made 300 notices (Slack in the
  // production example), a 227 KB status and 1,348 history events.
  test('point 10: 300 refused approvals are all counted; three announced, then one summary; status and history stay bounded', async () => {
    await atTwoApproverGate(async ({ args, handle, planHash }) => {
      const before = (await historyEvents(handle)).length;
      for (let batch = 0; batch < 10; batch += 1)
        await Promise.all(
          Array.from({ length: 30 }, () => handle.signal(approveSignal, { approver: '@mallory', planHash })),
        );
      const flooded = await waitForStatus(handle, (s) => s.refusedTotal === 300, '300 refusals');
      assert.equal(flooded.step, 'awaiting_approval');
      assert.equal(flooded.refusedAttempts.length, 50, 'the latest 50 are kept in status');
      const statusBytes = Buffer.byteLength(JSON.stringify(flooded));
      const notices = await readUntil(
        () =>
          suite.db.pool.query<{ kind: string; n: number }>(
            `SELECT kind, count(*)::int AS n FROM runbook_notices
             WHERE incident_id = $1 AND kind LIKE 'refused%' GROUP BY kind ORDER BY kind`,
            [args.incidentId],
          ),
        (answer) => answer.rows.some((row) => row.kind === 'refused_attempts_summary'),
        'the refusals summary notice',
      );
      assert.deepEqual(
        notices.rows.map((row) => [row.kind, row.n]),
        [
          ['refused_attempt', 3],
          ['refused_attempts_summary', 1],
        ],
      );
      const added = (await historyEvents(handle)).slice(before);
      const activitiesAdded = added.filter((e) => e.activityTaskScheduledEventAttributes).length;
      const signalsAdded = added.filter((e) => e.workflowExecutionSignaledEventAttributes).length;
      console.log(
        `# 300 refused approvals: status ${statusBytes} bytes, ${added.length} history events (${signalsAdded} signals, ${activitiesAdded} activities)`,
      );
      assert.equal(signalsAdded, 300);
      assert.ok(activitiesAdded <= 8, `${activitiesAdded} activities scheduled for 300 refusals`);
      assert.ok(statusBytes < 32_000, `status is ${statusBytes} bytes`);

      await handle.signal(approveSignal, { approver: '@oncall-lead', planHash });
      await waitForStatus(handle, atStep('pause_and_think'), 'the gate still opens for the right approver');
      await handle.signal(abortSignal, { by: '@dococeven', reason: 'test over' });
      const result = await handle.result();
      assert.equal(result.outcome, 'aborted');
      assert.equal(result.refusedAttempts.length, 50);
    });
  });

  test('sole-operator policy: the requester may approve their own run', async () => {
    await withWorker(defaultPolicy(), async (taskQueue) => {
      const args = input({ requestedBy: 'dococeven' });
      const handle = await start(taskQueue, args);
      const planHash = await planHashAtGate(handle);
      await handle.signal(approveSignal, { approver: '@dococeven', planHash });
      const paused = await waitForStatus(handle, atStep('pause_and_think'), 'the pause');
      assert.equal(paused.refusedAttempts.length, 0);
      assert.equal(paused.detail.approval?.approver, '@dococeven');
      await handle.signal(abortSignal, { by: '@dococeven', reason: 'test over' });
      assert.equal((await handle.result()).outcome, 'aborted');
    });
  });

  test('no decision within the approval timeout: approval_expired, nothing executed', async () => {
    await withWorker(defaultPolicy(), async (taskQueue) => {
      const args = input();
      const handle = await start(taskQueue, args);
      await planHashAtGate(handle);
      const result = await handle.result();
      assert.equal(result.outcome, 'approval_expired');
      const gate = result.deadlines.find((d) => d.name === 'approval')!;
      assert.equal(gate.state, 'missed');
      // Pinned on the history's own clock: the request went out, the expiry came 60 min later.
      const events = await historyEvents(handle);
      assertElapsed(
        noticeAt(events, 'approval_request'),
        noticeAt(events, 'approval_expired'),
        60 * MINUTE,
        MINUTE,
        'approval expiry',
      );
      assert.equal(await breakGlassRows(args.incidentId), 0);
    });
  });

  test('reconciliation missed at 60 min, then a late write is recorded as late', async () => {
    await withWorker(defaultPolicy(), async (taskQueue) => {
      const args = input();
      const handle = await start(taskQueue, args);
      await handle.signal(approveSignal, { approver: '@dococeven', planHash: await planHashAtGate(handle) });
      await suite.env.sleep(3 * MINUTE);
      await waitForStatus(handle, atStep('awaiting_reconciliation'), 'the reconciliation wait');
      await acknowledgeConflict(handle);
      await suite.env.sleep(61 * MINUTE);
      const missed = await waitForStatus(
        handle,
        (s) => s.detail.reconciliation?.state === 'missed',
        'the missed deadline',
      );
      assert.deepEqual(
        missed.nonConformities.map((n) => n.code),
        ['reconciliation_missed'],
      );
      const executed = completedActivities(await historyEvents(handle)).find(
        (a) => a.type === 'executeRestore',
      )!;
      assertElapsed(
        executed.completedAtMs,
        noticeAt(await historyEvents(handle), 'reconciliation_missed'),
        60 * MINUTE,
        MINUTE,
        'reconciliation window',
      );

      const lateId = await consoleWrite(args.incidentId);
      await handle.signal(checkReconciliationSignal, {});
      await waitForStatus(handle, (s) => s.detail.reconciliation?.state === 'late', 'the late write');
      await handle.signal(postMortemFiledSignal, {
        by: '@alice',
        link: 'https://op.example/wp/153#comment-10',
      });
      const result = await handle.result();

      assert.equal(result.outcome, 'restored_non_conforming');
      assert.equal(result.conforming, false);
      assert.equal(result.reconciliation?.state, 'late');
      assert.equal(result.reconciliation?.write?.id, lateId);
      assert.deepEqual(
        result.nonConformities.map((n) => n.code),
        ['reconciliation_missed'],
      );
      assert.match(result.postMortem!.draft, /LATE/);
      await recordHistory(handle, 'break-glass-restore-late-reconciliation');
      const escalations = await suite.db.pool.query<{ kind: string; severity: string }>(
        "SELECT kind, severity FROM runbook_notices WHERE incident_id = $1 AND kind IN ('reconciliation_missed', 'reconciliation_late')",
        [args.incidentId],
      );
      assert.deepEqual(escalations.rows.map((r) => r.kind).sort(), [
        'reconciliation_late',
        'reconciliation_missed',
      ]);
    });
  });

  test('the verification cannot be made and the IC skips it: non-conforming, not "restored"', async () => {
    // verifyRestore fails for good (and takes the transaction's inline verification away with it):
    // the restore is committed and nobody has verified it.
    const injector = new FaultInjector();
    injector.arm('verifyRestore', 'non_retryable', 'breakGlassRestore');
    await suite.withWorker(
      activityDeps(defaultPolicy(), suite.db.pool),
      async (taskQueue) => {
        const args = input();
        const handle = await start(taskQueue, args);
        await handle.signal(approveSignal, {
          approver: '@dococeven',
          planHash: await planHashAtGate(handle),
        });
        await suite.env.sleep(3 * MINUTE);
        const asked = await waitForStatus(handle, atStep('needs_human'), 'the failed verification');
        assert.equal(asked.needsHuman?.step, 'verify');
        assert.equal(await breakGlassRows(args.incidentId), 1, 'the restore is committed');
        await handle.signal(stepDecisionSignal, {
          by: '@dococeven',
          decision: 'skip',
          reason: 'checked the live row by hand',
        });
        // No comparison was made, so no CONFLICT hold: the run goes on to its obligations.
        await waitForStatus(handle, atStep('awaiting_reconciliation'), 'the reconciliation wait');
        await consoleWrite(args.incidentId);
        await handle.signal(checkReconciliationSignal, {});
        await waitForStatus(
          handle,
          (s) => s.detail.reconciliation?.state === 'found_in_time',
          'the reconciling write',
        );
        await handle.signal(postMortemFiledSignal, { by: '@alice', link: 'https://op.example/wp/153#c-11' });
        const result = await handle.result();
        // Every obligation was met; the write was never verified: that alone makes it non-conforming.
        assert.equal(result.outcome, 'restored_non_conforming', result.message);
        assert.equal(result.conforming, false);
        assert.deepEqual(
          result.nonConformities.map((n) => n.code),
          ['verification_failed'],
        );
        assert.match(result.message, /non-conforming: verification_failed/);
        assert.match(result.nonConformities[0]!.message, /skipped by @dococeven/);
        assert.ok(result.flags.some((f) => f.code === 'verification_failed'));
        await recordHistory(handle, 'break-glass-restore-verification-skipped');
      },
      { activity: [injector.factory] },
    );
  });

  test('cancelled from Temporal after the restore: ends CANCELED, says so to the IC and approvers, the obligations left by hand', async () => {
    await withWorker(defaultPolicy(), async (taskQueue) => {
      const args = input();
      const handle = await start(taskQueue, args);
      await handle.signal(approveSignal, { approver: '@dococeven', planHash: await planHashAtGate(handle) });
      await suite.env.sleep(3 * MINUTE);
      await acknowledgeConflict(handle);
      await waitForStatus(handle, atStep('awaiting_reconciliation'), 'the reconciliation wait');
      const { events, status } = await cancelRun<BreakGlassRestoreStatus>(handle);
      assert.equal(status.outcome, 'cancelled');
      assert.equal(status.step, 'done');
      assert.ok(
        status.events.some(
          (e) => e.kind === 'cancelled' && /at step awaiting_reconciliation/.test(e.message),
        ),
      );
      assert.deepEqual(
        status.deadlines.filter((d) => d.state === 'pending').map((d) => d.name),
        [],
        'no deadline is left shown as watched',
      );
      const rows = await cancellationNotices(suite.db.pool, handle.workflowId);
      assert.equal(rows.length, 1);
      const [notice] = rows;
      assert.equal(notice!.audience, 'incident_commander');
      assert.match(notice!.subject, /CANCELLED at awaiting_reconciliation/);
      assert.match(notice!.body, /So far: committed: history row \d+/);
      assert.match(notice!.body, /may still finish/);
      assert.match(notice!.body, /done by hand: .*reconciliation.*post/);
      assert.equal(noticesSent(events).filter((n) => n.kind === 'needs_human').length, 0);
      await recordHistory(handle, 'break-glass-restore-cancelled-awaiting-reconciliation');
    });
  });

  test('cancelled from Temporal while its CONFLICT hold waits for the IC: ends CANCELED, no workflow task failed', async () => {
    // The hold's wait and the obligations' run side by side; the cancellation rejects both, and
    // the hold's rejection, not awaited once the obligations threw, failed every workflow task
    // after it (the run stayed RUNNING, silent, for ever).
    await withWorker(defaultPolicy(), async (taskQueue) => {
      const handle = await start(taskQueue, input());
      await handle.signal(approveSignal, { approver: '@dococeven', planHash: await planHashAtGate(handle) });
      await suite.env.sleep(3 * MINUTE);
      await waitForStatus(
        handle,
        (s) => s.detail.conflictHold?.state === 'awaiting_acknowledgement',
        'the CONFLICT hold',
      );
      const { status } = await cancelRun<BreakGlassRestoreStatus>(handle);
      assert.equal(status.outcome, 'cancelled');
      const rows = await cancellationNotices(suite.db.pool, handle.workflowId);
      assert.equal(rows.length, 1);
      await recordHistory(handle, 'break-glass-restore-cancelled-in-conflict-hold');
    });
  });

  test('post-mortem not filed within 24 h: non-conforming, escalated', async () => {
    await withWorker(defaultPolicy(), async (taskQueue) => {
      const args = input();
      const handle = await start(taskQueue, args);
      await handle.signal(approveSignal, { approver: '@dococeven', planHash: await planHashAtGate(handle) });
      await suite.env.sleep(3 * MINUTE);
      await waitForStatus(handle, atStep('awaiting_reconciliation'), 'the reconciliation wait');
      await acknowledgeConflict(handle);
      await consoleWrite(args.incidentId);
      const result = await handle.result();

      assert.equal(result.reconciliation?.state, 'found_in_time', 'the regular poll finds the write');
      assert.equal(result.postMortem?.state, 'missed');
      assert.equal(result.outcome, 'restored_non_conforming');
      assert.deepEqual(
        result.nonConformities.map((n) => n.code),
        ['post_mortem_missed'],
      );
      const events = await historyEvents(handle);
      const executed = completedActivities(events).find((a) => a.type === 'executeRestore')!;
      assertElapsed(
        executed.completedAtMs,
        noticeAt(events, 'post_mortem_missed'),
        24 * 60 * MINUTE,
        MINUTE,
        'post-mortem deadline',
      );
    });
  });

  test('live row changed during the pause: plan_stale, nothing written', async () => {
    await withWorker(defaultPolicy(), async (taskQueue) => {
      const args = input();
      const handle = await start(taskQueue, args);
      await handle.signal(approveSignal, { approver: '@dococeven', planHash: await planHashAtGate(handle) });
      await waitForStatus(handle, atStep('pause_and_think'), 'the pause');
      await suite.db.pool.query(
        "UPDATE ftf_config SET version = version || '-hotfix', updated_at = now(), updated_by = 'console:bob' WHERE id = 1",
      );
      const result = await handle.result();
      assert.equal(result.outcome, 'plan_stale');
      assert.match(result.message, /changed after the plan was made/);
      assert.equal(await breakGlassRows(args.incidentId), 0);
      assert.equal(await liveVersion(), '2026.11.23-1-hotfix');
    });
  });

  test('target history row edited during the pause (plan showed 0 keys changing): plan_stale, nothing written', async () => {
    await withWorker(defaultPolicy(), async (taskQueue) => {
      // Issue "fail safe and loud", point 8: the approval covers the target snapshot, not only its id.
      const args = input({ targetHistoryId: 6 });
      const handle = await start(taskQueue, args);
      const gate = await waitForStatus(handle, atStep('awaiting_approval'), 'the approval gate');
      const plan = gate.detail.plan!;
      assert.equal(
        plan.diff.changed + plan.diff.added + plan.diff.removed,
        0,
        'the plan shows 0 keys changing',
      );
      await handle.signal(approveSignal, { approver: '@dococeven', planHash: plan.planHash });
      await waitForStatus(handle, atStep('pause_and_think'), 'the pause');
      const before = await suite.db.pool.query<{ base_env: unknown; version: string }>(
        'SELECT base_env, version FROM ftf_config WHERE id = 1',
      );
      await suite.db.pool.query(
        `UPDATE ftf_config_history SET base_env = jsonb_set(base_env, '{CVN_HPO_LGB_5M_LEARNING_RATE}', '"9.99"') WHERE id = 6`,
      );
      const result = await handle.result();

      assert.equal(result.outcome, 'plan_stale');
      assert.match(result.message, /ftf_config_history\.id=6 was edited after the plan was approved/);
      assert.equal(result.verification, undefined, 'nothing to verify: nothing was written');
      assert.equal(await breakGlassRows(args.incidentId), 0);
      const after = await suite.db.pool.query<{ base_env: unknown; version: string }>(
        'SELECT base_env, version FROM ftf_config WHERE id = 1',
      );
      assert.deepEqual(after.rows[0], before.rows[0], 'the live row is untouched');
      const ledger = await suite.db.pool.query('SELECT 1 FROM runbook_ledger WHERE incident_id = $1', [
        args.incidentId,
      ]);
      assert.equal(ledger.rowCount, 0, 'a refused transaction leaves no ledger entry');
      const notices = await suite.db.pool.query<{ kind: string }>(
        'SELECT kind FROM runbook_notices WHERE incident_id = $1',
        [args.incidentId],
      );
      assert.ok(
        notices.rows.some((n) => n.kind === 'plan_stale'),
        'the IC is told why',
      );
    });
  });

  test('CONFLICT > 0: shown in the plan before approval; after the write the run holds until the IC acknowledges', async () => {
    await withWorker(defaultPolicy(), async (taskQueue) => {
      // Issue "fail safe and loud", point 12 (seed 000 step 4.3: "Pause and verify").
      const args = input();
      const handle = await start(taskQueue, args);
      const gate = await waitForStatus(handle, atStep('awaiting_approval'), 'the approval gate');
      const planned = gate.detail.plan!.canonical!;
      assert.ok(planned.conflict > 0, 'v5 carries Console edits the canonical payload does not');
      const request = await readUntil(
        () =>
          suite.db.pool.query<{ subject: string; body: string }>(
            "SELECT subject, body FROM runbook_notices WHERE incident_id = $1 AND kind = 'approval_request'",
            [args.incidentId],
          ),
        (answer) => answer.rows.length > 0,
        'the approval request notice',
      );
      assert.match(
        request.rows[0]!.subject,
        new RegExp(`canonical NEW 0 / EQUAL \\d+ / CONFLICT ${planned.conflict}`),
      );

      await handle.signal(approveSignal, { approver: '@dococeven', planHash: gate.detail.plan!.planHash });
      await suite.env.sleep(3 * MINUTE);
      const held = await waitForStatus(
        handle,
        (s) => s.detail.conflictHold?.state === 'awaiting_acknowledgement',
        'the CONFLICT hold',
      );
      assert.equal(held.detail.conflictHold!.count, planned.conflict, 'the same count after the write');
      assert.match(held.currentDetails, /^HOLD: CONFLICT \d+ vs the canonical payload/);

      // The obligations run meanwhile; meeting them does not end the run.
      await consoleWrite(args.incidentId);
      await handle.signal(checkReconciliationSignal, {});
      await handle.signal(postMortemFiledSignal, { by: '@alice', link: 'https://op.example/wp/153#c3' });
      const waiting = await waitForStatus(
        handle,
        atStep('awaiting_conflict_acknowledgement'),
        'the hold after the obligations',
      );
      assert.equal(waiting.detail.reconciliation?.state, 'found_in_time');
      assert.match(waiting.currentDetails, /^HOLD: CONFLICT/);
      assert.deepEqual((await handle.describe()).searchAttributes.RunbookStep, [
        'awaiting_conflict_acknowledgement',
      ]);

      await handle.signal(acknowledgeConflictSignal, { by: '@mallory', note: 'looks fine' });
      await handle.signal(acknowledgeConflictSignal, { by: '@alice', note: '' });
      const refused = await waitForStatus(handle, (s) => s.refusedAttempts.length >= 2, 'the refusals');
      assert.deepEqual(
        refused.refusedAttempts.map((r) => r.reason),
        ['not_authorized', 'invalid_payload'],
      );
      assert.equal(refused.step, 'awaiting_conflict_acknowledgement', 'still held');

      await handle.signal(acknowledgeConflictSignal, {
        by: '@alice',
        note: 'v5 is the operator-tuned snapshot we meant',
      });
      const result = await handle.result();
      assert.equal(result.outcome, 'restored');
      assert.equal(result.conflictHold?.acknowledgedBy, '@alice');
      assert.match(
        result.message,
        new RegExp(
          `CONFLICT ${planned.conflict} vs the canonical payload acknowledged by @alice: v5 is the operator-tuned snapshot we meant; all obligations met`,
        ),
      );
      const kinds = await suite.db.pool.query<{ kind: string }>(
        "SELECT kind FROM runbook_notices WHERE incident_id = $1 AND kind LIKE 'canonical_conflict%' ORDER BY created_at",
        [args.incidentId],
      );
      assert.deepEqual(
        kinds.rows.map((r) => r.kind),
        ['canonical_conflict_hold', 'canonical_conflict_acknowledged'],
      );
      await recordHistory(handle, 'break-glass-restore-conflict-hold');
    });
  });

  test('CONFLICT 0 (the seeding snapshot): no hold, the run ends when the obligations are met', async () => {
    await withWorker(defaultPolicy(), async (taskQueue) => {
      const args = input({ targetHistoryId: 1 });
      const handle = await start(taskQueue, args);
      const planHash = await planHashAtGate(handle);
      await handle.signal(approveSignal, { approver: '@dococeven', planHash });
      await suite.env.sleep(3 * MINUTE);
      await waitForStatus(handle, atStep('awaiting_reconciliation'), 'the reconciliation wait');
      await consoleWrite(args.incidentId);
      await handle.signal(checkReconciliationSignal, {});
      await handle.signal(postMortemFiledSignal, { by: '@alice', link: 'https://op.example/wp/153#c4' });
      const result = await handle.result();
      assert.equal(result.outcome, 'restored');
      assert.equal(result.verification?.canonical.conflict, 0);
      assert.equal(result.conflictHold, undefined);
    });
  });

  test('the reads at the opening fail (Postgres refuses twice): the run plans and checks the freezes in its own steps, once each', async () => {
    // The worker's pool refuses its next two statements: the opening's plan and freeze check, run
    // side by side in openBreakGlassProcedure; nothing else touches Postgres before them.
    const pool = suite.db.pool;
    let refusals = 2;
    const refusing = (call: () => unknown) => {
      if (refusals === 0) return call();
      refusals--;
      return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432 (test)'));
    };
    const flaky = new Proxy(pool, {
      get(target, key: keyof Pool) {
        const value: unknown = Reflect.get(target, key);
        if (typeof value !== 'function') return value;
        const bound = (value as (...a: unknown[]) => unknown).bind(target);
        return key === 'connect' || key === 'query'
          ? (...a: unknown[]) => refusing(() => bound(...a))
          : bound;
      },
    });
    await suite.withWorker(activityDeps(defaultPolicy(), flaky), async (taskQueue) => {
      const args = input();
      const handle = await start(taskQueue, args);
      const gate = await waitForStatus(handle, atStep('awaiting_approval'), 'the approval gate');
      assert.equal(refusals, 0, 'both refusals were used');
      const again = gate.events.filter((e) => e.kind === 'read_again').map((e) => e.message);
      assert.equal(again.length, 2, again.join('\n'));
      assert.ok(again.some((m) => /^the plan with the policy read failed \(.*ECONNREFUSED/.test(m)));
      assert.ok(
        again.some((m) => /^the change freeze check with the policy read failed \(.*ECONNREFUSED/.test(m)),
      );
      const steps = completedActivities(await historyEvents(handle))
        .map((a) => a.type)
        .filter((type) => !type.startsWith('notify'));
      assert.deepEqual(steps, ['planRestore', 'checkChangeFreeze']);
      assert.equal(gate.detail.plan?.diff.changed, 1, 'the plan from its own step');
      await handle.signal(abortSignal, { by: '@alice', reason: 'test over' });
      assert.equal((await handle.result()).outcome, 'aborted');
    });
  });

  test('dry run returns the plan and changes nothing', async () => {
    await withWorker(defaultPolicy(), async (taskQueue) => {
      const args = input({ dryRun: true });
      const result = await suite.env.client.workflow.execute(breakGlassRestore, {
        taskQueue,
        workflowId: `break-glass-restore-${args.incidentId}`,
        args: [args],
      });
      assert.equal(result.outcome, 'dry_run');
      assert.equal(result.plan?.diff.changed, 1);
      assert.deepEqual(result.plan?.diff.changes[0], {
        key: 'CVN_HPO_LGB_5M_LEARNING_RATE',
        kind: 'changed',
        from: '0.0',
        to: '0.07',
      });
      assert.equal(result.plan?.recentHistory.length, 6);
      assert.match(result.plan.planHash, /^[0-9a-f]{64}$/);
      assert.equal(await liveVersion(), '2026.11.23-1');
    });
  });

  test('unknown target id: refused at planning with the id named', async () => {
    await withWorker(defaultPolicy(), async (taskQueue) => {
      const args = input({ targetHistoryId: 4242 });
      const result = await suite.env.client.workflow.execute(breakGlassRestore, {
        taskQueue,
        workflowId: `break-glass-restore-${args.incidentId}`,
        args: [args],
      });
      assert.equal(result.outcome, 'target_not_found');
      assert.match(result.message, /ftf_config_history\.id=4242 does not exist/);
    });
  });

  test('a bad input fails the run at once, naming every bad field, before any activity', async () => {
    await withWorker(defaultPolicy(), async (taskQueue) => {
      const workflowId = uniqueId('bad-input');
      const handle = await suite.env.client.workflow.start(breakGlassRestore, {
        taskQueue,
        workflowId,
        args: [
          {
            incidentId: "42'; DROP TABLE ftf_config;--",
            targetHistoryId: -3,
            requestedBy: '',
            rationale: '',
            pause: '1s',
          } as never,
        ],
      });
      await assert.rejects(handle.result(), (error: unknown) => {
        assert.ok(error instanceof WorkflowFailedError);
        const cause = error.cause;
        assert.ok(cause instanceof ApplicationFailure);
        assert.equal(cause.type, 'InvalidInput');
        assert.equal(cause.nonRetryable, true);
        for (const field of ['incidentId', 'targetHistoryId', 'requestedBy', 'rationale', 'pause']) {
          assert.match(cause.message, new RegExp(`${field}`), `names ${field}`);
        }
        return true;
      });
      assert.deepEqual(scheduledActivities(await historyEvents(handle)), []);
    });
  });
});
