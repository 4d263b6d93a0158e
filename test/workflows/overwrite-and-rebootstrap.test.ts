import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { scratchDir } from '../../src/local/servers';
import { canonicalBaseEnv } from '../../src/stack/demo-data';
import type { LoadedPolicy } from '../../src/worker/policy';
import { breakGlassOverwriteRecovery, breakGlassRebootstrap } from '../../src/workflows';
import {
  approveSignal,
  checkReconciliationSignal,
  postMortemFiledSignal,
  type BreakGlassRestoreStatus,
} from '../../src/workflows/break-glass-restore/definitions';
import type { BreakGlassOverwriteRecoveryStatus } from '../../src/workflows/break-glass-overwrite-recovery/definitions';
import type { BreakGlassRebootstrapStatus } from '../../src/workflows/break-glass-rebootstrap/definitions';
import {
  assertElapsed,
  completedActivities,
  historyEvents,
  noticeAt,
  noticesSent,
  recordHistory,
} from '../fixtures/history';
import { cancelRun } from '../fixtures/cancellation';
import { activityDeps, writeTestPolicy } from '../fixtures/policy';
import { workflowSuite } from '../fixtures/suite';
import { uniqueId } from '../fixtures/temporal';
import { acknowledgeConflict, atStep, waitForStatus } from '../fixtures/wait';

/** Procedures C and D on the time-skipping server with the shipped durations and real Postgres. */

const MINUTE = 60_000;
const SEEDING = 'ADR-90 seeding (CVN-N001-EE-S17 PR-1)';
const tmp = scratchDir('runbooks-c-d');
const suite = workflowSuite({ server: 'time-skipping', queuePrefix: 'tq-cd' });
let policy: LoadedPolicy;

before(() => {
  policy = writeTestPolicy(tmp, () => undefined);
});

function withWorker<T>(fn: (taskQueue: string) => Promise<T>): Promise<T> {
  return suite.withWorker(activityDeps(policy, suite.db.pool), fn);
}

const who = { requestedBy: '@alice', rationale: 'a --force-overwrite clobbered the operator-tuned values' };

/** Starts Procedure D and waits until its approval gate is open. */
async function rebootstrapAtTheGate(taskQueue: string) {
  const incidentId = uniqueId('INC');
  const handle = await suite.env.client.workflow.start(breakGlassRebootstrap, {
    taskQueue,
    workflowId: `break-glass-rebootstrap-${incidentId}`,
    args: [{ incidentId, ...who }],
  });
  const gate = await waitForStatus<BreakGlassRebootstrapStatus>(
    handle,
    atStep('awaiting_approval'),
    'the gate',
  );
  return { incidentId, handle, gate };
}

/** Starts Procedure C for a new incident. */
async function startRecovery(taskQueue: string) {
  const incidentId = uniqueId('INC');
  const handle = await suite.env.client.workflow.start(breakGlassOverwriteRecovery, {
    taskQueue,
    workflowId: `break-glass-overwrite-recovery-${incidentId}`,
    args: [{ incidentId, ...who }],
  });
  return { incidentId, handle };
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const rows = await suite.db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (${sql}) AS q`,
    params,
  );
  return rows.rows[0]!.n;
}

/** A `seed_hyperparams_console.py --apply --force-overwrite` accident after the demo history. */
async function forceOverwrite(): Promise<number> {
  const canonical = JSON.stringify(canonicalBaseEnv());
  await suite.db.pool.query(
    `UPDATE ftf_config SET base_env = $1::jsonb, version = 'seed-forced', updated_by = 'seed_hyperparams_console.py', updated_at = now() WHERE id = 1`,
    [canonical],
  );
  const row = await suite.db.pool.query<{ id: string }>(
    `INSERT INTO ftf_config_history (base_env, version, changed_by, change_reason, tags) VALUES ($1::jsonb, 'seed-forced', 'seed_hyperparams_console.py', $2, '["seed"]') RETURNING id`,
    [canonical, SEEDING],
  );
  return Number(row.rows[0]!.id);
}

describe('breakGlassOverwriteRecovery (Procedure C)', () => {
  test('finds the pre-clobber id, explains why, and restores it through Procedure A as a child', async () => {
    const clobberId = await forceOverwrite();
    await withWorker(async (taskQueue) => {
      const { incidentId, handle } = await startRecovery(taskQueue);
      const status = await waitForStatus<BreakGlassOverwriteRecoveryStatus>(
        handle,
        atStep('restore_via_procedure_a'),
        'the child start',
      );
      const preClobber = status.detail.preClobber!;
      assert.equal(preClobber.status, 'candidate');
      if (preClobber.status !== 'candidate') return;
      assert.equal(preClobber.clobber.id, clobberId);
      assert.equal(preClobber.candidate.id, 6, 'the newest non-seeding row before the clobber');
      assert.match(preClobber.explanation, new RegExp(`id=${clobberId}.*the pre-clobber snapshot`));

      // Procedure A runs as break-glass-restore-<incident>, with its own gate and obligations.
      const child = suite.env.client.workflow.getHandle(`break-glass-restore-${incidentId}`);
      const gate = await waitForStatus<BreakGlassRestoreStatus>(
        child,
        atStep('awaiting_approval'),
        'the child gate',
      );
      assert.equal(gate.detail.plan?.targetHistoryId, 6);
      await child.signal(approveSignal, { approver: '@dococeven', planHash: gate.detail.plan.planHash });
      await suite.env.sleep(3 * MINUTE);
      await waitForStatus<BreakGlassRestoreStatus>(
        child,
        atStep('awaiting_reconciliation'),
        'the child reconciliation',
      );
      await acknowledgeConflict(child);
      await suite.db.pool.query(
        `INSERT INTO ftf_config_history (base_env, version, changed_by, change_reason) SELECT base_env, 'c', 'console:alice', $1 FROM ftf_config WHERE id = 1`,
        [`break-glass-${incidentId}`],
      );
      await child.signal(checkReconciliationSignal, {});
      await child.signal(postMortemFiledSignal, { by: '@alice', link: 'https://op.example/wp/153#c9' });
      const result = await handle.result();

      assert.equal(result.outcome, 'restored');
      assert.equal(result.procedureA?.targetHistoryId, 6);
      assert.equal(result.procedureA?.conforming, true);
      const live = await suite.db.pool.query<{ version: string }>(
        'SELECT version FROM ftf_config WHERE id = 1',
      );
      assert.equal(live.rows[0]!.version, `2026.11.23-1_restored_${incidentId}`);
      await recordHistory(handle, 'break-glass-overwrite-recovery');
    });
  });

  test('cancelled from Temporal while its Procedure A waits at the gate: A is cancelled and announces it; C ends CANCELED and announces it', async () => {
    await forceOverwrite();
    await withWorker(async (taskQueue) => {
      const { incidentId, handle } = await startRecovery(taskQueue);
      const child = suite.env.client.workflow.getHandle(`break-glass-restore-${incidentId}`);
      await waitForStatus<BreakGlassRestoreStatus>(child, atStep('awaiting_approval'), 'the child gate');
      const { events, status } = await cancelRun<BreakGlassOverwriteRecoveryStatus>(handle);
      assert.equal(status.outcome, 'cancelled');
      assert.equal(status.detail.child?.state, 'cancelled');
      await recordHistory(handle, 'break-glass-overwrite-recovery-cancelled-with-child');
      assert.deepEqual(
        noticesSent(events)
          .filter((notice) => notice.kind === 'run_cancelled')
          .map((notice) => notice.subject.replace(/ CANCELLED.*/, '')),
        [`[break-glass C ${incidentId}]`],
      );
      const childEvents = await historyEvents(child);
      assert.ok(childEvents.at(-1)?.workflowExecutionCanceledEventAttributes, 'A ended cancelled');
      assert.deepEqual(
        noticesSent(childEvents)
          .filter((notice) => notice.kind === 'run_cancelled')
          .map((notice) => notice.kind),
        ['run_cancelled'],
      );
      assert.equal(
        await count('SELECT 1 FROM ftf_config_history WHERE changed_by = $1', [`break-glass-${incidentId}`]),
        0,
      );
    });
  });

  test('no earlier non-seeding row, or no seeding row at all: ends with the explanation, nothing started', async () => {
    await withWorker(async (taskQueue) => {
      // Demo history: the only seeding row is the first one, nothing before it.
      const none = await suite.env.client.workflow.execute(breakGlassOverwriteRecovery, {
        taskQueue,
        workflowId: uniqueId('c-none'),
        args: [{ incidentId: uniqueId('INC'), ...who }],
      });
      assert.equal(none.outcome, 'no_candidate');
      assert.match(none.message, /no earlier row has another change_reason/);
      assert.equal(none.procedureA, undefined);

      await suite.db.pool.query(
        "UPDATE ftf_config_history SET change_reason = 'initial import' WHERE change_reason = $1",
        [SEEDING],
      );
      const noSeeding = await suite.env.client.workflow.execute(breakGlassOverwriteRecovery, {
        taskQueue,
        workflowId: uniqueId('c-noseed'),
        args: [{ incidentId: uniqueId('INC'), ...who }],
      });
      assert.equal(noSeeding.outcome, 'no_seeding_row');
    });
  });
});

describe('breakGlassRebootstrap (Procedure D)', () => {
  test('the live row exists: refused, "use Procedure A", the newest history id named', async () => {
    await withWorker(async (taskQueue) => {
      const result = await suite.env.client.workflow.execute(breakGlassRebootstrap, {
        taskQueue,
        workflowId: uniqueId('d-exists'),
        args: [{ incidentId: uniqueId('INC'), ...who }],
      });
      assert.equal(result.outcome, 'row_exists');
      assert.match(result.message, /ROW_EXISTS_USE_PROCEDURE_A_NOT_D.*newest history id is 6/);
      assert.equal(result.newestHistoryId, 6);
      assert.equal(await count('SELECT 1 FROM ftf_config_history'), 6);
    });
  });

  test('the live row missing: re-bootstrapped from the newest snapshot after the gate, tagged rebootstrap', async () => {
    await suite.db.pool.query('DELETE FROM ftf_config WHERE id = 1');
    await withWorker(async (taskQueue) => {
      const { incidentId, handle, gate } = await rebootstrapAtTheGate(taskQueue);
      assert.equal(gate.detail.plan?.source.kind, 'history');
      await handle.signal(approveSignal, { approver: '@dococeven', planHash: gate.detail.plan.planHash });
      await suite.env.sleep(3 * MINUTE);
      await waitForStatus<BreakGlassRebootstrapStatus>(
        handle,
        atStep('awaiting_reconciliation'),
        'the reconciliation',
      );
      await acknowledgeConflict(handle);
      await handle.signal(postMortemFiledSignal, { by: '@alice', link: 'https://op.example/wp/153#c10' });
      const result = await handle.result(); // no reconciling write: missed

      assert.equal(result.outcome, 'rebootstrapped_non_conforming');
      assert.deepEqual(
        result.nonConformities.map((n) => n.code),
        ['reconciliation_missed'],
      );
      // The 60 min window, on the history's own clock: from the commit to the escalation.
      const events = await historyEvents(handle);
      const executed = completedActivities(events).find((a) => a.type === 'executeRebootstrap')!;
      assertElapsed(
        executed.completedAtMs,
        noticeAt(events, 'reconciliation_missed'),
        60 * MINUTE,
        MINUTE,
        'reconciliation window',
      );
      const live = await suite.db.pool.query<{ version: string; updated_by: string }>(
        'SELECT version, updated_by FROM ftf_config WHERE id = 1',
      );
      assert.equal(live.rows[0]!.version, `2026.11.23-1_rebootstrap_${incidentId}`);
      const history = await suite.db.pool.query<{ tags: unknown; diff: unknown; change_reason: string }>(
        'SELECT tags, diff, change_reason FROM ftf_config_history WHERE id = $1',
        [result.idsCreated.historyRowIds[0]],
      );
      assert.deepEqual(history.rows[0]!.tags, ['break-glass', 'rebootstrap', 'adr-90', incidentId]);
      assert.deepEqual(history.rows[0]!.diff, { rebootstrap: true });
      assert.equal(
        history.rows[0]!.change_reason,
        `rebootstrap after missing ftf_config.id=1, incident=${incidentId}`,
      );
      assert.equal(result.verification?.ok, true);
      await recordHistory(handle, 'break-glass-rebootstrap');
    });
  });

  test('the race: a concurrent insert between the precondition and the transaction wins; no history row', async () => {
    await suite.db.pool.query('DELETE FROM ftf_config WHERE id = 1');
    await withWorker(async (taskQueue) => {
      const { incidentId, handle, gate } = await rebootstrapAtTheGate(taskQueue);
      await handle.signal(approveSignal, { approver: '@dococeven', planHash: gate.detail.plan!.planHash });
      // Another operator re-creates the row during the pause.
      await suite.db.pool.query(
        `INSERT INTO ftf_config (id, base_env, version, updated_by) SELECT 1, base_env, version, 'console:bob' FROM ftf_config_history WHERE id = 6`,
      );
      const before = await count('SELECT 1 FROM ftf_config_history');
      const result = await handle.result();
      assert.equal(result.outcome, 'row_exists');
      assert.match(result.message, /concurrent insert won the race.*Use Procedure A/);
      assert.equal(await count('SELECT 1 FROM ftf_config_history'), before, 'no history row written');
      assert.equal(await count('SELECT 1 FROM runbook_ledger WHERE incident_id = $1', [incidentId]), 0);
      const live = await suite.db.pool.query<{ updated_by: string }>(
        'SELECT updated_by FROM ftf_config WHERE id = 1',
      );
      assert.equal(live.rows[0]!.updated_by, 'console:bob');
    });
  });

  test('empty history: the canonical seed path after the same gate, a normal (not break-glass) write', async () => {
    await suite.db.pool.query('DELETE FROM ftf_config; DELETE FROM ftf_config_history;');
    await withWorker(async (taskQueue) => {
      const { handle, gate } = await rebootstrapAtTheGate(taskQueue);
      assert.equal(gate.detail.plan?.source.kind, 'canonical');
      await handle.signal(approveSignal, { approver: '@dococeven', planHash: gate.detail.plan.planHash });
      const result = await handle.result();
      assert.equal(result.outcome, 'canonical_seeded');
      assert.equal(result.reconciliation, undefined, 'no break-glass obligations on the canonical seed path');
      assert.equal(result.verification?.canonical.equal, 455);
      const history = await suite.db.pool.query<{ tags: unknown; change_reason: string; changed_by: string }>(
        'SELECT tags, change_reason, changed_by FROM ftf_config_history',
      );
      assert.equal(history.rowCount, 1);
      assert.deepEqual(history.rows[0]!.tags, ['seed', 'canonical']);
      assert.equal(history.rows[0]!.change_reason, SEEDING);
      assert.doesNotMatch(history.rows[0]!.changed_by, /break-glass/);
    });
  });
});
