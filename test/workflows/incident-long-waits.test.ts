import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatDuration } from '../../src/common/duration';
import { acknowledgeMessage } from '../../src/workflows/incident/definitions';
import { HISTORY_BUDGET } from '../../src/workflows/shared/history-budget';
import { statusQuery } from '../../src/workflows/shared/messages';
import { repeatedNotices, runHistories, type HistoryEvent } from '../fixtures/history';
import { assertInstants, closeOut, incidentWorld } from '../fixtures/incident';
import { closeRun } from '../fixtures/temporal';
import { workflowSuite } from '../fixtures/suite';

/**
 * Incidents nobody answers for days (seed 004's cadences on the time-skipping server): what they
 * repeat keeps its cadence, the incident handing over to a new run once its history is over its
 * budget (since 0.27.0; before, it slowed to daily: src/workflows/shared/history-budget.ts). A server of their own: the days they skip would fire
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
  test('a P1 nobody updates for 10 days: an escalation every 30 min, the cadence kept across the runs it hands over to', async () => {
    await withIncidentWorker(async (taskQueue) => {
      const { handle, startedMs } = await declare(taskQueue, declaration());
      try {
        for (let day = 0; day < 10; day++) await suite.env.sleep(24 * HOUR);
        const runs = await runHistories(handle);
        const { notices: missed, slowedAt } = repeatedNotices(runs.flat(), ['incident_update_missed']);
        // Its history past the budget, the incident went on in a new run rather than slow down.
        assert.equal(slowedAt, -1, 'never slowed');
        assertHandedOver(runs);
        assert.ok(missed.length >= 10 * 48 - 1, `${missed.length} escalations in 10 days`);
        assertInstants(
          missed.map((notice) => notice.decidedAtMs),
          missed.map((_, i) => startedMs + 30 * MINUTE * (i + 1)),
          'missed updates',
        );
        // It says how long nobody has posted, across runs too.
        const last = missed.at(-1)!;
        assert.ok(
          last.body.includes(`posted no update for ${formatDuration(last.decidedAtMs - startedMs)} (P1`),
          last.body,
        );
        assert.match(missed[0]!.body, /posted no update for 30m \(P1: one every 30m\)/);
        const status = await handle.query(statusQuery);
        assert.equal(status.historyBudget, undefined);
        const due = Date.parse(status.deadlines.find((deadline) => deadline.name === 'next_update')!.dueAt);
        assert.equal(due, startedMs + 30 * MINUTE * (missed.length + 1));
        const result = await closeOut(handle);
        assert.match(result.outcome, /^resolved/);
        assert.equal(result.detail.continuedAsNew?.runs, runs.length);
      } finally {
        await closeRun(handle, 'test over');
      }
    });
  });

  test('a P0 nobody acknowledges for 3 days: the IC paged every 5 min, across the runs it hands over to', async () => {
    await withIncidentWorker(async (taskQueue) => {
      const { handle, startedMs } = await declare(taskQueue, declaration({ severity: 'P0' }));
      try {
        for (let day = 0; day < 3; day++) await suite.env.sleep(24 * HOUR);
        const runs = await runHistories(handle);
        const { notices: pages, slowedAt } = repeatedNotices(runs.flat(), ['incident_commander_page']);
        assert.equal(slowedAt, -1, 'never slowed');
        assertHandedOver(runs);
        assert.ok(pages.length >= 3 * 288, `${pages.length} pages in 3 days`);
        // On the declaration's rhythm (the first once the policy is read).
        assertInstants(
          pages.map((notice) => notice.decidedAtMs),
          pages.map((_, i) => startedMs + 5 * MINUTE * i),
          'IC pages',
          15_000,
        );
        await handle.signal(acknowledgeMessage.signal, { by: '@dococeven' });
        assert.match((await closeOut(handle)).outcome, /^resolved/);
      } finally {
        await closeRun(handle, 'test over');
      }
    });
  });
});

/** Every run but the last handed over (continue-as-new) a little past the history budget. */
function assertHandedOver(runs: HistoryEvent[][]): void {
  assert.ok(runs.length >= 2, `${runs.length} runs`);
  for (const [i, events] of runs.slice(0, -1).entries()) {
    assert.ok(events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes, `run ${i + 1} continued as new`);
    assert.ok(events.length < HISTORY_BUDGET.events + 500, `run ${i + 1}: ${events.length} events`);
  }
}
