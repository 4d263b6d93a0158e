import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  DRILL_INTERVAL_MS,
  ensureDrillSchedule,
  ensureRollbackDrillSchedule,
  ROLLBACK_DRILL_INPUT,
  ROLLBACK_DRILL_INTERVAL_MS,
} from '../../src/cli/schedule';
import {
  ROLLBACK_DRILL_SCHEDULE_ID,
  rollbackToPilotInputSchema,
} from '../../src/workflows/rollback-to-pilot/definitions';
import { scratchDir } from '../../src/local/servers';
import { createRunbookWorker } from '../../src/worker/worker';
import { breakGlassDrill } from '../../src/workflows';
import {
  approveSignal,
  BREAK_GLASS_DRILL_SCHEDULE_ID,
  type BreakGlassDrillStatus,
} from '../../src/workflows/break-glass-drill/definitions';
import { createTestDatabase, type TestDatabase } from '../fixtures/database';
import { recordHistory } from '../fixtures/history';
import { activityDeps, writeTestPolicy } from '../fixtures/policy';
import { workflowSuite } from '../fixtures/suite';
import { uniqueId } from '../fixtures/temporal';
import { atStep, waitForStatus } from '../fixtures/wait';
import { testDataConverter } from '../fixtures/payload-keys';

/**
 * The drill end to end on the dev server against a staging database, with the short test policy
 * (3 s pause): the real gate is approved by the drill approver, the log file is written; and the
 * 30-day Schedule is created idempotently and can be triggered.
 */

const tmp = scratchDir('runbooks-drill');
// The suite's database is the target; the drill works on a second one, the staging copy.
const suite = workflowSuite({ server: 'dev', resetDatabase: false });
let staging: TestDatabase;

before(async () => {
  staging = await createTestDatabase();
});

after(async () => {
  await staging?.drop();
});

describe('breakGlassDrill and its Schedule (dev server)', () => {
  test('runs Procedure A on the staging sentinel through the gate, measures the SLO, writes YYYY-MM-DD-drill.md', async () => {
    const policy = writeTestPolicy(tmp, () => undefined, 'short');
    const taskQueue = uniqueId('runbooks-drill');
    const worker = await createRunbookWorker({
      dataConverter: testDataConverter(),
      connection: suite.env.nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: suite.bundle,
      deps: activityDeps(policy, suite.db.pool, {}, { stagingDb: staging.pool }),
    });
    await worker.runUntil(async () => {
      const handle = await suite.env.client.workflow.start(breakGlassDrill, {
        taskQueue,
        workflowId: uniqueId('break-glass-drill'),
        args: [{ requestedBy: '@break-glass-drill' }],
      });
      const gate = await waitForStatus<BreakGlassDrillStatus>(
        handle,
        atStep('awaiting_approval'),
        'the drill gate',
      );
      assert.equal(gate.detail.plan?.database, 'staging');
      assert.equal(gate.detail.plan?.liveRowId, 999);
      assert.equal(gate.detail.target?.id, 3, 'three versions back from 6');
      await handle.signal(approveSignal, { approver: '@oncall-lead', planHash: gate.detail.plan.planHash });
      const result = await handle.result();

      assert.equal(result.outcome, 'drill_within_slo');
      assert.ok(result.slo!.elapsedMs >= 3_000, 'the real pause was taken');
      assert.ok(result.slo!.elapsedMs < 10 * 60_000);
      const sentinel = await staging.pool.query<{ version: string; updated_by: string }>(
        'SELECT version, updated_by FROM ftf_config WHERE id = 999',
      );
      assert.equal(sentinel.rows[0]!.version, `2026.07.21-1_restored_${result.drillIncidentId}`);
      const production = await suite.db.pool.query('SELECT 1 FROM ftf_config WHERE id = 999');
      assert.equal(production.rowCount, 0, 'production is untouched');
      const liveProduction = await suite.db.pool.query<{ version: string }>(
        'SELECT version FROM ftf_config WHERE id = 1',
      );
      assert.equal(liveProduction.rows[0]!.version, '2026.11.23-1');

      // The drill log: scenario, per-step wall clock, surprises.
      const date = new Date().toISOString().slice(0, 10);
      assert.equal(result.logPath, path.join(policy.drillLogDirectory, `${date}-drill.md`));
      const log = readFileSync(result.logPath, 'utf8');
      assert.match(log, new RegExp(`^# Break-glass drill — ${date}`));
      assert.match(
        log,
        /\*\*Scenario\*\* : Procedure A — restore from a 3-version-back snapshot against the staging copy \(sentinel ftf_config id=999\)/,
      );
      assert.match(
        log,
        /\*\*Outcome\*\* : drill_within_slo — detected → restore verified in \d+s \(SLO < 10m\)/,
      );
      for (const step of [
        'prepare_staging',
        'inspect_and_plan',
        'awaiting_approval',
        'pause_and_think',
        'execute',
        'verify',
      ]) {
        assert.match(
          log,
          new RegExp(`\\| ${step} \\| \\d{4}-\\d\\d-\\d\\dT[^|]+\\| \\d{4}-[^|]+\\| [^|]+ \\|`),
          `row for ${step}`,
        );
      }
      assert.match(log, /## Surprises\n\n- the sentinel row id=999 did not exist on staging and was created/);
      assert.equal(result.logMarkdown.trim(), log.replace(/\n\n<!-- drill run: .* -->\n$/, '').trim());
      assert.deepEqual(readdirSync(policy.drillLogDirectory), [`${date}-drill.md`]);
      await recordHistory(handle, 'break-glass-drill');
    });
  });

  test('the Schedule is created once (idempotent), runs every 30 days, and can be triggered', async () => {
    const client = suite.env.client;
    const taskQueue = uniqueId('runbooks-schedule');
    assert.equal(await ensureDrillSchedule(client, taskQueue), 'created');
    assert.equal(await ensureDrillSchedule(client, taskQueue), 'unchanged');
    const handle = client.schedule.getHandle(BREAK_GLASS_DRILL_SCHEDULE_ID);
    const described = await handle.describe();
    assert.equal(described.spec.intervals?.[0]?.every, DRILL_INTERVAL_MS);
    assert.equal(described.action.workflowType, 'breakGlassDrill');
    assert.equal(described.action.taskQueue, taskQueue);
    assert.equal(await ensureDrillSchedule(client, `${taskQueue}-moved`), 'updated');
    assert.equal((await handle.describe()).action.taskQueue, `${taskQueue}-moved`);

    await handle.trigger();
    let started: string[] = [];
    for (let attempt = 0; attempt < 50 && started.length === 0; attempt += 1) {
      started = [];
      for await (const execution of client.workflow.list({
        query: `WorkflowType = 'breakGlassDrill' AND TaskQueue = '${taskQueue}-moved'`,
      })) {
        started.push(execution.workflowId);
      }
      if (started.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(started.length, 1);
    assert.match(started[0]!, /^break-glass-drill-/);
    await client.workflow.getHandle(started[0]!).terminate('test over');
    await handle.delete();
  });

  test('the rollback drill Schedule (seed 002): created once, every 13 weeks, its action a dry-run drill of rollbackToPilot', async () => {
    const client = suite.env.client;
    const taskQueue = uniqueId('runbooks-rollback-drill');
    assert.equal(await ensureRollbackDrillSchedule(client, taskQueue), 'created');
    assert.equal(await ensureRollbackDrillSchedule(client, taskQueue), 'unchanged');
    const handle = client.schedule.getHandle(ROLLBACK_DRILL_SCHEDULE_ID);
    const described = await handle.describe();
    assert.equal(described.spec.intervals?.[0]?.every, ROLLBACK_DRILL_INTERVAL_MS);
    assert.equal(described.action.workflowType, 'rollbackToPilot');
    assert.deepEqual(described.action.args, [ROLLBACK_DRILL_INPUT]);
    const input = rollbackToPilotInputSchema.parse(described.action.args?.[0]);
    assert.deepEqual([input.dryRun, input.drill], [true, true]);
    await handle.delete();
  });
});
