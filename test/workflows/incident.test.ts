import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { decide } from '../../src/client/decide';
import { breakGlassRestore, incident } from '../../src/workflows';
import { type BreakGlassRestoreStatus } from '../../src/workflows/break-glass-restore/definitions';
import {
  acknowledgeMessage,
  breachNotifiedMessage,
  incidentWorkflowId,
  changeSeverityMessage,
  postUpdateMessage,
  resolveMessage,
  startRunbookMessage,
  type IncidentStatus,
} from '../../src/workflows/incident/definitions';
import { abortSignal, statusQuery, stepDecisionSignal } from '../../src/workflows/shared/messages';
import { delayedActivities, FaultInjector } from '../fixtures/faults';
import {
  eventTimeMs,
  historyEvents,
  noticesSent,
  recordHistory,
  scheduledActivities,
  signals,
  type HistoryEvent,
} from '../fixtures/history';
import {
  assertInstants,
  assertReviewWaitOnce,
  closeOut,
  incidentWorld,
  withStatusPage,
} from '../fixtures/incident';
import { gateWaits } from '../fixtures/metrics';
import { STATUSPAGE_API_KEY, statusPageSink } from '../fixtures/sinks/apis';
import { closeRun } from '../fixtures/temporal';
import { workflowSuite } from '../fixtures/suite';
import { atStep, waitForStatus } from '../fixtures/wait';
import { cancellationNotices, cancelRun } from '../fixtures/cancellation';

/**
 * Seed 004 on the time-skipping test server with the seed's durations (15 min IC acknowledgement,
 * 30 min updates, 10 min first steps, 72 h breach notification, 3 business days for the review).
 * The server's clock starts on Friday 2026-12-04 09:00Z so the first test's review crosses a
 * weekend. Every instant is read from the history (the notice's delivery being scheduled, the
 * signal's arrival), both bounds checked.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const suite = workflowSuite({
  server: 'time-skipping',
  clockStart: '2026-12-04T09:00:00Z',
  queuePrefix: 'tq-incident',
});
const world = incidentWorld(suite, 'runbooks-incident');
const { started, declaration, declare, withWorker: withIncidentWorker } = world;

type Handle = WorkflowHandle<typeof incident>;

/**
 * When the run sent each notice of `kind`, in order: the start of the workflow task that sent it
 * (the history's own time; a timer's task starts as it fires, however slow the worker is). A
 * page's resolve (same kind, sent when it is answered) is not counted.
 */
async function sentAt(handle: Handle, kind: string): Promise<number[]> {
  return noticesSent(await historyEvents(handle))
    .filter((notice) => notice.kind === kind && notice.page?.action !== 'resolve')
    .map((notice) => notice.decidedAtMs);
}

async function signalAt(handle: Handle, name: string, nth = 0): Promise<number> {
  const found = signals(await historyEvents(handle)).filter((signal) => signal.name === name);
  assert.ok(found[nth], `signal ${name} #${nth} in the history`);
  return found[nth].atMs;
}

/** The pages a run triggered whose last event is still the trigger (PagerDuty keeps them open). */
function pagesLeftOpen(events: HistoryEvent[]): string[] {
  const last = new Map<string, string>();
  for (const notice of noticesSent(events))
    if (notice.page) last.set(notice.page.dedupKey, notice.page.action);
  return [...last].filter(([, action]) => action === 'trigger').map(([key]) => key);
}

async function activeFreezes(incidentId: string): Promise<{ lifted: boolean }[]> {
  const { rows } = await suite.db.pool.query<{ lifted_at: Date | null }>(
    'SELECT lifted_at FROM change_freezes WHERE incident_id = $1',
    [incidentId],
  );
  return rows.map((row) => ({ lifted: row.lifted_at !== null }));
}

/**
 * The incident resolved while its freeze's lift fails: six hours at needs_human (the lift fixed
 * meanwhile), then the IC's `decision`.
 */
async function liftFailingForSixHours(
  handle: WorkflowHandle,
  injector: FaultInjector,
  decision: 'retry' | 'abort',
  reason: string,
): Promise<void> {
  injector.arm('liftChangeFreeze', 'non_retryable', 'incident');
  await handle.signal(resolveMessage.signal, { by: '@sre-lead', summary: 'green' });
  await waitForStatus<IncidentStatus>(handle, atStep('needs_human'), 'the lift asking a human');
  injector.clear();
  await suite.env.sleep(6 * HOUR);
  await handle.signal(stepDecisionSignal, { by: '@sre-lead', decision, reason });
}

describe('incident (seed 004) on the time-skipping server', () => {
  test('review due 3 business days after a Friday resolution: Thursday 00:00Z, reminded Wednesday, escalated when missed', async () => {
    await withIncidentWorker(async (taskQueue) => {
      const { handle } = await declare(taskQueue, declaration({ severity: 'P2' }));
      await handle.signal(resolveMessage.signal, { by: '@sre-lead', summary: 'flag disabled, green' });
      const resolvedMs = await signalAt(handle, 'resolve');
      assert.equal(new Date(resolvedMs).getUTCDay(), 5, 'resolved on the Friday');
      const status = await waitForStatus<IncidentStatus>(
        handle,
        atStep('awaiting_review'),
        'awaiting the review',
      );
      assert.equal(status.detail.review?.dueAt, '2026-12-10T00:00:00.000Z');
      await suite.env.sleep(Date.parse('2026-12-10T06:00:00Z') - (await suite.env.currentTimeMs()));
      assertInstants(
        await sentAt(handle, 'incident_review_reminder'),
        [Date.parse('2026-12-09T00:00:00Z')],
        'reminder',
      );
      assertInstants(
        await sentAt(handle, 'incident_review_missed'),
        [Date.parse('2026-12-10T00:00:00Z')],
        'escalation',
      );
      await recordHistory(handle, 'incident-mid-sleep-review-overdue');
      const result = await closeOut(handle);
      assert.equal(result.outcome, 'resolved_review_late');
      // The overdue review's page is answered by the review.
      assert.deepEqual(pagesLeftOpen(await historyEvents(handle)), []);
      assert.deepEqual(
        result.nonConformities.map((finding) => finding.code),
        ['review_missed'],
      );
    });
  });

  test('P1: reminder 25 min and escalation 30 min after the last update; first steps checked at 10 min; freeze set and lifted', async () => {
    await withIncidentWorker(async (taskQueue) => {
      const input = declaration();
      const { handle, startedMs } = await declare(taskQueue, input);
      assert.deepEqual(await activeFreezes(input.incidentId), [{ lifted: false }]);
      await suite.env.sleep(startedMs + 31 * MINUTE - (await suite.env.currentTimeMs()));
      assertInstants(
        await sentAt(handle, 'incident_first_steps_overdue'),
        [startedMs + 10 * MINUTE],
        'first steps',
      );
      assertInstants(await sentAt(handle, 'incident_update_reminder'), [startedMs + 25 * MINUTE], 'reminder');
      assertInstants(
        await sentAt(handle, 'incident_update_missed'),
        [startedMs + 30 * MINUTE],
        'missed update',
      );

      await handle.signal(postUpdateMessage.signal, { by: '@mallory', text: 'not on the roster' });
      await handle.signal(postUpdateMessage.signal, { by: '@sre-lead', text: 'rollback in progress' });
      const updatedMs = await signalAt(handle, 'postUpdate', 1);
      await suite.env.sleep(updatedMs + 31 * MINUTE - (await suite.env.currentTimeMs()));
      assertInstants(
        await sentAt(handle, 'incident_update_reminder'),
        [startedMs + 25 * MINUTE, updatedMs + 25 * MINUTE],
        'reminders',
      );
      assertInstants(
        await sentAt(handle, 'incident_update_missed'),
        [startedMs + 30 * MINUTE, updatedMs + 30 * MINUTE],
        'missed updates',
      );
      const status = await handle.query(statusQuery);
      assert.ok(
        status.refusedAttempts.some(
          (refused) => refused.by === '@mallory' && refused.reason === 'not_authorized',
        ),
      );
      const result = await closeOut(handle);
      await recordHistory(handle, 'incident-p1-update-cadence');
      // Each page is resolved once answered: the first missed update by the update that followed
      // it (in that signal's own workflow task), the second and the declaration by the resolution.
      const events = await historyEvents(handle);
      assert.deepEqual(pagesLeftOpen(events), []);
      const missed1 = noticesSent(events).filter(
        (n) => n.page?.dedupKey === `${handle.workflowId}/update-missed/1`,
      );
      assert.deepEqual(
        missed1.map((n) => n.page!.action),
        ['trigger', 'resolve'],
      );
      assert.ok(
        missed1[1]!.decidedAtMs >= updatedMs && missed1[1]!.decidedAtMs - updatedMs < 5_000,
        `resolved at ${new Date(missed1[1]!.decidedAtMs).toISOString()}, the update at ${new Date(updatedMs).toISOString()}`,
      );

      assert.deepEqual(await activeFreezes(input.incidentId), [{ lifted: true }]);
      assert.equal(result.detail.updates.count, 1);
      assert.equal(result.detail.firstSteps.find((step) => step.item === 'freeze')?.by, '@durable-runbooks');
    });
  });

  test('a P1 cancelled from Temporal: CANCELED, the IC told what was done (the freeze is left in force, not lifted)', async () => {
    await withIncidentWorker(async (taskQueue) => {
      const input = declaration();
      const { handle } = await declare(taskQueue, input);
      const { events, status } = await cancelRun<IncidentStatus>(handle);
      assert.equal(status.outcome, 'cancelled');
      const told = noticesSent(events).filter((notice) => notice.kind === 'run_cancelled');
      assert.equal(told.length, 1);
      const rows = await cancellationNotices(suite.db.pool, handle.workflowId);
      assert.match(rows[0]!.subject, /^\[P1 INC-.*\] CANCELLED at responding/);
      assert.match(rows[0]!.body, /freeze: frozen/);
      assert.deepEqual(await activeFreezes(input.incidentId), [{ lifted: false }]);
    });
  });

  test('cancelled at a review wait the fail-safe came back to: the notice says since when the wait began', async () => {
    const injector = new FaultInjector();
    await withIncidentWorker(
      async (taskQueue) => {
        const { handle } = await declare(taskQueue, declaration({ severity: 'P1' }));
        // Six hours at needs_human before the decision: the return is well after the wait began.
        await liftFailingForSixHours(handle, injector, 'abort', 'later');
        const back = await waitForStatus<IncidentStatus>(
          handle,
          (status) => status.step === 'awaiting_review' && status.waitingSince !== undefined,
          'back at the review wait',
        );
        const returned = back.steps.at(-1)!.startedAt;
        assert.ok(Date.parse(returned) - Date.parse(back.waitingSince!) >= 6 * HOUR, returned);
        await cancelRun<IncidentStatus>(handle);
        const rows = await cancellationNotices(suite.db.pool, handle.workflowId);
        assert.equal(rows.length, 1);
        // Before, "(since <the return>)": the review looked six hours younger than it was.
        assert.ok(
          rows[0]!.body.includes(`at step awaiting_review (since ${back.waitingSince})`),
          rows[0]!.body,
        );
        await recordHistory(handle, 'incident-cancelled-at-review-after-detour');
      },
      undefined,
      { activity: [injector.factory] },
    );
  });

  test('the review wait a failed freeze lift interrupts is one wait, from the resolution to the review (runbooks_gate_wait_seconds), and the lift’s own wait another', async () => {
    const injector = new FaultInjector();
    await withIncidentWorker(
      async (taskQueue) => {
        const { handle } = await declare(taskQueue, declaration({ severity: 'P1' }));
        await liftFailingForSixHours(handle, injector, 'retry', 'DB back');
        await waitForStatus<IncidentStatus>(
          handle,
          (status) => status.step === 'awaiting_review' && status.detail.freeze?.state === 'lifted',
          'back at the review wait, the freeze lifted',
        );
        await suite.env.sleep(20 * HOUR);
        const result = await closeOut(handle);
        assert.equal(result.outcome, 'resolved_and_reviewed', result.message);
        // Before: two waits, the 6 h of the lift's between them left out of both.
        const review = await assertReviewWaitOnce(taskQueue, await historyEvents(handle), 'the review wait');
        const lift = await gateWaits(taskQueue, 'incident', 'needs_human');
        assert.equal(lift.count, 1);
        assert.ok(
          lift.sumMs >= 6 * HOUR && lift.sumMs < review.sumMs - 20 * HOUR,
          `needs_human ${lift.sumMs} ms`,
        );
      },
      undefined,
      { activity: [injector.factory] },
    );
  });

  test('P0: the IC is paged every 5 min until acknowledged and escalated at 15 min; severity changes re-arm the update clock', async () => {
    await withIncidentWorker(async (taskQueue) => {
      const { handle, startedMs } = await declare(taskQueue, declaration({ severity: 'P0' }));
      await suite.env.sleep(startedMs + 16 * MINUTE - (await suite.env.currentTimeMs()));
      await handle.signal(acknowledgeMessage.signal, { by: '@dococeven' });
      await waitForStatus<IncidentStatus>(
        handle,
        (status) => status.detail.commander.acknowledgedAt !== undefined,
        'the acknowledgement',
      );
      const ackMs = await signalAt(handle, 'acknowledge');
      const pages = [0, 5, 10, 15].map((minutes) => startedMs + minutes * MINUTE);
      // The first page goes once the run has read its policy; the others keep the declaration's rhythm.
      assertInstants(await sentAt(handle, 'incident_commander_page'), pages, 'IC pages', 15_000);
      assertInstants(
        await sentAt(handle, 'incident_commander_missed'),
        [startedMs + 15 * MINUTE],
        'IC escalation',
      );
      assert.equal(
        noticesSent(await historyEvents(handle)).filter((n) => n.kind === 'incident_commander_acknowledged')
          .length,
        1,
      );

      // P0 → P2: no update is due any more. P2 → P1 an hour later: due 30 min after that change.
      await handle.signal(changeSeverityMessage.signal, {
        by: '@dococeven',
        severity: 'P2',
        reason: 'contained',
      });
      const downgradedMs = await signalAt(handle, 'changeSeverity');
      await suite.env.sleep(downgradedMs + HOUR - (await suite.env.currentTimeMs()));
      const remindersBefore = await sentAt(handle, 'incident_update_reminder');
      assert.ok(
        remindersBefore.every((at) => at < downgradedMs),
        'no reminder after the downgrade to P2',
      );
      await handle.signal(changeSeverityMessage.signal, {
        by: '@dococeven',
        severity: 'P1',
        reason: 'recurred',
      });
      const upgradedMs = await signalAt(handle, 'changeSeverity', 1);
      await suite.env.sleep(upgradedMs + 31 * MINUTE - (await suite.env.currentTimeMs()));
      assertInstants(
        (await sentAt(handle, 'incident_update_reminder')).filter((at) => at > upgradedMs),
        [upgradedMs + 25 * MINUTE],
        'reminder after the upgrade',
      );
      assertInstants(
        (await sentAt(handle, 'incident_update_missed')).filter((at) => at > upgradedMs),
        [upgradedMs + 30 * MINUTE],
        'escalation after the upgrade',
      );
      assert.ok(ackMs > startedMs + 15 * MINUTE);
      assertInstants(
        await sentAt(handle, 'incident_commander_page'),
        pages,
        'no IC page after the acknowledgement',
      );
      const result = await closeOut(handle);
      await recordHistory(handle, 'incident-p0-severity-changes');
      assert.ok(result.nonConformities.some((finding) => finding.code === 'commander_not_acknowledged'));
    });
  });

  test('P0 re-declared after a downgrade pages the IC again at once, not on the old rhythm', async () => {
    await withIncidentWorker(async (taskQueue) => {
      const { handle, startedMs } = await declare(taskQueue, declaration({ severity: 'P0' }));
      await suite.env.sleep(startedMs + 6 * MINUTE - (await suite.env.currentTimeMs()));
      await handle.signal(changeSeverityMessage.signal, {
        by: '@dococeven',
        severity: 'P2',
        reason: 'contained',
      });
      await suite.env.sleep(MINUTE);
      await handle.signal(changeSeverityMessage.signal, { by: '@dococeven', severity: 'P0', reason: 'back' });
      const regradedMs = await signalAt(handle, 'changeSeverity', 1);
      await suite.env.sleep(regradedMs + 6 * MINUTE - (await suite.env.currentTimeMs()));
      const pages = await sentAt(handle, 'incident_commander_page');
      assertInstants(
        pages.filter((at) => at >= regradedMs),
        [regradedMs, regradedMs + 5 * MINUTE],
        'pages of the second P0 window',
      );
      await closeOut(handle);
    });
  });

  test('data breach: escalations 48, 24, 6 and 1 h before the 72 h deadline, missed at 72 h, past the resolution', async () => {
    await withIncidentWorker(async (taskQueue) => {
      const input = declaration({ conditions: ['data_breach'] });
      const { handle, startedMs } = await declare(taskQueue, input);
      await handle.signal(postUpdateMessage.signal, { by: '@sre-lead', text: 'keys rotated' });
      await handle.signal(resolveMessage.signal, {
        by: '@sre-lead',
        summary: 'access revoked, keys rotated',
      });
      await suite.env.sleep(startedMs + 73 * HOUR - (await suite.env.currentTimeMs()));
      const deadline = startedMs + 72 * HOUR;
      assertInstants(
        await sentAt(handle, 'incident_breach_escalation'),
        [48, 24, 6, 1].map((hours) => deadline - hours * HOUR),
        'breach escalations',
      );
      assertInstants(await sentAt(handle, 'incident_breach_missed'), [deadline], 'breach deadline');
      const pages = noticesSent(await historyEvents(handle)).filter(
        (notice) => notice.kind === 'incident_page' && notice.page?.action === 'trigger',
      );
      assert.equal(pages.length, 1, 'the paging matrix paged once at the declaration');
      await handle.signal(breachNotifiedMessage.signal, { by: '@dococeven', reference: 'SDAIA-2026-0042' });
      const result = await closeOut(handle);
      await recordHistory(handle, 'incident-data-breach');
      // Every page answered: the declaration's by the resolution, the breach's five by the
      // regulator's notification (in that signal's own workflow task).
      const events = await historyEvents(handle);
      assert.deepEqual(pagesLeftOpen(events), []);
      const resolvedAt = (infix: string) =>
        noticesSent(events)
          .filter((n) => n.page?.action === 'resolve' && n.page.dedupKey.includes(infix))
          .map((n) => n.decidedAtMs);
      const [resolvedMs, notifiedMs] = [
        await signalAt(handle, 'resolve'),
        await signalAt(handle, 'breachNotified'),
      ];
      for (const [infix, count, signalMs] of [
        ['/declared', 1, resolvedMs],
        ['/breach/', 5, notifiedMs],
      ] as const) {
        const at = resolvedAt(infix);
        assert.equal(at.length, count, `${infix} resolves`);
        for (const ms of at)
          assert.ok(
            ms >= signalMs && ms - signalMs < 5_000,
            `${infix} resolved at ${new Date(ms).toISOString()}`,
          );
      }
      assert.ok(result.nonConformities.some((finding) => finding.code === 'breach_notification_missed'));
      assert.equal(result.detail.breach?.reference, 'SDAIA-2026-0042');
    });
  });

  test('evidence is preserved (artifacts with their sha256) before a runbook started by the incident runs; its state is in the incident status', async () => {
    await withIncidentWorker(async (taskQueue) => {
      const input = declaration();
      const { handle } = await declare(taskQueue, input);
      await handle.signal(startRunbookMessage.signal, {
        by: '@sre-lead',
        runbook: 'breakGlassRestore',
        input: {
          targetHistoryId: 5,
          requestedBy: '@alice',
          rationale: 'LGB 5M learning rate set to 0.0 by a Console typo',
        },
      });
      const running = await waitForStatus<IncidentStatus>(
        handle,
        (status) => status.detail.runbooks[0]?.state === 'running',
        'the child runbook running',
      );
      const child = suite.env.client.workflow.getHandle(running.detail.runbooks[0]!.workflowId);
      started.push(child);
      const gate = await waitForStatus<BreakGlassRestoreStatus>(
        child,
        atStep('awaiting_approval'),
        'its gate',
      );
      // It crossed the incident's own freeze, recorded with who started it.
      assert.ok(
        gate.flags.some((flag) => flag.code === 'change_freeze_crossed' && /@sre-lead/.test(flag.message)),
      );
      const evidence = running.detail.preservation?.evidence;
      assert.ok(evidence, 'evidence preserved');
      for (const artifact of [evidence.logs, evidence.metrics, evidence.database]) {
        assert.ok(existsSync(artifact.path), artifact.path);
        assert.equal(createHash('sha256').update(readFileSync(artifact.path)).digest('hex'), artifact.sha256);
      }
      assert.match(readFileSync(evidence.database.path, 'utf8'), /"walLsn"/);
      // In the history: the evidence was kept before the child was started.
      const events = await historyEvents(handle);
      const preserved = events.findIndex(
        (event) =>
          event.activityTaskCompletedEventAttributes &&
          events.find(
            (scheduled) =>
              String(scheduled.eventId) ===
              String(event.activityTaskCompletedEventAttributes?.scheduledEventId),
          )?.activityTaskScheduledEventAttributes?.activityType?.name === 'preserveIncidentEvidence',
      );
      const childStarted = events.findIndex(
        (event) => event.startChildWorkflowExecutionInitiatedEventAttributes,
      );
      assert.ok(
        preserved >= 0 && childStarted > preserved,
        `preserved at ${preserved}, child at ${childStarted}`,
      );
      assert.equal(
        running.detail.firstSteps.find((step) => step.item === 'preserve')?.by,
        '@durable-runbooks',
      );
      await child.signal(abortSignal, { by: '@alice', reason: 'test done' });
      const ended = await waitForStatus<IncidentStatus>(
        handle,
        (status) => status.detail.runbooks[0]?.state === 'completed',
        'the child shown as ended',
      );
      assert.equal(ended.detail.runbooks[0]?.outcome, 'aborted');
      await closeOut(handle);
      await recordHistory(handle, 'incident-child-runbook');
    });
  });

  test('a P1 freeze is refused by a mutating runbook and crossed with an override (recorded)', async () => {
    await withIncidentWorker(async (taskQueue) => {
      const input = declaration({ severity: 'P1' });
      const { handle } = await declare(taskQueue, input);
      const restore = async (suffix: string, extra: object) => {
        const run = await suite.env.client.workflow.start(breakGlassRestore, {
          taskQueue,
          workflowId: `break-glass-restore-${input.incidentId}-${suffix}`,
          args: [
            {
              incidentId: input.incidentId,
              targetHistoryId: 5,
              requestedBy: '@alice',
              rationale: 'LGB 5M learning rate set to 0.0 by a Console typo',
              ...extra,
            },
          ],
        });
        started.push(run);
        return run;
      };
      const plain = await restore('plain', {});
      const refused = await plain.result();
      await recordHistory(plain, 'break-glass-restore-refused-change-freeze');
      assert.equal(refused.outcome, 'refused_change_freeze');
      assert.match(refused.message, /production is under a change freeze \(incident INC-/);
      assert.match(refused.message, /freezeOverride/);

      const crossing = await restore('override', {
        freezeOverride: { by: '@sre-lead', reason: 'the restore is how we stop the bleeding' },
      });
      const gate = await waitForStatus<BreakGlassRestoreStatus>(
        crossing,
        atStep('awaiting_approval'),
        'the gate',
      );
      assert.ok(
        gate.flags.some((flag) => flag.code === 'change_freeze_crossed' && /@sre-lead/.test(flag.message)),
      );
      const { rows } = await suite.db.pool.query<{ by_handle: string }>(
        'SELECT by_handle FROM change_freeze_crossings WHERE workflow_id = $1',
        [crossing.workflowId],
      );
      assert.deepEqual(rows, [{ by_handle: '@sre-lead' }]);
      await closeRun(crossing, 'test done');
      await closeOut(handle);
      // Lifted at the resolution: a run started now is not refused.
      const after = await restore('after', {});
      await waitForStatus<BreakGlassRestoreStatus>(
        after,
        atStep('awaiting_approval'),
        'the gate after the lift',
      );
      await closeRun(after, 'test done');
    });
  });

  test('dry run of a P0 data breach with customers affected: who is paged, what is frozen, kept and posted, the clocks; nothing sent, frozen or posted', async () => {
    await withIncidentWorker(async (taskQueue) => {
      const input = declaration({
        severity: 'P0',
        conditions: ['app_down', 'data_breach'],
        customersAffected: true,
        dryRun: true,
      });
      const run = await suite.env.client.workflow.start(incident, {
        taskQueue,
        workflowId: incidentWorkflowId(input.incidentId),
        args: [input],
      });
      started.push(run);
      const result = await run.result();
      await recordHistory(run, 'incident-dry-run');
      assert.equal(result.outcome, 'dry_run', result.message);
      // The test policy: the default paging matrix, no status page, the seed's clocks.
      const responders = ['@sre-lead', '@dpo', '@legal', '@security-lead'];
      assert.deepEqual(result.detail.dryRun, {
        commander: '@sre-lead',
        paged: ['@oncall-platform', '@dpo', '@legal', '@security-lead'],
        freeze: 'production',
        preserve: true,
        statusPage: { missing: true },
        commanderAck: { withinMs: 15 * MINUTE, repageEveryMs: 5 * MINUTE },
        updates: { everyMs: 30 * MINUTE, firstStepsWithinMs: 10 * MINUTE },
        breach: { notifyWithinMs: 72 * HOUR, recipients: responders },
        reviewWithinBusinessDays: 3,
      });
      assert.match(
        result.message,
        /^dry run of a P0: IC @sre-lead told; paged: @oncall-platform, @dpo, @legal, @security-lead; IC acknowledges within 15m .*; production frozen; .*; nothing was sent, frozen or posted$/,
      );
      const events = await historyEvents(run);
      assert.deepEqual(
        scheduledActivities(events).map((activity) => activity.type),
        ['loadRunbookPolicy'],
      );
      assert.deepEqual(noticesSent(events), []);
      assert.equal(events.filter((event) => event.timerStartedEventAttributes).length, 0);
      assert.deepEqual(await activeFreezes(input.incidentId), []);
    });
  });

  test('a freeze that cannot be recorded asks a human; once skipped the incident shows responding again, not needs_human; a lift aborted is flagged with the lift-freeze line', async () => {
    const injector = new FaultInjector();
    await withIncidentWorker(
      async (taskQueue) => {
        injector.arm('setChangeFreeze', 'non_retryable', 'incident');
        const input = declaration({ severity: 'P1' });
        const { handle } = await declare(taskQueue, input, atStep('needs_human'));
        const asking = await handle.query(statusQuery);
        assert.equal(asking.needsHuman?.step, 'freeze');
        injector.clear();
        await handle.signal(stepDecisionSignal, { by: '@sre-lead', decision: 'skip', reason: 'DB down' });
        const back = await waitForStatus<IncidentStatus>(
          handle,
          (status) => status.detail.freeze?.state === 'skipped',
          'the freeze skipped',
        );
        // Before the fix the step stayed needs_human (and was counted and alerted on as one).
        assert.equal(back.step, 'responding');
        assert.equal(back.needsHuman, undefined);
        assert.deepEqual((await handle.describe()).searchAttributes.RunbookStep, ['responding']);
        assert.deepEqual(await activeFreezes(input.incidentId), []);
        await closeOut(handle);
        await recordHistory(handle, 'incident-freeze-skipped');

        // A freeze recorded, its lift failing at the resolution and aborted: still in force, said so.
        const second = declaration({ severity: 'P1' });
        const { handle: other } = await declare(taskQueue, second);
        injector.arm('liftChangeFreeze', 'non_retryable', 'incident');
        await other.signal(resolveMessage.signal, { by: '@sre-lead', summary: 'green' });
        await waitForStatus<IncidentStatus>(other, atStep('needs_human'), 'the lift asking a human');
        injector.clear();
        await other.signal(stepDecisionSignal, { by: '@sre-lead', decision: 'abort', reason: 'later' });
        const after = await waitForStatus<IncidentStatus>(
          other,
          (status) => status.step !== 'needs_human' && !!status.detail.freeze?.note,
          'the lift aborted',
        );
        assert.equal(after.step, 'awaiting_review');
        // The same review wait as before the detour, begun at the resolution: what the open-run
        // gauges count from (before, from the return). Pinned on the history: the workflow task that
        // took the resolve signal.
        const review = after.steps.find((step) => step.name === 'awaiting_review')!;
        assert.notEqual(after.steps.at(-1), review, 'the run came back to the wait after needs_human');
        assert.equal(after.waitingSince, review.startedAt);
        const events = await historyEvents(other);
        const resolved = events.findIndex(
          (event) =>
            event.workflowExecutionSignaledEventAttributes?.signalName === resolveMessage.signal.name,
        );
        const took = events.slice(resolved).find((event) => event.workflowTaskStartedEventAttributes)!;
        assert.ok(
          Math.abs(Date.parse(after.waitingSince) - eventTimeMs(took)) <= 1,
          `waiting since ${after.waitingSince}, resolution taken at ${new Date(eventTimeMs(took)).toISOString()}`,
        );
        assert.equal(after.detail.freeze?.state, 'frozen');
        const result = await closeOut(other);
        assert.equal(result.outcome, 'resolved_and_reviewed');
        const flag = result.flags.find((found) => found.code === 'freeze_not_lifted');
        assert.ok(flag, 'a freeze_not_lifted flag');
        assert.match(flag.message, /still in force \(aborted by @sre-lead\)/);
        assert.ok(
          flag.message.includes(
            `npm run cli -- lift-freeze --incident ${second.incidentId} --environment production --by @you`,
          ),
          flag.message,
        );
        assert.deepEqual(await activeFreezes(second.incidentId), [{ lifted: false }]);
      },
      undefined,
      { activity: [injector.factory] },
    );
  });

  test("a responder on the policy's roster only, acting in the incident's first moments (its policy read slow): a signal and an Update both taken once the roster is known, not refused", async () => {
    // Policy reads that take 2 s: the declared run's first moments, before it knows its roster.
    const slowPolicy = delayedActivities((type) => type === 'loadRunbookPolicy', 2_000);
    await withIncidentWorker(
      async (taskQueue) => {
        // Declared by its commander: @dococeven is then only on the policy's roster of responders.
        const input = declaration({ severity: 'P2', declaredBy: '@sre-lead' });
        const handle = await suite.env.client.workflow.start(incident, {
          taskQueue,
          workflowId: incidentWorkflowId(input.incidentId),
          args: [input],
        });
        started.push(handle);
        await handle.signal(postUpdateMessage.signal, { by: '@dococeven', text: 'by signal, at once' });
        const notTaken: string[] = [];
        const answer = await decide(
          handle,
          postUpdateMessage.update,
          { by: '@dococeven', text: 'by Update, at once' },
          { onNotTaken: (message) => notTaken.push(message) },
        );
        assert.equal(answer.accepted, true, JSON.stringify(answer));
        assert.match(notTaken[0] ?? '', /^NOT TAKEN \(the incident is reading its policy, just declared\)/);
        const both = await waitForStatus<IncidentStatus>(
          handle,
          (s) => s.detail.updates.count === 2,
          'both updates taken',
        );
        assert.deepEqual(
          both.events.filter((event) => event.kind === 'update').map((event) => [event.message, event.by]),
          [
            ['by signal, at once', '@dococeven'],
            ['by Update, at once', '@dococeven'],
          ],
        );
        const result = await closeOut(handle);
        assert.equal(result.outcome, 'resolved_and_reviewed', result.message);
        assert.deepEqual(result.refusedAttempts, []);
        await recordHistory(handle, 'incident-roster-before-policy');
      },
      undefined,
      { activity: [slowPolicy.factory] },
    );
  });

  describe('with the status page down', () => {
    let statusPage: Awaited<ReturnType<typeof statusPageSink>>;
    before(async () => {
      statusPage = await statusPageSink();
    });
    after(() => statusPage.stop());

    test('the IC posts 12 updates while the status page waits for a human: once it is back, the page is created and only the latest update posted, the 11 before counted', async () => {
      const injector = new FaultInjector();
      await withIncidentWorker(
        async (taskQueue) => {
          injector.arm('updateStatusPage', 'non_retryable', 'incident');
          const input = declaration({ severity: 'P2', customersAffected: true });
          const { handle } = await declare(taskQueue, input, atStep('needs_human'));
          const updates = 12;
          for (let i = 0; i < updates; i++)
            await handle.signal(postUpdateMessage.signal, { by: '@sre-lead', text: `progress ${i}` });
          await waitForStatus<IncidentStatus>(
            handle,
            (s) => s.detail.updates.count === updates,
            'every update taken in',
          );
          injector.clear();
          await handle.signal(stepDecisionSignal, {
            by: '@sre-lead',
            decision: 'retry',
            reason: 'page back',
          });
          const back = await waitForStatus<IncidentStatus>(
            handle,
            (s) => s.flags.some((flag) => flag.code === 'status_page_updates_left_out'),
            'the stale updates left out',
          );
          assert.equal(back.step, 'responding');
          const result = await closeOut(handle);
          assert.equal(result.outcome, 'resolved_and_reviewed', result.message);
          assert.deepEqual(
            result.flags
              .filter((flag) => flag.code === 'status_page_updates_left_out')
              .map((flag) => flag.message),
            [
              `${updates - 1} status page updates were not posted, each superseded by a later one while the page was slow or down: the latest is posted`,
            ],
          );
          assert.equal(result.detail.statusPageUpdatesLeftOut, updates - 1);
          const pages = [...statusPage.incidents.values()].filter((page) =>
            page.name.includes(input.symptoms.slice(0, 40)),
          );
          assert.equal(pages.length, 1);
          const bodies = statusPage.requests
            .filter((request) => request.method === 'PATCH' && request.path.endsWith(`/${pages[0]!.id}`))
            .map((request) => (request.json as { incident: { body: string } }).incident.body);
          // The latest update, then the resolution.
          assert.deepEqual(bodies.slice(0, -1), [`progress ${updates - 1}`]);
          assert.equal(pages[0]!.status, 'resolved');
          assert.equal(pages[0]!.updates, 3, 'created, the latest update, resolved');
          await recordHistory(handle, 'incident-status-page-latest');
        },
        withStatusPage(statusPage.url),
        { activity: [injector.factory] },
        { STATUSPAGE_API_KEY },
      );
    });
  });
});
