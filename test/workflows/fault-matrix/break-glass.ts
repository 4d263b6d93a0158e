import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Pool } from 'pg';
import { canonicalBaseEnv } from '../../../src/stack/demo-data';
import {
  breakGlassConsoleEdit,
  breakGlassDrill,
  breakGlassOverwriteRecovery,
  breakGlassRebootstrap,
  breakGlassRestore,
} from '../../../src/workflows';
import {
  acknowledgeConflictSignal,
  approveSignal,
  checkReconciliationSignal,
  postMortemFiledSignal,
} from '../../../src/workflows/break-glass-restore/definitions';
import { IC, type Handle, type Scenario, type Status } from '../../fixtures/fault-matrix';
import { consoleCluster, FakeCluster } from '../../fixtures/kubectl';
import type { MatrixWorld } from './world';

/** The break-glass procedures of seed 000 (A, B, C, D) and the drill, on the real database. */

const SECOND = 1_000;
const APPROVER = '@dococeven';
const SEEDING = 'ADR-90 seeding (CVN-N001-EE-S17 PR-1)';

interface ProcedureDetail {
  plan?: { planHash: string };
  approval?: unknown;
  conflictHold?: { state: string };
  reconciliation?: { state: string };
  consoleRecovery?: { state: string };
  child?: { workflowId: string };
}

/**
 * Answers a procedure's human steps as a careful operator would: approve the plan, acknowledge a
 * canonical CONFLICT, make the reconciling Console write, file the post-mortem. Once each per run.
 */
function procedureDriver(db: () => Pool, incidentId: () => string) {
  const done = new Set<string>();
  const once = async (what: string, act: () => Promise<unknown>): Promise<boolean> => {
    if (done.has(what)) return false;
    done.add(what);
    await act();
    return true;
  };
  return {
    reset: () => done.clear(),
    async drive(handle: Handle, status: Status): Promise<boolean> {
      const detail = status.detail as ProcedureDetail;
      if (status.step === 'awaiting_approval' && detail.plan && !detail.approval)
        return once('approve', () =>
          handle.signal(approveSignal, { approver: APPROVER, planHash: detail.plan!.planHash }),
        );
      if (detail.conflictHold?.state === 'awaiting_acknowledgement')
        return once('conflict', () =>
          handle.signal(acknowledgeConflictSignal, { by: IC, note: 'operator-tuned snapshot' }),
        );
      if (status.step === 'awaiting_reconciliation')
        return once('reconcile', async () => {
          await db().query(
            `INSERT INTO ftf_config_history (base_env, version, locked_by, changed_by, change_reason, tags)
             SELECT base_env, version || '-console', locked_by, 'console:alice', $1, '["console"]'::jsonb
             FROM ftf_config WHERE id = 1`,
            [`break-glass-${incidentId()}`],
          );
          await handle.signal(checkReconciliationSignal, {});
        });
      // The post-mortem is filed whether or not the reconciling write was seen in time.
      if (detail.reconciliation?.state === 'found_in_time' || detail.reconciliation?.state === 'missed')
        return once('post-mortem', () =>
          handle.signal(postMortemFiledSignal, { by: IC, link: 'https://op.example/wp/153' }),
        );
      return false;
    },
  };
}

/** The procedure's writes: its history rows and ledger entries. A transaction is all or nothing. */
async function procedureWrites(db: Pool, incidentId: string): Promise<string[]> {
  const rows = await db.query<{ kind: string }>(
    `SELECT 'history row' AS kind FROM ftf_config_history WHERE changed_by = 'break-glass-' || $1::text
     UNION ALL SELECT 'ledger ' || step FROM runbook_ledger ORDER BY 1`,
    [incidentId],
  );
  return rows.rows.map((row) => row.kind);
}

/** The safe state of a break-glass write: nothing, or the whole approved write — never part of it. */
async function atMostOneWrite(db: Pool, incidentId: string): Promise<string | undefined> {
  const rows = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM ftf_config_history WHERE changed_by = 'break-glass-' || $1::text",
    [incidentId],
  );
  const n = rows.rows[0]!.n;
  return n <= 1 ? undefined : `${n} break-glass history rows`;
}

/** What the four procedures share: the database, the driver, the safe state and the writes. */
function procedureScenario(
  world: MatrixWorld,
  spec: Pick<Scenario, 'runbook' | 'start' | 'success'> &
    Partial<Pick<Scenario, 'focus'>> & { prepare?(): Promise<void> },
): Scenario {
  let incidentId = '';
  const db = () => world.suite.db.pool;
  const driver = procedureDriver(db, () => incidentId);
  return {
    ...spec,
    async reset() {
      driver.reset();
      await world.suite.db.reset();
      await spec.prepare?.();
    },
    start(taskQueue, runId) {
      incidentId = runId;
      return spec.start(taskQueue, runId);
    },
    drive: (handle, status) => driver.drive(handle, status),
    tick: obligationTick,
    unsafe: () => atMostOneWrite(db(), incidentId),
    mutations: () => procedureWrites(db(), incidentId),
  };
}

/**
 * After a missed reconciliation the run watches for a late write until the post-mortem window
 * (24 h) closes: an hour at a time then; otherwise 30 s, shorter than any activity timeout.
 */
function obligationTick(status: Status): number {
  const state = (status.detail as ProcedureDetail).reconciliation?.state;
  return state === 'missed' || state === 'late' ? 60 * 60 * SECOND : 30 * SECOND;
}

const who = { requestedBy: IC, rationale: 'LGB 5M learning rate set to 0.0 by a Console typo' };

export function restoreScenario(world: MatrixWorld): Scenario {
  return procedureScenario(world, {
    runbook: 'breakGlassRestore',
    start: (taskQueue, incidentId) =>
      world.suite.env.client.workflow.start(breakGlassRestore, {
        taskQueue,
        workflowId: `break-glass-restore-${incidentId}`,
        args: [{ incidentId, targetHistoryId: 5, ...who }],
      }),
    success: 'restored',
  });
}

export function rebootstrapScenario(world: MatrixWorld): Scenario {
  return procedureScenario(world, {
    runbook: 'breakGlassRebootstrap',
    // Procedure D's precondition: the live row is gone.
    prepare: async () => {
      await world.suite.db.pool.query('DELETE FROM ftf_config WHERE id = 1');
    },
    start: (taskQueue, incidentId) =>
      world.suite.env.client.workflow.start(breakGlassRebootstrap, {
        taskQueue,
        workflowId: `break-glass-rebootstrap-${incidentId}`,
        args: [{ incidentId, ...who }],
      }),
    success: 'rebootstrapped',
  });
}

export function overwriteRecoveryScenario(world: MatrixWorld): Scenario {
  return procedureScenario(world, {
    runbook: 'breakGlassOverwriteRecovery',
    // A `seed_hyperparams_console.py --apply --force-overwrite` accident after the demo history.
    prepare: async () => {
      const canonical = JSON.stringify(canonicalBaseEnv());
      await world.suite.db.pool.query(
        `UPDATE ftf_config SET base_env = $1::jsonb, version = 'seed-forced', updated_by = 'seed_hyperparams_console.py', updated_at = now() WHERE id = 1`,
        [canonical],
      );
      await world.suite.db.pool.query(
        `INSERT INTO ftf_config_history (base_env, version, changed_by, change_reason, tags) VALUES ($1::jsonb, 'seed-forced', 'seed_hyperparams_console.py', $2, '["seed"]')`,
        [canonical, SEEDING],
      );
    },
    start: (taskQueue, incidentId) =>
      world.suite.env.client.workflow.start(breakGlassOverwriteRecovery, {
        taskQueue,
        workflowId: `break-glass-overwrite-recovery-${incidentId}`,
        args: [{ incidentId, ...who }],
      }),
    // Procedure A runs as a child: its gates are answered there.
    focus: (handle, status) => {
      const child = (status.detail as ProcedureDetail).child?.workflowId;
      return child ? world.suite.env.client.workflow.getHandle(child) : handle;
    },
    success: 'restored',
  });
}

export function consoleEditScenario(world: MatrixWorld): Scenario {
  let cluster: FakeCluster;
  const scenario = procedureScenario(world, {
    runbook: 'breakGlassConsoleEdit',
    // Seed 000 B is justified only while no Console pod is Ready and the Console does not answer.
    prepare: async () => {
      cluster = FakeCluster.create(world.tmp, consoleCluster(0));
      cluster.install();
      world.consoleSite.down({ status: 503, body: 'upstream connect error' });
      await Promise.resolve();
    },
    start: (taskQueue, incidentId) =>
      world.suite.env.client.workflow.start(breakGlassConsoleEdit, {
        taskQueue,
        workflowId: `break-glass-console-edit-${incidentId}`,
        args: [
          {
            incidentId,
            model: 'LGB',
            timeframe: '5M',
            param: 'LEARNING_RATE',
            newValue: '0.07',
            urgency: 'the sweep restarts within the hour',
            ...who,
          },
        ],
      }),
    success: 'edited',
  });
  return {
    ...scenario,
    // The Console comes back once the edit is in; the reconciliation window opens then.
    async drive(handle, status) {
      const recovery = (status.detail as ProcedureDetail).consoleRecovery;
      if (recovery?.state === 'waiting' && world.consoleSite.isDown()) {
        world.consoleSite.restore();
        await handle.signal(checkReconciliationSignal, {});
        return true;
      }
      return scenario.drive(handle, status);
    },
  };
}

export function drillScenario(world: MatrixWorld, logDirectory: string): Scenario {
  let workflowId = '';
  const staging = () => world.staging.pool;
  const driver = procedureDriver(staging, () => '');
  /** The drill's writes on staging and its log file(s). */
  const writes = async (): Promise<string[]> => {
    const rows = await staging().query<{ kind: string }>(
      `SELECT 'history row' AS kind FROM ftf_config_history WHERE changed_by LIKE 'break-glass-DRILL-%'
       UNION ALL SELECT 'ledger ' || step FROM runbook_ledger ORDER BY 1`,
    );
    const logs = readdirSync(logDirectory, { withFileTypes: true })
      .filter((file) => file.isFile())
      .filter((file) => readFileSync(path.join(logDirectory, file.name), 'utf8').includes(`${workflowId}/`));
    return [...rows.rows.map((row) => row.kind), ...logs.map(() => 'drill log')];
  };
  return {
    runbook: 'breakGlassDrill',
    async reset() {
      driver.reset();
      await world.staging.reset();
    },
    start(taskQueue, runId) {
      workflowId = `drill-${runId}`;
      return world.suite.env.client.workflow.start(breakGlassDrill, {
        taskQueue,
        workflowId,
        args: [{ requestedBy: IC }],
      });
    },
    drive: (handle, status) => driver.drive(handle, status),
    tick: () => 30 * SECOND,
    async unsafe() {
      const rows = await staging().query<{ n: number }>(
        "SELECT count(*)::int AS n FROM ftf_config_history WHERE changed_by LIKE 'break-glass-DRILL-%'",
      );
      return rows.rows[0]!.n <= 1 ? undefined : `${rows.rows[0]!.n} drill rows on staging`;
    },
    mutations: writes,
    success: 'drill_within_slo',
  };
}
