import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { incident } from '../../src/workflows';
import {
  CARRIED,
  changeSeverityMessage,
  postUpdateMessage,
  resolveMessage,
  startRunbookMessage,
} from '../../src/workflows/incident/definitions';
import type { BreakGlassRestoreStatus } from '../../src/workflows/break-glass-restore/definitions';
import type { IncidentStatus } from '../../src/workflows/incident/definitions';
import { renderStatus } from '../../src/cli/status';
import { firstEvent, recordHistory, runHistories } from '../fixtures/history';
import { gateWaits } from '../fixtures/metrics';
import { delayedActivities, FaultInjector } from '../fixtures/faults';
import { STATUSPAGE_API_KEY, statusPageSink } from '../fixtures/sinks/apis';
import { assertReviewWaitOnce, incidentWorld, closeOut, withStatusPage } from '../fixtures/incident';
import { workflowSuite } from '../fixtures/suite';
import { atStep, waitForStatus } from '../fixtures/wait';
import { spawnNode } from '../fixtures/processes';
import {
  abortSignal,
  statusQuery,
  stepDecisionSignal,
  stepDecisionUpdate,
} from '../../src/workflows/shared/messages';
import { decide } from '../../src/client/decide';
import type { DecisionAnswer } from '../../src/workflows/shared/messages';

/**
 * Temporal terminates a run whose history reaches its limit (51,200 events on a default server):
 * none of the run's code runs, nobody is told. An incident writes ~7 events per accepted update,
 * so a bot posting updates in a loop ended it after ~7,000. The server here has its limit lowered
 * (as an operator may) so that a few hundred updates meet it.
 */
const HISTORY_LIMIT = 2_000;
const suite = workflowSuite({
  server: 'dev',
  clockStart: '2026-12-04T09:00:00Z',
  queuePrefix: 'tq-history',
  dynamicConfig: {
    'limit.historyCount.error': HISTORY_LIMIT,
    'limit.historyCount.suggestContinueAsNew': HISTORY_LIMIT / 8,
  },
});
const world = incidentWorld(suite, 'runbooks-history-limit');

/** For the replay gate: the chain's first run (it handed over) and its last (it took over, and ended). */
async function recordFirstAndLastRuns(
  handle: WorkflowHandle<typeof incident>,
  runs: Awaited<ReturnType<typeof runHistories>>,
  firstName: string,
  lastName: string,
): Promise<void> {
  const firstRunId = runs[1]![0]!.workflowExecutionStartedEventAttributes!.continuedExecutionRunId!;
  const lastRunId = (await handle.describe()).runId;
  for (const [runId, name] of [
    [firstRunId, firstName],
    [lastRunId, lastName],
  ] as const)
    await recordHistory(suite.env.client.workflow.getHandle(handle.workflowId, runId), name);
}

/**
 * `count` updates in bursts of 20 the incident takes in (each burst acted on before the next): a
 * bot posting in a loop. Each is `<text> <n>`.
 */
async function postUpdatesInBursts(
  handle: WorkflowHandle<typeof incident>,
  count: number,
  text: string,
): Promise<void> {
  const burst = 20;
  for (let sent = 0; sent < count; sent += burst) {
    await Promise.all(
      Array.from({ length: burst }, (_, i) =>
        handle.signal(postUpdateMessage.signal, { by: '@sre-lead', text: `${text} ${sent + i}` }),
      ),
    );
    await waitForStatus<IncidentStatus>(
      handle,
      (s) => s.detail.updates.count === sent + burst,
      `update ${sent + burst} posted`,
    );
  }
}

/**
 * Notice deliveries delayed by `ms` while it is set: a hand-over waits for the notices in flight,
 * so messages come while it holds them.
 */
function delayedNotices(): ReturnType<typeof delayedActivities> {
  return delayedActivities((type) => type.startsWith('notify'));
}

/** What a run says of an Update it did not take in: handing over, or (a new run) reading its policy. */
const NOT_TAKEN =
  /^NOT TAKEN \(the incident(?: is moving to a new run, its history is long|'s new run is reading its policy)\): postUpdate was not recorded; send it again/;
const HANDING_OVER = /^NOT TAKEN \(the incident is moving to a new run, its history is long\)/;

/**
 * The responder's updates as Updates, not sent again, until one is not taken in because the run
 * has begun to hand over (one a new run did not take while reading its policy is sent again).
 * Returns the answers of those taken.
 */
async function updatesUntilNotTaken(
  handle: WorkflowHandle<typeof incident>,
  text: string,
  max: number,
): Promise<DecisionAnswer[]> {
  const taken: DecisionAnswer[] = [];
  for (;;) {
    assert.ok(taken.length < max, `no hand-over after ${max} Updates`);
    const payload = { by: '@sre-lead', text: `${text} ${taken.length}` };
    const answer = await decide(handle, postUpdateMessage.update, payload, { retryForMs: 0 }).catch(
      (error: unknown) => {
        const cause = (error as Error).cause as Error | undefined;
        assert.match(cause?.message ?? String(error), NOT_TAKEN);
        return cause!.message;
      },
    );
    if (typeof answer !== 'string') taken.push(answer);
    else if (HANDING_OVER.test(answer)) return taken;
    else await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('an incident flooded with updates past its history limit (dev server)', () => {
  test('it goes on in a new run, nothing lost, and ends when reviewed', async () => {
    await world.withWorker(async (taskQueue) => {
      const { handle: guarded } = await world.declare(taskQueue, world.declaration({ severity: 'P1' }));
      const handle: typeof guarded = suite.env.client.workflow.getHandle(guarded.workflowId);
      const updates = 600;
      await postUpdatesInBursts(handle, updates, 'progress update');
      // And a last burst not waited for: what comes while a run hands over is held for the next.
      const last = 100;
      await Promise.all(
        Array.from({ length: last }, (_, i) =>
          handle.signal(postUpdateMessage.signal, { by: '@sre-lead', text: `late update ${i}` }),
        ),
      );
      const all = updates + last;
      const status = await waitForStatus<IncidentStatus>(
        handle,
        (s) => s.detail.updates.count === all && s.notices.every((n) => n.state !== 'sending'),
        'every update posted and its notice delivered',
        120_000,
      );
      assert.equal(status.detail.freeze?.state, 'frozen');
      // What `npm run cli -- status` prints of it.
      assert.match(
        renderStatus(status as unknown as Parameters<typeof renderStatus>[0]),
        new RegExp(`^runs: +${status.detail.continuedAsNew!.runs}: its history grew long`, 'm'),
      );
      const result = await closeOut(handle);
      assert.equal(result.outcome, 'resolved_and_reviewed', result.message);
      assert.equal(result.detail.updates.count, all);
      assert.equal(result.refusedAttempts.length, 0, JSON.stringify(result.refusedAttempts.slice(0, 3)));
      assert.equal(result.detail.freeze?.state, 'lifted', 'the freeze of the first run lifted by the last');

      // Each run of the chain handed over below the limit; none was terminated.
      const runs = await runHistories(guarded);
      assert.ok(runs.length >= 3, `${runs.length} runs`);
      for (const [i, events] of runs.entries()) {
        const last = events.at(-1)!;
        assert.ok(
          i < runs.length - 1
            ? last.workflowExecutionContinuedAsNewEventAttributes
            : last.workflowExecutionCompletedEventAttributes,
          `run ${i + 1} ended by ${String(last.eventType)}`,
        );
        assert.ok(events.length < HISTORY_LIMIT, `run ${i + 1}: ${events.length} events`);
      }
      assert.equal(result.detail.continuedAsNew?.runs, runs.length);
      await recordFirstAndLastRuns(
        handle,
        runs,
        'incident-hands-over-on-long-history',
        'incident-continued-run-ends',
      );

      // Every update's notice was delivered once, whichever run sent it.
      const { rows } = await suite.db.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM runbook_notices WHERE workflow_id = $1 AND kind = 'incident_update'`,
        [handle.workflowId],
      );
      assert.equal(Number(rows[0]!.n), all);
    });
  });

  test('resolved, its review awaited while messages flood in: the wait goes on in the new run from the resolution, measured once', async () => {
    await world.withWorker(async (taskQueue) => {
      const { handle: guarded } = await world.declare(taskQueue, world.declaration({ severity: 'P1' }));
      const handle: typeof guarded = suite.env.client.workflow.getHandle(guarded.workflowId);
      await handle.signal(resolveMessage.signal, { by: '@sre-lead', summary: 'rolled back' });
      const resolved = await waitForStatus<IncidentStatus>(
        handle,
        (s) => s.step === 'awaiting_review',
        'resolved',
      );
      const resolvedAt = resolved.detail.resolution!.at;
      // Updates after the resolution are refused, each a signal in the history: it grows until a
      // hand-over (the server suggests one at 250 events).
      let sent = 0;
      for (; ; sent += 20) {
        assert.ok(sent < 1_000, 'no hand-over after 1,000 messages');
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            handle.signal(postUpdateMessage.signal, { by: '@sre-lead', text: `late ${sent + i}` }),
          ),
        );
        const now = await handle.query(statusQuery);
        if ((now as IncidentStatus).detail.continuedAsNew && now.step === 'awaiting_review') break;
      }
      const waiting = await waitForStatus<IncidentStatus>(
        handle,
        (s) => s.step === 'awaiting_review' && (s.detail.continuedAsNew?.runs ?? 1) >= 2,
        'the review awaited in a new run',
      );
      // What the open-run gauges read: the wait began at the resolution, not at the hand-over.
      assert.equal(waiting.waitingSince, resolvedAt);
      const result = await closeOut(handle);
      assert.equal(result.outcome, 'resolved_and_reviewed', result.message);
      const runs = await runHistories(guarded);
      assert.ok(runs.length >= 2, `${runs.length} runs`);
      await assertReviewWaitOnce(taskQueue, runs.flat(), `the review's wait across ${runs.length} runs`);
    });
  });

  test('a runbook it started before handing over is followed by the new run: its end shows in the incident', async () => {
    await world.withWorker(async (taskQueue) => {
      const { handle: guarded } = await world.declare(taskQueue, world.declaration({ severity: 'P1' }));
      const handle: typeof guarded = suite.env.client.workflow.getHandle(guarded.workflowId);
      await handle.signal(startRunbookMessage.signal, {
        by: '@sre-lead',
        runbook: 'breakGlassRestore',
        input: { targetHistoryId: 5, requestedBy: '@alice', rationale: 'LGB 5M learning rate set to 0.0' },
      });
      const running = await waitForStatus<IncidentStatus>(
        handle,
        (s) => s.detail.runbooks[0]?.state === 'running',
        'the restore started by the incident',
      );
      const child = suite.env.client.workflow.getHandle(running.detail.runbooks[0]!.workflowId);
      await waitForStatus<BreakGlassRestoreStatus>(
        child,
        atStep('awaiting_approval'),
        'the restore at its gate',
      );
      await postUpdatesInBursts(handle, 300, 'progress');
      const handedOver = await waitForStatus<IncidentStatus>(
        handle,
        (s) =>
          (s.detail.continuedAsNew?.runs ?? 1) >= 2 &&
          s.step === 'responding' &&
          /^followed by this run/.test(s.detail.runbooks[0]?.message ?? ''),
        'a new run following the restore',
      );
      assert.equal(handedOver.detail.runbooks[0]!.state, 'running');
      await child.signal(abortSignal, { by: '@alice', reason: 'not needed after all' });
      const ended = await waitForStatus<IncidentStatus>(
        handle,
        (s) => s.detail.runbooks[0]?.state === 'completed',
        'the restore shown as ended in the incident',
      );
      assert.equal(ended.detail.runbooks[0]!.outcome, 'aborted');
      const result = await closeOut(handle);
      assert.equal(result.detail.runbooks[0]!.state, 'completed');
      const runs = await runHistories(guarded);
      // The run that followed it: the activity that waited for its end, in the run after the start.
      const startedIn = runs.findIndex((events) =>
        events.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes),
      );
      const followedIn = runs.findIndex((events) =>
        events.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'awaitRunbookEnd'),
      );
      assert.ok(
        startedIn >= 0 && followedIn > startedIn,
        `started in run ${startedIn + 1}, followed in ${followedIn + 1}`,
      );
      // For the replay gate: the run that followed it (it asked the patch).
      const followerRunId =
        runs[followedIn - 1]!.at(-1)!.workflowExecutionContinuedAsNewEventAttributes!.newExecutionRunId!;
      await recordHistory(
        suite.env.client.workflow.getHandle(handle.workflowId, followerRunId),
        'incident-follows-carried-runbook',
      );
    });
  });

  test('Updates sent while it hands over (the CLI too) are not answered before anything checked them: sent again, each counted once or refused for its true reason', async (t) => {
    const slowNotices = delayedNotices();
    await world.withWorker(
      async (taskQueue) => {
        const input = world.declaration({ severity: 'P2' });
        const { incidentId } = input;
        const { handle: guarded } = await world.declare(taskQueue, input);
        const handle: typeof guarded = suite.env.client.workflow.getHandle(guarded.workflowId);
        const flood = 300;
        await postUpdatesInBursts(handle, flood, 'progress');
        const runsBefore =
          ((await handle.query(statusQuery)) as IncidentStatus).detail.continuedAsNew?.runs ?? 1;
        slowNotices.ms = 1_500;
        // A responder's Update and a stranger's, in turn, until two more hand-overs have happened.
        const notTaken: string[] = [];
        const onNotTaken = (message: string): number => notTaken.push(message);
        const responder: DecisionAnswer[] = [];
        const stranger: DecisionAnswer[] = [];
        let runs = runsBefore;
        while (runs < runsBefore + 2) {
          assert.ok(responder.length < 400, `${runs - runsBefore} hand-overs after 400 Updates`);
          const i = responder.length;
          responder.push(
            await decide(
              handle,
              postUpdateMessage.update,
              { by: '@sre-lead', text: `by update ${i}` },
              { onNotTaken },
            ),
          );
          stranger.push(
            await decide(
              handle,
              postUpdateMessage.update,
              { by: '@mallory', text: `stranger ${i}` },
              { onNotTaken },
            ),
          );
          runs = ((await handle.query(statusQuery)) as IncidentStatus).detail.continuedAsNew?.runs ?? 1;
        }
        t.diagnostic(
          `${responder.length + stranger.length} Updates over ${runs - runsBefore} hand-overs, ${notTaken.length} sent again`,
        );
        // The CLI, started as a run begins to hand over (its notices now take 8 s): told the Update
        // was not taken, it sends it again, and the next run's answer is what it prints.
        slowNotices.ms = 8_000;
        responder.push(...(await updatesUntilNotTaken(handle, 'by update', 400)));
        const cli = spawnNode(
          'dist/src/cli/main.js',
          [
            'incident-update',
            '--incident',
            incidentId,
            '--by',
            '@sre-lead',
            '--text',
            'by update from the CLI',
          ],
          suite.processEnv(),
        );
        assert.equal(await cli.exited(), 0, cli.output());
        assert.match(
          cli.output(),
          /NOT TAKEN \(the incident(?: is moving to a new run, its history is long|'s new run is reading its policy)\): postUpdate was not recorded; send it again \(the CLI sends it again\)$/m,
        );
        assert.match(cli.output(), /^accepted: postUpdate on incident-/m);
        slowNotices.ms = 0;
        // The answers are the run's verdicts: the responder's taken, the stranger's refused.
        assert.deepEqual(
          responder.filter((answer) => !answer.accepted),
          [],
        );
        assert.deepEqual(
          new Set(stranger.map((answer) => `${answer.accepted} ${answer.reason}`)),
          new Set(['false not_authorized']),
        );
        assert.ok(notTaken.length > 0, 'no Update came while a run handed over');
        // Not taken while a run handed over (or while the new one read its policy), said so.
        assert.ok(
          notTaken.every((message) => NOT_TAKEN.test(message)),
          notTaken.join('\n'),
        );
        assert.ok(
          notTaken.some((message) => HANDING_OVER.test(message)),
          notTaken.join('\n'),
        );
        const result = await closeOut(handle);
        assert.equal(result.outcome, 'resolved_and_reviewed', result.message);
        // Each taken once: the flood and every Update the responder was told was taken.
        assert.equal(result.detail.updates.count, flood + responder.length + 1);
        const { rows } = await suite.db.pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM runbook_notices WHERE workflow_id = $1 AND kind = 'incident_update' AND body LIKE 'by update %'`,
          [handle.workflowId],
        );
        assert.equal(Number(rows[0]!.n), responder.length + 1);
        const chain = await runHistories(guarded);
        assert.ok(chain.every((events) => events.length < HISTORY_LIMIT));
      },
      undefined,
      { activity: [slowNotices.factory] },
    );
  });
  test('its severity changed 150 times: the history it carries is bounded, and counted', async () => {
    await world.withWorker(async (taskQueue) => {
      const { handle: guarded } = await world.declare(taskQueue, world.declaration({ severity: 'P2' }));
      const handle: typeof guarded = suite.env.client.workflow.getHandle(guarded.workflowId);
      const changes = 150;
      for (let change = 0; change < changes; change++)
        await handle.signal(changeSeverityMessage.signal, {
          by: '@sre-lead',
          severity: change % 2 === 0 ? 'P1' : 'P2',
          reason: `change ${change}: ${'r'.repeat(980)}`,
        });
      const status = await waitForStatus<IncidentStatus>(
        handle,
        (s) => s.detail.severityHistory.length + (s.detail.severityChangesOmitted ?? 0) === changes + 1,
        'every severity change recorded (and the declaration)',
        60_000,
      );
      assert.ok(status.detail.severityHistory.length <= CARRIED.severityHistory + changes / 2);
      assert.ok((status.detail.severityChangesOmitted ?? 0) > 0, 'some left behind, counted');
      assert.match(status.detail.severityHistory.at(-1)!.reason, new RegExp(`^change ${changes - 1}:`));
      assert.equal(status.detail.severity, 'P2');
      const result = await closeOut(handle);
      assert.equal(result.outcome, 'resolved_and_reviewed', result.message);
      const runs = await runHistories(guarded);
      assert.ok(runs.length >= 2, `${runs.length} runs`);
      assert.ok(runs.every((events) => events.length < HISTORY_LIMIT));
    });
  });
  test('a freeze nobody decides on while updates flood in: the wait goes on in a new run, and is decided there', async () => {
    const injector = new FaultInjector();
    // Policy reads that take 3 s once asked to: a new run's first moments, before it knows its roster.
    const slowPolicy = delayedActivities((type) => type === 'loadRunbookPolicy');
    await world.withWorker(
      async (taskQueue) => {
        injector.arm('setChangeFreeze', 'non_retryable', 'incident');
        // Declared by its commander: @dococeven is then only on the policy's roster of responders.
        const input = world.declaration({ severity: 'P1', declaredBy: '@sre-lead' });
        const { handle: guarded } = await world.declare(taskQueue, input, atStep('needs_human'));
        const handle: typeof guarded = suite.env.client.workflow.getHandle(guarded.workflowId);
        const updates = 600;
        await postUpdatesInBursts(handle, updates, 'progress');
        const waiting = await waitForStatus<IncidentStatus>(
          handle,
          (s) => s.step === 'needs_human' && s.notices.every((n) => n.state !== 'sending'),
          'every notice delivered, the freeze waiting (a new run shows it once its policy is read)',
          60_000,
        );
        assert.equal(waiting.needsHuman?.step, 'freeze');
        assert.ok((waiting.detail.continuedAsNew?.runs ?? 1) >= 2, 'handed over while the freeze waits');
        // The page the first run sent is the one open: not sent again by each run.
        assert.equal(waiting.needsHuman?.pages, 1);
        // One more hand-over, its new run slow to read its policy: the decision comes then, from a
        // responder of the policy's roster (not the IC), whom that run cannot know yet.
        const runsBefore = waiting.detail.continuedAsNew!.runs;
        slowPolicy.ms = 3_000;
        let more = 0;
        for (; ; more++) {
          assert.ok(more < 300, 'no hand-over after 300 more updates');
          await handle.signal(postUpdateMessage.signal, { by: '@sre-lead', text: `more ${more}` });
          const now = (await handle.query(statusQuery)) as IncidentStatus;
          if ((now.detail.continuedAsNew?.runs ?? 1) > runsBefore && now.step === 'load_policy') break;
        }
        injector.clear();
        await handle.signal(stepDecisionSignal, { by: '@dococeven', decision: 'retry', reason: 'DB back' });
        slowPolicy.ms = 0;
        const frozen = await waitForStatus<IncidentStatus>(
          handle,
          (s) => s.detail.freeze?.state === 'frozen' && s.step === 'responding',
          'the freeze written on retry',
        );
        assert.equal(frozen.needsHuman, undefined);
        const result = await closeOut(handle);
        assert.equal(result.outcome, 'resolved_and_reviewed', result.message);
        assert.equal(result.detail.updates.count, updates + more + 1);
        assert.equal(result.detail.freeze?.state, 'lifted');
        // The decision was taken, though it came before the run knew who may decide.
        assert.deepEqual(result.refusedAttempts, []);
        const runs = await runHistories(guarded);
        assert.ok(runs.length >= 2, `${runs.length} runs`);
        assert.ok(runs.every((events) => events.length < HISTORY_LIMIT));
        // The wait spanned the runs: measured once, whole (before: once per run, each its own part).
        // From the history: it began at the task after the freeze failed, ended at the task that
        // scheduled the retry, after the decision came.
        const events = runs.flat();
        // The freeze failed in the first run (event ids are each run's own).
        const freezes = new Set(
          runs[0]!
            .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'setChangeFreeze')
            .map((e) => String(e.eventId)),
        );
        const failed = firstEvent(
          events,
          (e) => freezes.has(String(e.activityTaskFailedEventAttributes?.scheduledEventId)),
          'setChangeFreeze failure',
        );
        const waitBegan = firstEvent(
          events,
          (e) => !!e.workflowTaskStartedEventAttributes,
          'task after the failure',
          failed.index,
        );
        const decided = firstEvent(
          events,
          (e) => e.workflowExecutionSignaledEventAttributes?.signalName === stepDecisionSignal.name,
          'stepDecision signal',
        );
        const retried = firstEvent(
          events,
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'setChangeFreeze',
          'retried setChangeFreeze',
          decided.index,
        );
        const waits = await gateWaits(taskQueue, 'incident', 'needs_human');
        assert.equal(waits.count, 1, `the freeze's wait across ${runs.length} runs, measured once`);
        assert.ok(
          waits.sumMs >= decided.atMs - waitBegan.atMs && waits.sumMs <= retried.atMs - failed.atMs,
          `needs_human for ${waits.sumMs} ms: between ${decided.atMs - waitBegan.atMs} and ${retried.atMs - failed.atMs} ms by the history`,
        );
        // For the replay gate: the first run (it let the wait go) and the last (it took it up, and ended).
        await recordFirstAndLastRuns(
          handle,
          runs,
          'incident-hands-over-human-wait',
          'incident-takes-up-human-wait',
        );
        const { rows } = await suite.db.pool.query<{ kind: string; n: string }>(
          `SELECT kind, count(*) AS n FROM runbook_notices WHERE workflow_id = $1 AND kind LIKE 'needs_human%' GROUP BY kind ORDER BY kind`,
          [handle.workflowId],
        );
        assert.deepEqual(
          rows.map((row) => [row.kind, Number(row.n)]),
          [
            ['needs_human', 1],
            ['needs_human_resolved', 1],
          ],
        );
      },
      undefined,
      { activity: [injector.factory, slowPolicy.factory] },
    );
  });
  test('a retry sent after the old run let the freeze wait go, before it handed over, goes along and is acted on by the new run', async () => {
    const injector = new FaultInjector();
    const slowNotices = delayedNotices();
    await world.withWorker(
      async (taskQueue) => {
        injector.arm('setChangeFreeze', 'non_retryable', 'incident');
        const input = world.declaration({ severity: 'P1' });
        const { handle: guarded } = await world.declare(taskQueue, input, atStep('needs_human'));
        const handle: typeof guarded = suite.env.client.workflow.getHandle(guarded.workflowId);
        await waitForStatus<IncidentStatus>(
          handle,
          (s) => s.needsHuman?.pages === 1 && s.notices.every((n) => n.state !== 'sending'),
          'the freeze paged',
        );
        // The history passes its budget: the wait is let go (its page is out) and the run holds
        // messages while its notices, now 5 s each, settle.
        slowNotices.ms = 5_000;
        const taken = await updatesUntilNotTaken(handle, 'progress', 400);
        const holding = (await handle.describe()).runId;
        injector.clear();
        const answer = await decide(handle, stepDecisionUpdate, {
          by: '@sre-lead',
          decision: 'retry',
          reason: 'DB back',
        });
        assert.equal(answer.accepted, true, JSON.stringify(answer));
        slowNotices.ms = 0;
        const frozen = await waitForStatus<IncidentStatus>(
          handle,
          (s) => s.detail.freeze?.state === 'frozen' && s.step === 'responding',
          'the freeze written on the retry',
          60_000,
        );
        assert.equal(frozen.needsHuman, undefined);
        const result = await closeOut(handle);
        assert.equal(result.outcome, 'resolved_and_reviewed', result.message);
        assert.deepEqual(result.refusedAttempts, []);
        assert.equal(result.detail.updates.count, taken.length);
        assert.equal(result.detail.freeze?.state, 'lifted');
        // The decision came to the run that had let the wait go, and it handed over with it: the
        // freeze was written by a later run.
        const runs = await runHistories(guarded);
        const runIds = [
          ...runs
            .slice(1)
            .map((events) => events[0]!.workflowExecutionStartedEventAttributes!.continuedExecutionRunId!),
          (await handle.describe()).runId,
        ];
        const decidedIn = runIds.indexOf(holding);
        assert.ok(
          decidedIn >= 0 && decidedIn < runs.length - 1,
          `the holding run is run ${decidedIn + 1} of ${runs.length}`,
        );
        const events = runs[decidedIn]!;
        assert.ok(
          events.some(
            (event) =>
              event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ===
              stepDecisionUpdate.name,
          ),
          'the decision accepted by the run that held',
        );
        assert.ok(events.at(-1)!.workflowExecutionContinuedAsNewEventAttributes, 'and it handed over');
        const freezesScheduled = runs.map(
          (run) =>
            run.filter(
              (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'setChangeFreeze',
            ).length,
        );
        assert.equal(
          freezesScheduled.slice(decidedIn + 1).reduce((sum, n) => sum + n, 0),
          1,
          `the retry, once, after the hand-over (setChangeFreeze scheduled per run: ${freezesScheduled.join(', ')})`,
        );
      },
      undefined,
      { activity: [injector.factory, slowNotices.factory] },
    );
  });
  describe('with the status page down', () => {
    let statusPage: Awaited<ReturnType<typeof statusPageSink>>;
    before(async () => {
      statusPage = await statusPageSink();
    });
    after(() => statusPage.stop());

    test('its wait goes to the new run with the updates behind it, the latest only: the page is created once, given the latest update, resolved', async () => {
      const injector = new FaultInjector();
      await world.withWorker(
        async (taskQueue) => {
          injector.arm('updateStatusPage', 'non_retryable', 'incident');
          const input = world.declaration({ severity: 'P2', customersAffected: true });
          const { handle: guarded } = await world.declare(taskQueue, input, atStep('needs_human'));
          const handle: typeof guarded = suite.env.client.workflow.getHandle(guarded.workflowId);
          const updates = 600;
          await postUpdatesInBursts(handle, updates, 'progress');
          const waiting = (await handle.query(statusQuery)) as IncidentStatus;
          assert.equal(waiting.needsHuman?.step, 'status_page');
          assert.ok((waiting.detail.continuedAsNew?.runs ?? 1) >= 2, 'handed over while the page waits');
          assert.ok(
            waiting.flags.some((flag) => flag.code === 'status_page_updates_left_out'),
            JSON.stringify(waiting.flags),
          );
          assert.equal(statusPage.incidents.size, 0);
          injector.clear();
          await handle.signal(stepDecisionSignal, {
            by: '@sre-lead',
            decision: 'retry',
            reason: 'page back',
          });
          await waitForStatus<IncidentStatus>(
            handle,
            (s) =>
              s.step === 'responding' && s.flags.every((flag) => flag.code !== 'status_page_not_updated'),
            'the status page created on retry',
          );
          const result = await closeOut(handle);
          assert.equal(result.outcome, 'resolved_and_reviewed', result.message);
          const pages = [...statusPage.incidents.values()];
          assert.equal(pages.length, 1);
          assert.equal(pages[0]!.status, 'resolved');
          // Created once; of the updates queued behind the wait, each hand-over carried the latest
          // only, and once the page was back only the latest of all went out (0.29.0); then the
          // resolution.
          const posted = statusPage.requests
            .filter((request) => request.method === 'PATCH')
            .map((request) => (request.json as { incident: { body: string } }).incident.body)
            .filter((body) => body.startsWith('progress '));
          // The last one the incident took in (a burst's signals arrive in any order).
          const lastTaken = [...waiting.events].reverse().find((event) => event.kind === 'update')!.message;
          assert.deepEqual(posted, [lastTaken]);
          assert.equal(pages[0]!.updates, 3, 'created, the latest update, resolved');
          // Every other update counted, in one flag, across the runs.
          assert.equal(result.detail.statusPageUpdatesLeftOut, updates - 1);
          assert.equal(result.flags.filter((flag) => flag.code === 'status_page_updates_left_out').length, 1);
          assert.deepEqual(result.refusedAttempts, []);
          const runs = await runHistories(guarded);
          assert.ok(runs.every((events) => events.length < HISTORY_LIMIT));
        },
        withStatusPage(statusPage.url),
        { activity: [injector.factory] },
        { STATUSPAGE_API_KEY },
      );
    });
  });
});
