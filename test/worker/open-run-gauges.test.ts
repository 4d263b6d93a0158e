import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { MetricMeter } from '@temporalio/common';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { DRILL_SCHEDULE_IDS, OpenRunGauges } from '../../src/worker/metrics';
import { ensureDrillSchedule, ensureRollbackDrillSchedule } from '../../src/cli/schedule';
import { startDev, uniqueId, type DevServerHarness } from '../fixtures/temporal';
import { testDataConverter } from '../fixtures/payload-keys';
import { readUntil } from '../fixtures/wait';
import { moveToSignal, stepHolder } from '../fixtures/step-holder/workflows';
import { quietLogger } from '../fixtures/logger';

/**
 * The open-run gauges on the dev server's visibility: every open run counted by step on a full
 * listing, runs waiting for a human read at every sweep (their gauges never stale), the others
 * from the last full listing in between; a store that refuses the human-wait filter gets full
 * listings. Runs are step holders (test/fixtures/step-holder) on a real worker.
 */

let dev: DevServerHarness;
let worker: Worker;
let running: Promise<void>;
const taskQueue = uniqueId('gauges');

before(async () => {
  dev = await startDev();
  worker = await Worker.create({
    connection: dev.env.nativeConnection,
    namespace: 'default',
    taskQueue,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: require.resolve('../fixtures/step-holder/workflows'),
      logger: quietLogger,
    }),
    dataConverter: testDataConverter(),
  });
  running = worker.run();
});

after(async () => {
  worker?.shutdown();
  await running;
  await dev?.teardown();
});

/** The gauges' last values, by metric name and labels. */
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
  } as unknown as MetricMeter;
  return { meter, value: (name, labels) => values.get(keyOf(name, labels)) };
}

async function hold(runbook: string, step: string, stepStartedAt = new Date().toISOString()) {
  return dev.env.client.workflow.start(stepHolder, {
    taskQueue,
    workflowId: uniqueId(`holder-${step}`),
    args: [{ runbook, step, stepStartedAt }],
  });
}

async function untilVisible(query: string, count: number): Promise<void> {
  await readUntil(
    async () => (await dev.env.client.workflow.count(`TaskQueue = '${taskQueue}' AND ${query}`)).count,
    (seen) => seen === count,
    `${count} runs with ${query} in visibility`,
  );
}

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
    const gauges = new OpenRunGauges(dev.env.client, taskQueue, meter, quietLogger, 3);

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
    const gauges = new OpenRunGauges(client, taskQueue, meter, quietLogger, 2);
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
    const refusing = new Proxy(client, {
      get(target, key: keyof Client) {
        if (key !== 'workflowService') return Reflect.get(target, key) as unknown;
        const service = target.workflowService;
        return new Proxy(service, {
          get(svc, method: keyof typeof service) {
            if (method !== 'listWorkflowExecutions') return Reflect.get(svc, method) as unknown;
            return (request: { query?: string | null }) =>
              request.query?.includes('STARTS_WITH')
                ? Promise.reject(
                    Object.assign(new Error('3 INVALID_ARGUMENT: operator STARTS_WITH not supported'), {
                      code: 3,
                    }),
                  )
                : svc.listWorkflowExecutions(request);
          },
        });
      },
    });
    const warnings: string[] = [];
    const logger = { ...quietLogger, warn: (message: string) => warnings.push(message) };
    const { meter, value } = recordingMeter();
    const gauges = new OpenRunGauges(refusing, taskQueue, meter, logger, 3);
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
});
