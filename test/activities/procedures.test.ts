import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities, type RunbookActivities } from '../../src/activities';
import type { ConsoleEditPlan, RebootstrapPlan } from '../../src/activities/sql';
import { scratchDir } from '../../src/local/servers';
import { canonicalBaseEnv } from '../../src/stack/demo-data';
import { createTestDatabase, type TestDatabase } from '../fixtures/database';
import { activityDeps, writeTestPolicy } from '../fixtures/policy';

/** The SQL of Procedures B, C, D and the drill on real PostgreSQL. */

const tmp = scratchDir('runbooks-procedures-sql');
const SEEDING = 'ADR-90 seeding (CVN-N001-EE-S17 PR-1)';
let db: TestDatabase;
let staging: TestDatabase;
let activities: RunbookActivities;
let withoutStaging: RunbookActivities;
const quiet = new DefaultLogger('WARN');

before(async () => {
  [db, staging] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  const policy = writeTestPolicy(tmp, () => undefined);
  activities = createActivities(activityDeps(policy, db.pool, {}, { stagingDb: staging.pool }));
  withoutStaging = createActivities(activityDeps(policy, db.pool));
});

after(async () => {
  await staging?.drop();
  await db?.drop();
});

beforeEach(async () => {
  await Promise.all([db.reset(), staging.reset()]);
});

function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment({}, { logger: quiet }).run(fn, ...args);
}

async function count(sql: string, params: unknown[] = [], pool = db.pool): Promise<number> {
  const rows = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) AS q`, params);
  return rows.rows[0]!.n;
}

function approval(incidentId: string, ledgerKey = `wf-${incidentId}/run/execute`) {
  return {
    ledgerKey,
    incidentId,
    workflowId: `wf-${incidentId}`,
    runId: 'run',
    requestedBy: '@alice',
    approver: '@dococeven',
    planHash: 'a'.repeat(64),
    approvalLine: `event=break_glass_approval incident_id=${incidentId}`,
    rationale: "it's urgent; -- really",
  };
}

describe('Procedure B transaction', () => {
  async function plan(
    incidentId: string,
    parts: { model: 'XGB' | 'LGB' | 'CB'; timeframe: '1M' | '5M' | '15M' | '30M' | '1H'; param: string },
    newValue: string,
  ): Promise<ConsoleEditPlan> {
    const outcome = await run(activities.planConsoleEdit, { incidentId, ...parts, newValue });
    assert.equal(outcome.status, 'ready', JSON.stringify(outcome));
    return (outcome as { plan: ConsoleEditPlan }).plan;
  }

  test('jsonb_set on the existing key, version suffix, updated_by, history row with diff {key, to} and console-outage', async () => {
    const parts = { model: 'LGB' as const, timeframe: '5M' as const, param: 'LEARNING_RATE' };
    const p = await plan('INC-B1', parts, '0.07');
    assert.equal(p.currentValue, '0.0');
    assert.equal(p.numericKey, true);
    const out = await run(activities.executeConsoleEdit, {
      ...approval('INC-B1'),
      ...parts,
      newValue: '0.07',
      expectedFingerprint: p.live.fingerprint,
    });
    assert.equal(out.status, 'edited');
    const live = await db.pool.query<{ v: string; version: string; updated_by: string; keys: number }>(
      "SELECT base_env->>'CVN_HPO_LGB_5M_LEARNING_RATE' AS v, version, updated_by, (SELECT count(*)::int FROM jsonb_object_keys(base_env)) AS keys FROM ftf_config WHERE id = 1",
    );
    assert.deepEqual(live.rows[0], {
      v: '0.07',
      version: '2026.11.23-1_breakglass_INC-B1',
      updated_by: 'break-glass-INC-B1',
      keys: 455,
    });
    const history = await db.pool.query<{
      diff: unknown;
      tags: unknown;
      change_reason: string;
      changed_by: string;
      parent_id: string | null;
    }>('SELECT diff, tags, change_reason, changed_by, parent_id FROM ftf_config_history WHERE id = $1', [
      (out as { historyId: number }).historyId,
    ]);
    assert.deepEqual(history.rows[0], {
      diff: { key: 'CVN_HPO_LGB_5M_LEARNING_RATE', to: '0.07' },
      tags: ['break-glass', 'console-outage', 'adr-90', 'INC-B1'],
      change_reason: 'urgent value edit during Console UI outage, incident=INC-B1',
      changed_by: 'break-glass-INC-B1',
      parent_id: null,
    });
  });

  test("string values with quotes, semicolons and '--' are stored verbatim; a retry after commit writes nothing", async () => {
    const parts = { model: 'XGB' as const, timeframe: '1H' as const, param: 'TREE_METHOD' };
    const value = `hist'); DROP TABLE ftf_config; -- "gpu" \\ $1`;
    const p = await plan('INC-B2', parts, value);
    const input = {
      ...approval('INC-B2'),
      ...parts,
      newValue: value,
      expectedFingerprint: p.live.fingerprint,
    };
    const first = await run(activities.executeConsoleEdit, input);
    const second = await run(activities.executeConsoleEdit, input);
    assert.equal(first.status, 'edited');
    assert.equal((second as { replayed: boolean }).replayed, true);
    assert.equal(await count("SELECT 1 FROM ftf_config_history WHERE changed_by = 'break-glass-INC-B2'"), 1);
    const live = await db.pool.query<{ v: string }>(
      "SELECT base_env->>'CVN_HPO_XGB_1H_TREE_METHOD' AS v FROM ftf_config WHERE id = 1",
    );
    assert.equal(live.rows[0]!.v, value);
    const diff = await db.pool.query<{ to: string }>(
      "SELECT diff->>'to' AS to FROM ftf_config_history WHERE changed_by = 'break-glass-INC-B2'",
    );
    assert.equal(diff.rows[0]!.to, value);
  });

  test('0 rows changed (key absent): rolled back, no history row, the key named', async () => {
    const p = await plan('INC-B3', { model: 'CB', timeframe: '30M', param: 'DEPTH' }, '7');
    const before = await count('SELECT 1 FROM ftf_config_history');
    const out = await run(activities.executeConsoleEdit, {
      ...approval('INC-B3'),
      model: 'CB',
      timeframe: '30M',
      param: 'DEPTH_TYPO',
      newValue: '7',
      expectedFingerprint: p.live.fingerprint,
    });
    assert.equal(out.status, 'key_not_found');
    assert.match(
      (out as { message: string }).message,
      /CVN_HPO_CB_30M_DEPTH_TYPO not found in base_env.*no history row/,
    );
    assert.equal(await count('SELECT 1 FROM ftf_config_history'), before);
    const live = await db.pool.query<{ version: string }>('SELECT version FROM ftf_config WHERE id = 1');
    assert.equal(live.rows[0]!.version, '2026.11.23-1');
  });

  test('live row changed since the plan: plan_stale, nothing written; bad key parts refused before SQL', async () => {
    const parts = { model: 'CB' as const, timeframe: '1H' as const, param: 'DEPTH' };
    const p = await plan('INC-B4', parts, '9');
    await db.pool.query('UPDATE ftf_config SET updated_at = now() WHERE id = 1');
    const out = await run(activities.executeConsoleEdit, {
      ...approval('INC-B4'),
      ...parts,
      newValue: '9',
      expectedFingerprint: p.live.fingerprint,
    });
    assert.equal(out.status, 'plan_stale');
    await assert.rejects(
      run(activities.planConsoleEdit, {
        incidentId: 'INC-B4',
        model: 'RF' as never,
        timeframe: '5M',
        param: "X'; --",
        newValue: '1',
      }),
      (error: unknown) =>
        error instanceof ApplicationFailure &&
        error.type === 'InvalidInput' &&
        /model/.test(error.message) &&
        /param/.test(error.message),
    );
  });
});

describe('Procedure D transaction', () => {
  async function plan(incidentId: string): Promise<RebootstrapPlan> {
    const outcome = await run(activities.planRebootstrap, { incidentId });
    assert.equal(outcome.status, 'ready', JSON.stringify(outcome));
    return (outcome as { plan: RebootstrapPlan }).plan;
  }

  test('refused while the row exists, naming the newest history id', async () => {
    const outcome = await run(activities.planRebootstrap, { incidentId: 'INC-D0' });
    assert.deepEqual(
      [outcome.status, (outcome as { newestHistoryId: number }).newestHistoryId],
      ['row_exists', 6],
    );
  });

  test('re-inserts from the newest snapshot, history row tagged rebootstrap; a retry after commit writes nothing', async () => {
    await db.pool.query('DELETE FROM ftf_config');
    const p = await plan('INC-D1');
    const input = {
      ...approval('INC-D1'),
      expectedFingerprint: p.expectedFingerprint,
      seedingChangeReason: SEEDING,
    };
    const first = await run(activities.executeRebootstrap, input);
    const second = await run(activities.executeRebootstrap, input);
    assert.equal(first.status, 'rebootstrapped');
    assert.equal((second as { replayed: boolean }).replayed, true);
    assert.equal(await count("SELECT 1 FROM ftf_config_history WHERE tags ? 'rebootstrap'"), 1);
    const live = await db.pool.query<{ version: string; updated_by: string; same: boolean }>(
      'SELECT version, updated_by, base_env = (SELECT base_env FROM ftf_config_history WHERE id = 6) AS same FROM ftf_config WHERE id = 1',
    );
    assert.deepEqual(live.rows[0], {
      version: '2026.11.23-1_rebootstrap_INC-D1',
      updated_by: 'break-glass-INC-D1',
      same: true,
    });
  });

  test('a concurrent insert wins the race: rolled back, no history row, "use Procedure A"', async () => {
    await db.pool.query('DELETE FROM ftf_config');
    const p = await plan('INC-D2');
    await db.pool.query(
      `INSERT INTO ftf_config (id, base_env, version, updated_by) VALUES (1, '{}', 'racer', 'console:bob')`,
    );
    const before = await count('SELECT 1 FROM ftf_config_history');
    const out = await run(activities.executeRebootstrap, {
      ...approval('INC-D2'),
      expectedFingerprint: p.expectedFingerprint,
      seedingChangeReason: SEEDING,
    });
    assert.equal(out.status, 'row_exists');
    assert.match((out as { message: string }).message, /Use Procedure A/);
    assert.equal(await count('SELECT 1 FROM ftf_config_history'), before);
    assert.equal(await count('SELECT 1 FROM runbook_ledger'), 0);
  });

  test('history changed since the plan: plan_stale', async () => {
    await db.pool.query('DELETE FROM ftf_config');
    const p = await plan('INC-D3');
    await db.pool.query(
      `INSERT INTO ftf_config_history (base_env, version, changed_by) VALUES ('{}', 'newer', 'console:bob')`,
    );
    const out = await run(activities.executeRebootstrap, {
      ...approval('INC-D3'),
      expectedFingerprint: p.expectedFingerprint,
      seedingChangeReason: SEEDING,
    });
    assert.equal(out.status, 'plan_stale');
  });

  test('the source snapshot edited since the plan (same id): plan_stale, nothing written', async () => {
    await db.pool.query('DELETE FROM ftf_config');
    const p = await plan('INC-D4');
    assert.equal(p.source.kind, 'history');
    assert.ok(p.canonical && p.canonical.conflict > 0, 'the plan shows the canonical comparison');
    await db.pool.query(
      `UPDATE ftf_config_history SET base_env = jsonb_set(base_env, '{CVN_HPO_LGB_5M_LEARNING_RATE}', '"9.99"') WHERE id = 6`,
    );
    const out = await run(activities.executeRebootstrap, {
      ...approval('INC-D4'),
      expectedFingerprint: p.expectedFingerprint,
      expectedSourceHash: p.source.kind === 'history' ? p.source.baseEnvHash : undefined,
      seedingChangeReason: SEEDING,
    });
    assert.equal(out.status, 'plan_stale');
    assert.equal('reason' in out && out.reason, 'source_snapshot_changed');
    assert.equal(await count('SELECT 1 FROM ftf_config'), 0, 'nothing inserted');
  });

  test('empty history: the canonical payload as a normal seeding write, once', async () => {
    await db.pool.query('DELETE FROM ftf_config; DELETE FROM ftf_config_history;');
    const p = await plan('INC-D4');
    assert.equal(p.source.kind, 'canonical');
    const input = {
      ...approval('INC-D4'),
      expectedFingerprint: p.expectedFingerprint,
      seedingChangeReason: SEEDING,
    };
    const first = await run(activities.executeRebootstrap, input);
    await run(activities.executeRebootstrap, input);
    assert.equal(first.status, 'canonical_seeded');
    assert.equal(await count('SELECT 1 FROM ftf_config_history'), 1);
    const live = await db.pool.query<{ base_env: Record<string, string> }>(
      'SELECT base_env FROM ftf_config WHERE id = 1',
    );
    assert.deepEqual(live.rows[0]!.base_env, canonicalBaseEnv());
    const row = await db.pool.query<{ change_reason: string; tags: unknown }>(
      'SELECT change_reason, tags FROM ftf_config_history',
    );
    assert.deepEqual(row.rows[0], { change_reason: SEEDING, tags: ['seed', 'canonical'] });
  });
});

describe('Procedure C lookup', () => {
  test('the newest non-seeding row before the newest seeding row', async () => {
    await db.pool.query(
      `INSERT INTO ftf_config_history (base_env, version, changed_by, change_reason) VALUES ('{}', 'forced', 'seed_hyperparams_console.py', $1), ('{}', 'after', 'console:x', 'later edit')`,
      [SEEDING],
    );
    const found = await run(activities.findPreClobber, {
      incidentId: 'INC-C1',
      seedingChangeReason: SEEDING,
    });
    assert.equal(found.status, 'candidate');
    assert.equal((found as { candidate: { id: number } }).candidate.id, 6);
    assert.equal((found as { clobber: { id: number } }).clobber.id, 7);
  });
});

describe('drill preparation on staging', () => {
  test('creates the sentinel once and picks the snapshot three versions back; only staging is touched', async () => {
    const first = await run(activities.prepareDrill, { sentinelRowId: 999, versionsBack: 3 });
    const second = await run(activities.prepareDrill, { sentinelRowId: 999, versionsBack: 3 });
    assert.equal(first.status, 'ready');
    assert.deepEqual(
      [
        first.status === 'ready' && first.sentinelCreated,
        second.status === 'ready' && second.sentinelCreated,
      ],
      [true, false],
    );
    assert.equal(first.status === 'ready' && first.target.id, 3, 'history 6, 5, 4, then 3');
    assert.equal(await count('SELECT 1 FROM ftf_config WHERE id = 999', [], staging.pool), 1);
    assert.equal(
      await count('SELECT 1 FROM ftf_config WHERE id = 999'),
      0,
      'the production target is untouched',
    );
    const notEnough = await run(activities.prepareDrill, { sentinelRowId: 999, versionsBack: 10 });
    assert.equal(notEnough.status, 'not_enough_history');
  });

  test('without a staging database the drill is refused with the missing setting named', async () => {
    await assert.rejects(
      run(withoutStaging.prepareDrill, { sentinelRowId: 999, versionsBack: 3 }),
      /STAGING_DATABASE_URL/,
    );
  });
});
