import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { MetricMeter } from '@temporalio/common';
import { bundleWorkflowCode, Worker, type WorkflowBundle } from '@temporalio/worker';
import { DRILL_SCHEDULE_IDS, OpenRunGauges } from '../../src/worker/metrics';
import { ensureDrillSchedule, ensureRollbackDrillSchedule } from '../../src/cli/schedule';
import { startDev, uniqueId, type DevServerHarness } from '../fixtures/temporal';
import { testDataConverter } from '../fixtures/payload-keys';
import { readUntil } from '../fixtures/wait';
import { moveToSignal, setDeadlineSignal, stepHolder } from '../fixtures/step-holder/workflows';
import { quietLogger } from '../fixtures/logger';

/**
 * The open-run gauges on the dev server's visibility: every open run counted by step on a full
 * listing, runs waiting for a human read at every sweep (their gauges never stale), the others
 * from the last full listing in between; a store that refuses the human-wait filter gets full
 * listings. Runs are step holders (test/fixtures/step-holder) on a real worker.
 */

let dev: DevServerHarness;
let bundle: WorkflowBundle;
const taskQueue = uniqueId('gauges');
const workers: { worker: Worker; running: Promise<void> }[] = [];

/** A worker of step holders on `queue`; shut down by `after` if the test has not. */
async function holderWorker(queue: string): Promise<{ worker: Worker; running: Promise<void> }> {
  const worker = await Worker.create({
    connection: dev.env.nativeConnection,
    namespace: 'default',
    taskQueue: queue,
    workflowBundle: bundle,
    dataConverter: testDataConverter(),
  });
  const entry = { worker, running: worker.run() };
  workers.push(entry);
  return entry;
}

before(async () => {
  dev = await startDev();
  bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../fixtures/step-holder/workflows'),
    logger: quietLogger,
  });
  await holderWorker(taskQueue);
});

after(async () => {
  for (const { worker } of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
  await Promise.all(workers.map(({ running }) => running));
  await dev?.teardown();
});

/** The gauges' last values and the counters' sums, by metric name and labels. */
function recordingMeter(): {
  meter: MetricMeter;
  value: (name: string, labels?: Record<string, string>) => number | undefined;
} {
  const values = new Map<string, number>();
  const keyOf = (name: string, labels: Record<string, string> = {}): string =>
    `${name}${JSON.stringify(Object.entries(labels).sort())}`;
  const meter = {
    createGauge: (name: string) => ({
      set: (value: number, labels?: Record<string, string>) => values.set(keyOf(name, labels), value),
    }),
    createCounter: (name: string) => ({
      add: (value: number, labels?: Record<string, string>) =>
        values.set(keyOf(name, labels), (values.get(keyOf(name, labels)) ?? 0) + value),
    }),
  } as unknown as MetricMeter;
  return { meter, value: (name, labels) => values.get(keyOf(name, labels)) };
}

async function hold(
  runbook: string,
  step: string,
  stepStartedAt = new Date().toISOString(),
  queue = taskQueue,
  deadlines?: { name: string; dueAt: string }[],
  waitingSince?: string,
) {
  return dev.env.client.workflow.start(stepHolder, {
    taskQueue: queue,
    workflowId: uniqueId(`holder-${step}`),
    args: [
      {
        runbook,
        step,
        stepStartedAt,
        ...(deadlines ? { deadlines } : {}),
        ...(waitingSince ? { waitingSince } : {}),
      },
    ],
  });
}

async function untilVisible(query: string, count: number, queue = taskQueue): Promise<void> {
  await readUntil(
    async () => (await dev.env.client.workflow.count(`TaskQueue = '${queue}' AND ${query}`)).count,
    (seen) => seen === count,
    `${count} runs with ${query} in visibility`,
  );
}

type ListRequest = Parameters<Client['workflowService']['listWorkflowExecutions']>[0];

/**
 * `client` whose visibility listing does what `listing(request)` says: pass it on, fail with an
 * error, or wait for a promise and then pass it on.
 */
function visibilityControlled(
  client: Client,
  listing: (request: ListRequest) => 'pass' | Error | Promise<void>,
  calls: { count: number } = { count: 0 },
): Client {
  return new Proxy(client, {
    get(target, key: keyof Client) {
      if (key !== 'workflowService') return Reflect.get(target, key) as unknown;
      const service = target.workflowService;
      return new Proxy(service, {
        get(svc, method: keyof typeof service) {
          if (method !== 'listWorkflowExecutions') return Reflect.get(svc, method) as unknown;
          return async (request: ListRequest) => {
            calls.count++;
            const mode = listing(request);
            if (mode instanceof Error) throw mode;
            if (mode !== 'pass') await mode;
            return svc.listWorkflowExecutions(request);
          };
        },
      });
    },
  });
}

/** A gRPC error as the client raises it. */
const grpcError = (code: number, message: string): Error => Object.assign(new Error(message), { code });

const SLEEPING = { runbook: 'backstopProgram', step: 'waiting_T+30' };
const AT_GATE = { runbook: 'breakGlassRestore', step: 'awaiting_approval' };
const STUCK = { runbook: 'rollbackToPilot', step: 'needs_human' };
const DECIDING = { runbook: 'backstopProgram', step: 'awaiting_decision' };

describe('open-run gauges', () => {
  test('human waits are read at every sweep, other steps on every full listing', async () => {
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    await Promise.all([
      ...[1, 2, 3].map(() => hold(SLEEPING.runbook, SLEEPING.step)),
      hold(AT_GATE.runbook, AT_GATE.step, hourAgo),
    ]);
    const stuck = await hold(STUCK.runbook, STUCK.step);
    await untilVisible(`ExecutionStatus = 'Running' AND RunbookStep IS NOT NULL`, 5);
    const { meter, value } = recordingMeter();
    const gauges = new OpenRunGauges(dev.env.client, taskQueue, meter, quietLogger, { fullSweepEvery: 3 });

    const before = Date.now();
    await gauges.sweep(); // sweep 0: a full listing
    assert.equal(value('runbooks_open_runs', SLEEPING), 3);
    assert.equal(value('runbooks_open_runs', AT_GATE), 1);
    assert.equal(value('runbooks_runs_needing_human', { runbook: STUCK.runbook }), 1);
    const waited = value('runbooks_oldest_human_wait_seconds', { runbook: AT_GATE.runbook })!;
    // From the step's own start (the status query), not from when the sweep first saw it.
    assert.ok(waited >= 3_600 && waited <= 3_600 + (Date.now() - before) / 1000 + 1, `waited ${waited} s`);

    await Promise.all([hold(SLEEPING.runbook, SLEEPING.step), hold(SLEEPING.runbook, SLEEPING.step)]);
    await hold(DECIDING.runbook, DECIDING.step);
    await stuck.signal(moveToSignal, 'executing');
    await untilVisible(`RunbookStep = '${SLEEPING.step}'`, 5);
    await untilVisible(`RunbookStep = 'executing'`, 1);

    await gauges.sweep(); // sweep 1: only the runs waiting for a human
    assert.equal(value('runbooks_open_runs', SLEEPING), 3, 'the last full listing’s count, not listed again');
    assert.equal(value('runbooks_open_runs', DECIDING), 1);
    assert.equal(value('runbooks_backstop_decisions_pending'), 1);
    assert.equal(
      value('runbooks_open_runs', STUCK),
      0,
      'a run that left needs_human leaves its gauge at once',
    );
    assert.equal(value('runbooks_runs_needing_human', { runbook: STUCK.runbook }), 0);
    assert.equal(value('runbooks_open_runs', AT_GATE), 1);

    await gauges.sweep(); // sweep 2: human waits again
    await gauges.sweep(); // sweep 3: a full listing
    assert.equal(value('runbooks_open_runs', SLEEPING), 5);
    assert.equal(value('runbooks_open_runs', { runbook: STUCK.runbook, step: 'executing' }), 1);
    assert.equal(value('runbooks_open_runs', DECIDING), 1);
  });

  test('drill Schedules: active, paused, with no next run or missing, read with every full listing', async () => {
    const client = dev.env.client;
    const { meter, value } = recordingMeter();
    const gauges = new OpenRunGauges(client, taskQueue, meter, quietLogger, { fullSweepEvery: 2 });
    const active = (schedule: string): number | undefined =>
      value('runbooks_drill_schedule_active', { schedule });
    const [breakGlass, rollback] = DRILL_SCHEDULE_IDS;

    await gauges.sweep(); // full: neither Schedule exists yet
    assert.equal(active(breakGlass), 0);
    assert.equal(active(rollback), 0);

    assert.equal(await ensureDrillSchedule(client, taskQueue), 'created');
    assert.equal(await ensureRollbackDrillSchedule(client, taskQueue), 'created');
    await gauges.sweep(); // human waits only: the Schedules are not read
    assert.equal(active(breakGlass), 0);
    await gauges.sweep(); // full
    assert.equal(active(breakGlass), 1);
    assert.equal(active(rollback), 1);

    // Paused for a freeze week and left so: the drill will not run.
    await client.schedule.getHandle(breakGlass).pause('freeze week');
    // A Schedule whose remaining actions are spent has no next run.
    await client.schedule.getHandle(rollback).update((previous) => ({
      ...previous,
      state: { ...previous.state, remainingActions: 0 },
    }));
    await gauges.sweep();
    await gauges.sweep(); // full
    assert.equal(active(breakGlass), 0, 'paused');
    assert.equal(active(rollback), 0, 'no next run');

    await client.schedule.getHandle(breakGlass).unpause('freeze over');
    await client.schedule.getHandle(rollback).delete();
    await gauges.sweep();
    await gauges.sweep(); // full
    assert.equal(active(breakGlass), 1, 'unpaused');
    assert.equal(active(rollback), 0, 'deleted');
    await client.schedule.getHandle(breakGlass).delete();
  });

  test('a visibility store that refuses the human-wait filter gets full listings, said once', async () => {
    const client = dev.env.client;
    const refusing = visibilityControlled(client, (request) =>
      request.query?.includes('STARTS_WITH')
        ? grpcError(3, '3 INVALID_ARGUMENT: operator STARTS_WITH not supported')
        : 'pass',
    );
    const warnings: string[] = [];
    const logger = { ...quietLogger, warn: (message: string) => warnings.push(message) };
    const { meter, value } = recordingMeter();
    const gauges = new OpenRunGauges(refusing, taskQueue, meter, logger, { fullSweepEvery: 3 });
    await gauges.sweep(); // full
    const sleeping = value('runbooks_open_runs', SLEEPING)!;
    assert.ok(sleeping >= 5, `${sleeping} sleeping`);
    await hold(SLEEPING.runbook, SLEEPING.step);
    await untilVisible(`RunbookStep = '${SLEEPING.step}'`, sleeping + 1);
    await gauges.sweep(); // would list only human waits: refused, so a full listing
    assert.equal(value('runbooks_open_runs', SLEEPING), sleeping + 1);
    await gauges.sweep();
    assert.equal(warnings.filter((message) => /refused the human-wait filter/.test(message)).length, 1);
  });
  test('a failed visibility read keeps the gauges, is counted, and stops the last-read time (sweeps never overlap)', async () => {
    const queue = uniqueId('gauges-failing');
    await holderWorker(queue);
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    await hold(AT_GATE.runbook, AT_GATE.step, hourAgo, queue);
    await untilVisible(`RunbookStep = '${AT_GATE.step}'`, 1, queue);
    let listing: 'pass' | Error | Promise<void> = 'pass';
    const calls = { count: 0 };
    const warnings: string[] = [];
    const logger = { ...quietLogger, warn: (message: string) => warnings.push(message) };
    const { meter, value } = recordingMeter();
    const client = visibilityControlled(dev.env.client, () => listing, calls);
    const gauges = new OpenRunGauges(client, queue, meter, logger, { fullSweepEvery: 1 });
    const lastRead = (): number | undefined => value('runbooks_open_run_gauges_last_read_timestamp_seconds');
    const failures = (): number | undefined => value('runbooks_open_run_gauge_read_failures_total');

    const before = Date.now() / 1000;
    await gauges.refresh();
    const read = lastRead()!;
    assert.ok(read >= before && read <= Date.now() / 1000, `last read ${read}, swept from ${before}`);
    assert.equal(failures(), undefined);
    const waited = value('runbooks_oldest_human_wait_seconds', { runbook: AT_GATE.runbook })!;
    assert.ok(waited >= 3_600, `waited ${waited} s`);

    listing = grpcError(14, '14 UNAVAILABLE: visibility store unreachable');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await gauges.refresh(); // never rejects
    assert.equal(lastRead(), read, 'the last-read time stays at the last read that worked');
    assert.equal(failures(), 1);
    assert.equal(value('runbooks_oldest_human_wait_seconds', { runbook: AT_GATE.runbook }), waited, 'kept');
    assert.equal(value('runbooks_open_runs', AT_GATE), 1, 'kept');
    assert.ok(warnings.some((message) => /visibility read failed; keeping the last values/.test(message)));

    // A read that hangs: the next sweep does not start another beside it.
    let release!: () => void;
    listing = new Promise<void>((resolve) => (release = resolve));
    const callsBefore = calls.count;
    const slow = gauges.refresh();
    await readUntil(
      () => Promise.resolve(calls.count),
      (count) => count > callsBefore,
      'the hanging listing',
    );
    const second = await Promise.race([
      gauges.refresh().then(() => 'returned'),
      new Promise((resolve) => setTimeout(resolve, 2_000, 'waited on the hanging one')),
    ]);
    if (second !== 'returned') release();
    assert.equal(second, 'returned', 'a sweep while one runs returns at once');
    assert.equal(calls.count, callsBefore + 1, 'one listing while the first hangs');
    assert.ok(
      warnings.some((message) =>
        /last visibility read is still running; this sweep is skipped/.test(message),
      ),
    );
    listing = 'pass';
    release();
    await slow;
    assert.ok(lastRead()! > read, 'read again once visibility answers');
    assert.equal(failures(), 1);
  });

  test('a backstop decision’s wait is its own: a programme three days in needs_human does not make it three days', async () => {
    const queue = uniqueId('gauges-decision');
    await holderWorker(queue);
    const hoursAgo = (hours: number): string => new Date(Date.now() - hours * 3_600_000).toISOString();
    await hold('backstopProgram', 'needs_human', hoursAgo(72), queue);
    await hold(DECIDING.runbook, DECIDING.step, hoursAgo(1), queue);
    await untilVisible(`RunbookStep IS NOT NULL`, 2, queue);
    const { meter, value } = recordingMeter();
    const gauges = new OpenRunGauges(dev.env.client, queue, meter, quietLogger, { fullSweepEvery: 1 });
    const before = Date.now();
    await gauges.sweep();
    const slackS = (Date.now() - before) / 1000 + 1;
    const decision = value('runbooks_backstop_oldest_decision_wait_seconds')!;
    assert.ok(decision >= 3_600 && decision <= 3_600 + slackS, `the decision waited ${decision} s`);
    const oldest = value('runbooks_oldest_human_wait_seconds', { runbook: 'backstopProgram' })!;
    assert.ok(oldest >= 72 * 3_600, `the programme in needs_human waited ${oldest} s`);
    assert.equal(value('runbooks_backstop_decisions_pending'), 1);
  });

  test('a wait whose start a sweep could not read is read at a later sweep, not counted from its first sight for good', async () => {
    const queue = uniqueId('gauges-unread');
    const { worker, running } = await holderWorker(queue);
    const hoursAgo = (hours: number): string => new Date(Date.now() - hours * 3_600_000).toISOString();
    // Two runbooks, each with a run waiting for hours; one status query per sweep.
    const first = { runbook: 'phasedReenablement', step: 'awaiting_canary_approval' };
    const second = { runbook: 'incident', step: 'needs_human' };
    await hold(first.runbook, first.step, hoursAgo(3), queue);
    await hold(second.runbook, second.step, hoursAgo(5), queue);
    await untilVisible(`RunbookStep IS NOT NULL`, 2, queue);
    const { meter, value } = recordingMeter();
    const gauges = new OpenRunGauges(dev.env.client, queue, meter, quietLogger, {
      fullSweepEvery: 1,
      statusQueriesPerSweep: 1,
      statusQueryTimeoutMs: 1_000,
    });
    const waited = (runbook: string): number => value('runbooks_oldest_human_wait_seconds', { runbook })!;
    await gauges.refresh();
    await gauges.refresh();
    assert.ok(waited(first.runbook) >= 3 * 3_600, `${first.runbook} waited ${waited(first.runbook)} s`);
    assert.ok(waited(second.runbook) >= 5 * 3_600, `${second.runbook} waited ${waited(second.runbook)} s`);

    // A run whose worker is gone does not answer: the sweep waits the query's timeout, not longer,
    // counts the wait from its first sight meanwhile, and reads it once the worker is back.
    const third = { runbook: 'rollbackToPilot', step: 'awaiting_decision' };
    await hold(third.runbook, third.step, hoursAgo(2), queue);
    await untilVisible(`RunbookStep IS NOT NULL`, 3, queue);
    worker.shutdown();
    await running;
    const startedMs = Date.now();
    await gauges.refresh();
    const tookMs = Date.now() - startedMs;
    assert.ok(tookMs < 1_000 + 2_000, `the sweep took ${tookMs} ms with a query timeout of 1 s`);
    assert.ok(waited(third.runbook) < 60, `not read yet: ${waited(third.runbook)} s from its first sight`);
    assert.equal(
      value('runbooks_open_run_gauge_read_failures_total'),
      undefined,
      'the listing itself worked',
    );
    await holderWorker(queue);
    await gauges.refresh();
    assert.ok(waited(third.runbook) >= 2 * 3_600, `${third.runbook} waited ${waited(third.runbook)} s`);
  });

  test('a wait is overdue only past its own deadline: a post-mortem 5 h into its 24 h is on time, needs_human 5 h is not', async () => {
    const queue = uniqueId('gauges-overdue');
    await holderWorker(queue);
    const t0 = Date.now();
    const at = (hours: number): string => new Date(t0 + hours * 3_600_000).toISOString();
    const onTime = { runbook: 'breakGlassRestore', step: 'awaiting_post_mortem' };
    const missed = { runbook: 'rollbackToPilot', step: 'awaiting_rca' };
    const noDeadline = { runbook: 'incident', step: 'needs_human' };
    const postMortem = await hold(onTime.runbook, onTime.step, at(-5), queue, [
      { name: 'reconciliation', dueAt: at(-4) },
      { name: 'post_mortem', dueAt: at(19) },
    ]);
    await hold(missed.runbook, missed.step, at(-30), queue, [{ name: 'rca', dueAt: at(-6) }]);
    await hold(noDeadline.runbook, noDeadline.step, at(-5), queue);
    await hold(DECIDING.runbook, DECIDING.step, at(-50), queue);
    await untilVisible(`RunbookStep IS NOT NULL`, 4, queue);
    const { meter, value } = recordingMeter();
    const gauges = new OpenRunGauges(dev.env.client, queue, meter, quietLogger, { fullSweepEvery: 1 });
    const overdue = (runbook: string): number =>
      value('runbooks_oldest_overdue_human_wait_seconds', { runbook })!;
    const waited = (runbook: string): number => value('runbooks_oldest_human_wait_seconds', { runbook })!;
    const within = (seconds: number, expected: number, what: string): void =>
      assert.ok(
        seconds >= expected && seconds <= expected + (Date.now() - t0) / 1000 + 1,
        `${what}: ${seconds} s, expected ${expected} s`,
      );

    await gauges.sweep();
    within(waited(onTime.runbook), 5 * 3_600, 'the post-mortem has waited');
    assert.equal(overdue(onTime.runbook), 0, 'a post-mortem 5 h into its 24 h window is not overdue');
    within(overdue(missed.runbook), 6 * 3_600, 'the RCA, 6 h past its deadline');
    within(overdue(noDeadline.runbook), 5 * 3_600, 'needs_human, due from its start');
    assert.equal(
      overdue(DECIDING.runbook),
      undefined,
      'a T+90 decision has its own gauge and alert, not this one',
    );

    // Past the deadline the sweep read, the status is read again: the run moved it 10 h later.
    await postMortem.signal(setDeadlineSignal, { name: 'post_mortem', dueAt: at(29) });
    await gauges.sweep(t0 + 20 * 3_600_000);
    assert.equal(overdue(onTime.runbook), 0, 'the moved deadline is read once the first has passed');
    await gauges.sweep(t0 + 31 * 3_600_000);
    assert.equal(overdue(onTime.runbook), 2 * 3_600, '2 h past the moved deadline');
  });

  test('a wait the run came back to after needs_human counts from when it began: an overdue review stays overdue', async () => {
    const queue = uniqueId('gauges-came-back');
    await holderWorker(queue);
    const t0 = Date.now();
    const at = (hours: number): string => new Date(t0 + hours * 3_600_000).toISOString();
    // The review wait began 30 h ago and was due 6 h ago; a side effect failed an hour ago, a human
    // decided, and the run came back to the wait: its latest entry starts an hour ago.
    await hold(
      'incident',
      'awaiting_review',
      at(-1),
      queue,
      [{ name: 'post_incident_review', dueAt: at(-6) }],
      at(-30),
    );
    await untilVisible(`RunbookStep IS NOT NULL`, 1, queue);
    const { meter, value } = recordingMeter();
    const gauges = new OpenRunGauges(dev.env.client, queue, meter, quietLogger, { fullSweepEvery: 1 });
    await gauges.sweep();
    const slackS = (Date.now() - t0) / 1000 + 1;
    const waited = value('runbooks_oldest_human_wait_seconds', { runbook: 'incident' })!;
    const overdue = value('runbooks_oldest_overdue_human_wait_seconds', { runbook: 'incident' })!;
    // Before, the wait counted from the return: 1 h waited, 1 h overdue.
    assert.ok(waited >= 30 * 3_600 && waited <= 30 * 3_600 + slackS, `waited ${waited} s, expected 30 h`);
    assert.ok(overdue >= 6 * 3_600 && overdue <= 6 * 3_600 + slackS, `overdue ${overdue} s, expected 6 h`);
  });
});
