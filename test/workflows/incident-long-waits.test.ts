import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatDuration } from '../../src/common/duration';
import { acknowledgeMessage, type IncidentStatus } from '../../src/workflows/incident/definitions';
import { historyEvents, recordHistory, repeatedNotices, REPEATS_SLOWED } from '../fixtures/history';
import { assertInstants, closeOut, incidentWorld, SLACK_MS } from '../fixtures/incident';
import { closeRun } from '../fixtures/temporal';
import { workflowSuite } from '../fixtures/suite';
import { waitForStatus } from '../fixtures/wait';

/**
 * Incidents nobody answers for days (seed 004's cadences on the time-skipping server): what they
 * repeat slows to daily once the wait has lasted a day and the run's history is over its budget
 * (src/workflows/shared/history-budget.ts). A server of their own: the days they skip would fire
 * the timers of runs other tests leave behind, on task queues no worker serves any more, and hold
 * the test server's clock.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const suite = workflowSuite({
  server: 'time-skipping',
  clockStart: '2026-12-04T09:00:00Z',
  queuePrefix: 'tq-incident-long',
});
const {
  declaration,
  declare,
  withWorker: withIncidentWorker,
} = incidentWorld(suite, 'runbooks-incident-long');

describe('incident (seed 004): waits nobody answers for days', () => {
  test('a P1 nobody updates for 10 days: an escalation every 30 min, then daily once a day has passed and the history is over its budget', async () => {
    await withIncidentWorker(async (taskQueue) => {
      const { handle, startedMs } = await declare(taskQueue, declaration());
      try {
        for (let day = 0; day < 10; day++) await suite.env.sleep(24 * HOUR);
        const { notices: missed, slowedAt } = repeatedNotices(await historyEvents(handle), [
          'incident_update_missed',
        ]);
        assert.ok(slowedAt >= 48, `slowed after a day of escalations every 30 min (${missed.length} sent)`);
        // Due 30 min after the declaration, then every 30 min; a day after the one that slowed.
        const expected = missed.map((_, i) => startedMs + 30 * MINUTE * Math.min(i + 1, slowedAt + 1));
        for (let i = slowedAt + 1; i < missed.length; i++)
          expected[i] = expected[slowedAt]! + 24 * HOUR * (i - slowedAt);
        assertInstants(
          missed.map((notice) => notice.decidedAtMs),
          expected,
          'missed updates',
        );
        assert.ok(missed.length > slowedAt + 1, 'a daily escalation after the slowdown');
        for (const notice of missed.slice(slowedAt)) assert.match(notice.body, REPEATS_SLOWED);
        // It says how long nobody has posted, not the cadence it no longer keeps.
        const last = missed.at(-1)!;
        assert.ok(
          last.body.includes(`posted no update for ${formatDuration(last.decidedAtMs - startedMs)} (P1`),
          last.body,
        );
        assert.match(missed[0]!.body, /posted no update for 30m \(P1: one every 30m\)/);
        const status = await waitForStatus<IncidentStatus>(
          handle,
          (s) => s.historyBudget !== undefined,
          'the budget in the status',
        );
        // The next update is due a day after the instant the last escalation fired for.
        const due = Date.parse(status.deadlines.find((deadline) => deadline.name === 'next_update')!.dueAt);
        const afterLast = due - missed.at(-1)!.decidedAtMs;
        assert.ok(
          afterLast <= 24 * HOUR && afterLast >= 24 * HOUR - SLACK_MS,
          `next update due ${afterLast} ms after`,
        );
        const result = await closeOut(handle);
        assert.match(result.outcome, /^resolved/);
      } finally {
        await closeRun(handle, 'test over');
      }
    });
  });

  test('a P0 nobody acknowledges for 3 days: the IC paged every 5 min for a day, then daily once the history is over its budget', async () => {
    await withIncidentWorker(async (taskQueue) => {
      const { handle, startedMs } = await declare(taskQueue, declaration({ severity: 'P0' }));
      try {
        for (let day = 0; day < 3; day++) await suite.env.sleep(24 * HOUR);
        const { notices: pages, slowedAt } = repeatedNotices(await historyEvents(handle), [
          'incident_commander_page',
        ]);
        assert.ok(slowedAt >= 288, `slowed after a day of pages every 5 min (${pages.length} sent)`);
        // On the declaration's rhythm (the first once the policy is read), then a day after the one that slowed.
        const expected = pages.map((_, i) => startedMs + 5 * MINUTE * Math.min(i, slowedAt));
        for (let i = slowedAt + 1; i < pages.length; i++)
          expected[i] = pages[slowedAt]!.decidedAtMs + 24 * HOUR * (i - slowedAt);
        assertInstants(
          pages.map((notice) => notice.decidedAtMs),
          expected,
          'IC pages',
          15_000,
        );
        assert.ok(pages.length > slowedAt + 1, 'a daily page after the slowdown');
        const status = await waitForStatus<IncidentStatus>(
          handle,
          (s) => s.detail.commander.nextPageAt !== undefined && s.historyBudget !== undefined,
          'the next page in the status',
        );
        assert.equal(Date.parse(status.detail.commander.nextPageAt!), pages.at(-1)!.decidedAtMs + 24 * HOUR);
        // The state such a run is in at a deploy: asleep until its next daily page.
        await recordHistory(handle, 'incident-p0-commander-pages-slowed');
        await handle.signal(acknowledgeMessage.signal, { by: '@dococeven' });
        assert.match((await closeOut(handle)).outcome, /^resolved/);
      } finally {
        await closeRun(handle, 'test over');
      }
    });
  });
});
