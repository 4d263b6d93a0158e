import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createActivities, type RunbookActivities } from '../../src/activities';
import type { ExecuteRestoreInput, RestorePlan } from '../../src/activities/sql/restore';
import { canonicalBaseEnv, DEMO_HISTORY } from '../../src/stack/demo-data';
import { createTestDatabase, type TestDatabase } from '../fixtures/database';
import { activityDeps, defaultPolicy } from '../fixtures/policy';

/** Procedure A's SQL on a real PostgreSQL: the transaction, its guards, the ledger, verification. */

interface LiveRow {
  version: string;
  updated_by: string;
  base_env: Record<string, string>;
}

interface HistoryRow {
  version: string;
  changed_by: string;
  change_reason: string;
  parent_id: string;
  diff: unknown;
  tags: unknown;
  base_env: Record<string, string>;
}

let db: TestDatabase;
let activities: RunbookActivities;
const policy = defaultPolicy();

before(async () => {
  db = await createTestDatabase();
  activities = createActivities(activityDeps(policy, db.pool));
});

after(async () => {
  await db?.drop();
});

beforeEach(async () => {
  await db.reset();
});

const quietLogger = new DefaultLogger('WARN');

function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment({}, { logger: quietLogger }).run(fn, ...args);
}

async function plan(incidentId: string, targetHistoryId: number): Promise<RestorePlan> {
  const outcome = await run(activities.planRestore, { incidentId, targetHistoryId });
  assert.equal(outcome.status, 'ready');
  return (outcome as { plan: RestorePlan }).plan;
}

function executeInput(p: RestorePlan, overrides: Partial<ExecuteRestoreInput> = {}): ExecuteRestoreInput {
  return {
    ledgerKey: `wf-${p.incidentId}/run-1/execute-restore`,
    incidentId: p.incidentId,
    targetHistoryId: p.targetHistoryId,
    expectedFingerprint: p.live.fingerprint,
    planHash: p.planHash,
    workflowId: `break-glass-restore-${p.incidentId}`,
    runId: 'run-1',
    requestedBy: '@alice',
    approver: '@dococeven',
    approvalLine: `event=break_glass_approval incident_id=${p.incidentId} story=CVN-N001-EE-S17 rationale='x' approver=@dococeven approval_ts=2026-11-24T00:00:00.000Z`,
    rationale: 'restore',
    ...overrides,
  };
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const result = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) AS q`, params);
  return result.rows[0]!.n;
}

async function snapshot(): Promise<{ live: unknown; history: number; ledger: number }> {
  const live = await db.pool.query('SELECT * FROM ftf_config WHERE id = 1');
  return {
    live: live.rows[0],
    history: await count('SELECT 1 FROM ftf_config_history'),
    ledger: await count('SELECT 1 FROM runbook_ledger'),
  };
}

describe('planRestore', () => {
  test('lists the 20 newest history rows, the target, the key-by-key diff and the bound statements', async () => {
    const p = await plan('INC-4711', 3);
    assert.deepEqual(
      p.recentHistory.map((row) => row.id),
      [6, 5, 4, 3, 2, 1],
    );
    assert.equal(p.target.version, DEMO_HISTORY[2]!.version);
    assert.equal(p.target.keyCount, 455);
    // Live (v6) → target (v3): the edits of v4, v5 and v6 are undone.
    assert.equal(p.diff.changed, 4 + 10 + 1);
    assert.equal(p.diff.unchanged, 455 - 15);
    assert.equal(p.expectedVersion, `${DEMO_HISTORY[2]!.version}_restored_INC-4711`);
    assert.equal(p.statements.length, 4);
    for (const statement of p.statements) {
      assert.doesNotMatch(statement.sql, /INC-4711/, 'the incident id is bound, never inlined');
    }
    assert.deepEqual(p.statements[2]!.params, [3, 'INC-4711', 1], 'target id, incident id, live row id');
    assert.deepEqual(
      p.samples.map((s) => s.key),
      ['CVN_HPO_LGB_5M_LEARNING_RATE', 'CVN_HPO_XGB_5M_N_ESTIMATORS'],
    );
  });

  test('the plan hash is stable for the same state and changes when the live row changes', async () => {
    const first = await plan('INC-1', 5);
    const again = await plan('INC-1', 5);
    assert.equal(first.planHash, again.planHash);
    await db.pool.query("UPDATE ftf_config SET updated_at = updated_at + interval '1 second' WHERE id = 1");
    const changed = await plan('INC-1', 5);
    assert.notEqual(changed.planHash, first.planHash);
    assert.notEqual(changed.live.fingerprint, first.live.fingerprint);
  });

  test('an unknown target is reported with the id, and a missing live row points to Procedure D', async () => {
    const unknown = await run(activities.planRestore, { incidentId: 'INC-2', targetHistoryId: 999 });
    assert.equal(unknown.status, 'target_not_found');
    assert.match((unknown as { message: string }).message, /id=999 does not exist/);
    await db.pool.query('DELETE FROM ftf_config WHERE id = 1');
    const missing = await run(activities.planRestore, { incidentId: 'INC-2', targetHistoryId: 5 });
    assert.equal(missing.status, 'live_row_missing');
    assert.match((missing as { message: string }).message, /Procedure D/);
  });
});

describe('executeRestore', () => {
  test('happy path: the live row and the history row exactly as seed 000 Procedure A', async () => {
    const p = await plan('INC-4711', 5);
    const outcome = await run(activities.executeRestore, executeInput(p));
    assert.equal(outcome.status, 'restored');
    if (outcome.status !== 'restored') return;
    assert.equal(outcome.replayed, false);

    const live = await db.pool.query<LiveRow>('SELECT * FROM ftf_config WHERE id = 1');
    const target = await db.pool.query<HistoryRow>('SELECT * FROM ftf_config_history WHERE id = 5');
    assert.equal(live.rows[0]!.version, `${DEMO_HISTORY[4]!.version}_restored_INC-4711`);
    assert.equal(live.rows[0]!.updated_by, 'break-glass-INC-4711');
    assert.deepEqual(live.rows[0]!.base_env, target.rows[0]!.base_env);

    const history = await db.pool.query<HistoryRow>('SELECT * FROM ftf_config_history WHERE id = $1', [
      outcome.historyId,
    ]);
    const row = history.rows[0]!;
    assert.equal(row.version, `${DEMO_HISTORY[4]!.version}_restored_INC-4711`);
    assert.equal(row.changed_by, 'break-glass-INC-4711');
    assert.equal(row.change_reason, 'break-glass restore from id=5, incident=INC-4711');
    assert.equal(Number(row.parent_id), 5);
    assert.deepEqual(row.diff, { restored_from: 5 });
    assert.deepEqual(row.tags, ['break-glass', 'adr-90', 'INC-4711']);
    assert.deepEqual(row.base_env, target.rows[0]!.base_env);

    const ledger = await db.pool.query<{ plan_hash: string; result: { historyId: number } }>(
      'SELECT * FROM runbook_ledger',
    );
    assert.equal(ledger.rowCount, 1);
    assert.equal(ledger.rows[0]!.plan_hash, p.planHash);
    assert.equal(ledger.rows[0]!.result.historyId, outcome.historyId);
  });

  test('run twice with the same ledger key (a retry after the commit): one history row, the first result', async () => {
    const p = await plan('INC-7', 5);
    const first = await run(activities.executeRestore, executeInput(p));
    const second = await run(activities.executeRestore, executeInput(p));
    assert.equal(first.status, 'restored');
    assert.equal(second.status, 'restored');
    assert.deepEqual({ ...second, replayed: false }, first);
    assert.equal((second as { replayed: boolean }).replayed, true);
    assert.equal(await count("SELECT 1 FROM ftf_config_history WHERE changed_by = 'break-glass-INC-7'"), 1);
    assert.equal(await count('SELECT 1 FROM runbook_ledger'), 1);
  });

  test('asked verifyAfter, it verifies the write it committed, as verifyRestore would; a retry verifies the same write again', async () => {
    const p = await plan('INC-71', 5);
    const ask = { incidentId: 'INC-71', targetHistoryId: 5, expectedVersion: p.expectedVersion };
    const first = await run(activities.executeRestore, { ...executeInput(p), verifyAfter: ask });
    assert.equal(first.status, 'restored');
    if (first.status !== 'restored') return;
    const separate = await run(activities.verifyRestore, { ...ask, restoreHistoryId: first.historyId });
    assert.deepEqual(first.verifiedAfter, { value: separate });
    assert.equal(separate.ok, true);
    const retried = await run(activities.executeRestore, { ...executeInput(p), verifyAfter: ask });
    assert.equal((retried as { replayed: boolean }).replayed, true);
    assert.deepEqual(retried.verifiedAfter, { value: separate });
    assert.equal(await count("SELECT 1 FROM ftf_config_history WHERE changed_by = 'break-glass-INC-71'"), 1);
  });

  test('a verification that fails after the commit is returned as failed, never failing the committed write', async () => {
    const p = await plan('INC-72', 5);
    // An ask the verification refuses (a malformed incident id): the transaction still commits once.
    const outcome = await run(activities.executeRestore, {
      ...executeInput(p),
      verifyAfter: { incidentId: 'not an incident', targetHistoryId: 5, expectedVersion: p.expectedVersion },
    });
    assert.equal(outcome.status, 'restored');
    assert.ok(outcome.verifiedAfter && 'failed' in outcome.verifiedAfter);
    assert.match(outcome.verifiedAfter.failed, /incidentId/);
    assert.equal(await count("SELECT 1 FROM ftf_config_history WHERE changed_by = 'break-glass-INC-72'"), 1);
    // Refused, nothing committed: nothing to verify.
    const stale = await run(activities.executeRestore, {
      ...executeInput(p, { ledgerKey: 'wf-INC-72/run-2/execute-restore' }),
      verifyAfter: { incidentId: 'INC-72', targetHistoryId: 5, expectedVersion: p.expectedVersion },
    });
    assert.equal(stale.status, 'plan_stale');
    assert.equal(stale.verifiedAfter, undefined);
  });

  test('two concurrent attempts with the same ledger key: still one history row', async () => {
    const p = await plan('INC-8', 4);
    const outcomes = await Promise.all([
      run(activities.executeRestore, executeInput(p)),
      run(activities.executeRestore, executeInput(p)),
      run(activities.executeRestore, executeInput(p)),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['restored', 'restored', 'restored'],
    );
    assert.equal(outcomes.filter((o) => o.status === 'restored' && !o.replayed).length, 1);
    assert.equal(await count("SELECT 1 FROM ftf_config_history WHERE changed_by = 'break-glass-INC-8'"), 1);
  });

  test('another run (different ledger key) after a restore is refused as plan_stale', async () => {
    const p = await plan('INC-9', 5);
    await run(activities.executeRestore, executeInput(p));
    const other = await run(
      activities.executeRestore,
      executeInput(p, { ledgerKey: 'another-run/execute-restore' }),
    );
    assert.equal(other.status, 'plan_stale');
    assert.equal(await count("SELECT 1 FROM ftf_config_history WHERE changed_by = 'break-glass-INC-9'"), 1);
  });

  test('live row changed after planning: plan_stale, nothing written', async () => {
    const p = await plan('INC-10', 5);
    await db.pool.query(
      'UPDATE ftf_config SET base_env = base_env || \'{"CVN_HPO_CB_1M_DEPTH": "9"}\'::jsonb WHERE id = 1',
    );
    const before = await snapshot();
    const outcome = await run(activities.executeRestore, executeInput(p));
    assert.equal(outcome.status, 'plan_stale');
    assert.match((outcome as { message: string }).message, /changed after the plan was made/);
    assert.deepEqual(await snapshot(), before);
  });

  test('target id missing at execution: rolled back, no history row, the id named', async () => {
    const p = await plan('INC-11', 5);
    const before = await snapshot();
    const outcome = await run(activities.executeRestore, executeInput(p, { targetHistoryId: 424242 }));
    assert.equal(outcome.status, 'target_not_found');
    assert.match((outcome as { message: string }).message, /ftf_config_history\.id=424242 does not exist/);
    assert.deepEqual(await snapshot(), before);
  });

  test("values and rationales with quotes, semicolons and '--' are stored verbatim", async () => {
    const nasty = `O'Reilly'); DROP TABLE ftf_config; -- "quoted" ; \\ $1`;
    const inserted = await db.pool.query<{ id: string }>(
      `INSERT INTO ftf_config_history (base_env, version, changed_by, change_reason, tags)
       SELECT base_env || jsonb_build_object('CVN_HPO_XGB_1H_OBJECTIVE', $1::text), version || '-q', 'console:bob', 'quotes', '[]'::jsonb
       FROM ftf_config_history WHERE id = 6 RETURNING id`,
      [nasty],
    );
    const targetId = Number(inserted.rows[0]!.id);
    const p = await plan('INC-12', targetId);
    const rationale = `it's "urgent"; the sweep restarts -- now; DROP TABLE runbook_ledger; --`;
    const outcome = await run(activities.executeRestore, executeInput(p, { rationale }));
    assert.equal(outcome.status, 'restored');
    const live = await db.pool.query<{ value: string }>(
      "SELECT base_env->>'CVN_HPO_XGB_1H_OBJECTIVE' AS value FROM ftf_config WHERE id = 1",
    );
    assert.equal(live.rows[0]!.value, nasty);
    const ledger = await db.pool.query<{ rationale: string }>('SELECT rationale FROM runbook_ledger');
    assert.equal(ledger.rows[0]!.rationale, rationale);
    assert.equal(await count('SELECT 1 FROM ftf_config'), 1, 'tables intact');
  });

  test('bad incident ids are refused before any SQL runs', async () => {
    let queries = 0;
    const tripwire = {
      query: () => {
        queries += 1;
        throw new Error('SQL must not run');
      },
      connect: () => {
        queries += 1;
        throw new Error('SQL must not run');
      },
    } as unknown as Pool;
    const guarded = createActivities(activityDeps(policy, tripwire));
    const p = await plan('INC-13', 5);
    for (const incidentId of ["1'; DROP TABLE ftf_config; --", 'INC 42', 'INC/42', '', 'a'.repeat(65)]) {
      for (const call of [
        () => run(guarded.planRestore, { incidentId, targetHistoryId: 5 }),
        () => run(guarded.executeRestore, executeInput(p, { incidentId })),
        () => run(guarded.findReconcilingWrite, { incidentId, afterHistoryId: 5 }),
      ]) {
        await assert.rejects(call(), (error: unknown) => {
          assert.ok(error instanceof ApplicationFailure);
          assert.equal(error.type, 'InvalidInput');
          assert.equal(error.nonRetryable, true);
          assert.match(error.message, /incidentId/);
          return true;
        });
      }
    }
    assert.equal(queries, 0);
  });
});

describe('openBreakGlassProcedure', () => {
  test('the policy section with the plan and the change freezes, each as its own activity answers', async () => {
    const planInput = { incidentId: 'INC-73', targetHistoryId: 5 };
    const freezeInput = {
      runbook: 'breakGlassRestore',
      incidentId: 'INC-73',
      workflowId: 'wf-INC-73',
      runId: 'run-1',
      at: '2026-12-03T00:00:00.000Z',
    };
    const opened = await run(activities.openBreakGlassProcedure<'breakGlassRestore'>, {
      runbook: 'breakGlassRestore',
      plan: { activity: 'planRestore', input: planInput },
      changeFreeze: freezeInput,
    });
    assert.deepEqual(
      opened.policy,
      await run(activities.loadRunbookPolicy<'breakGlassRestore'>, { runbook: 'breakGlassRestore' }),
    );
    const separate = await run(activities.planRestore, planInput);
    assert.ok(opened.plan && 'value' in opened.plan);
    // The same plan (the hash covers what it would do), planned a few ms apart.
    const unstamped = (outcome: unknown) =>
      JSON.parse(
        JSON.stringify(outcome, (key, value: unknown) => (key === 'plannedAt' ? undefined : value)),
      ) as unknown;
    assert.deepEqual(unstamped(opened.plan.value), unstamped(separate));
    assert.equal(separate.status, 'ready');
    assert.deepEqual(opened.changeFreeze, { value: await run(activities.checkChangeFreeze, freezeInput) });
    const bare = await run(activities.openBreakGlassProcedure<'breakGlassRestore'>, {
      runbook: 'breakGlassRestore',
    });
    assert.deepEqual(Object.keys(bare), ['policy'], 'nothing read that was not asked');
  });

  test('a read that fails is returned as failed; the policy still comes back', async () => {
    const closed = new Proxy(db.pool, {
      get(target, key: keyof Pool) {
        if (key === 'query' || key === 'connect')
          return () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432 (test)'));
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const { openBreakGlassProcedure } = createActivities(activityDeps(policy, closed));
    const opened = await run(openBreakGlassProcedure<'breakGlassRebootstrap'>, {
      runbook: 'breakGlassRebootstrap',
      plan: { activity: 'planRebootstrap', input: { incidentId: 'INC-74' } },
      changeFreeze: {
        runbook: 'breakGlassRebootstrap',
        incidentId: 'INC-74',
        workflowId: 'wf-INC-74',
        runId: 'run-1',
        at: '2026-12-03T00:00:00.000Z',
      },
    });
    assert.equal(opened.policy.runbook.approvers.length > 0, true);
    assert.deepEqual(opened.plan, { failed: 'connect ECONNREFUSED 127.0.0.1:5432 (test)' });
    assert.deepEqual(opened.changeFreeze, { failed: 'connect ECONNREFUSED 127.0.0.1:5432 (test)' });
  });
});

describe('verifyRestore and findReconcilingWrite', () => {
  test('the approved target snapshot: the transaction refuses an edited one; verification compares with the approved one', async () => {
    const p = await plan('INC-22', 5);
    const editTarget = () =>
      db.pool.query(
        `UPDATE ftf_config_history SET base_env = jsonb_set(base_env, '{CVN_HPO_LGB_5M_LEARNING_RATE}', '"9.99"') WHERE id = 5`,
      );
    await editTarget();
    const refused = await run(
      activities.executeRestore,
      executeInput(p, { expectedTargetHash: p.target.baseEnvHash }),
    );
    assert.equal(refused.status, 'plan_stale');
    assert.equal('reason' in refused && refused.reason, 'target_snapshot_changed');
    assert.equal(await count("SELECT 1 FROM ftf_config_history WHERE tags ? 'break-glass'"), 0);
    assert.equal(await count('SELECT 1 FROM runbook_ledger'), 0, 'nothing ledgered: retrying re-checks');

    // A run planned before the hash was recorded restores what the row holds now; the
    // verification, given the approved hash, no longer calls that a match.
    const restored = await run(activities.executeRestore, executeInput(p));
    assert.equal(restored.status, 'restored');
    const verify = (approvedTargetHash?: string) =>
      run(activities.verifyRestore, {
        incidentId: 'INC-22',
        targetHistoryId: 5,
        restoreHistoryId: (restored as { historyId: number }).historyId,
        expectedVersion: p.expectedVersion,
        ...(approvedTargetHash ? { approvedTargetHash } : {}),
      });
    const againstApproved = await verify(p.target.baseEnvHash);
    assert.equal(againstApproved.liveRow.matchesTargetSnapshot, false);
    assert.equal(againstApproved.ok, false);
    assert.deepEqual(againstApproved.liveRow.problems, [
      'base_env differs from the approved target snapshot',
    ]);
    const againstTheRowAsItIsNow = await verify();
    assert.equal(againstTheRowAsItIsNow.liveRow.matchesTargetSnapshot, true, 'what the old check said');
  });

  test('verification checks the live row, the tagged history row and counts NEW / EQUAL / CONFLICT', async () => {
    const p = await plan('INC-20', 5);
    const outcome = await run(activities.executeRestore, executeInput(p));
    assert.equal(outcome.status, 'restored');
    if (outcome.status !== 'restored') return;
    const verification = await run(activities.verifyRestore, {
      incidentId: 'INC-20',
      targetHistoryId: 5,
      restoreHistoryId: outcome.historyId,
      expectedVersion: p.expectedVersion,
    });
    assert.equal(verification.ok, true);
    // v5 carries the Console edits of v2..v5 (3 + 5 + 4 + 10 keys) over the canonical bundle.
    const canonical = canonicalBaseEnv();
    const expectedConflicts = DEMO_HISTORY.slice(1, 5)
      .flatMap((entry) => Object.entries(entry.edits))
      .filter(([key, value]) => canonical[key] !== value)
      .map(([key]) => key);
    assert.equal(verification.canonical.conflict, new Set(expectedConflicts).size);
    assert.equal(verification.canonical.equal, 455 - verification.canonical.conflict);
    assert.equal(verification.canonical.new, 0);

    // Restoring the seeding snapshot gives CONFLICT 0.
    await db.reset();
    const seed = await plan('INC-21', 1);
    const seeded = await run(activities.executeRestore, executeInput(seed));
    assert.equal(seeded.status, 'restored');
    const clean = await run(activities.verifyRestore, {
      incidentId: 'INC-21',
      targetHistoryId: 1,
      restoreHistoryId: (seeded as { historyId: number }).historyId,
      expectedVersion: seed.expectedVersion,
    });
    assert.deepEqual([clean.canonical.new, clean.canonical.equal, clean.canonical.conflict], [0, 455, 0]);
  });

  test('verification reports a live row someone else changed since', async () => {
    const p = await plan('INC-22', 5);
    const outcome = await run(activities.executeRestore, executeInput(p));
    await db.pool.query("UPDATE ftf_config SET version = 'manual', updated_by = 'psql:bob' WHERE id = 1");
    const verification = await run(activities.verifyRestore, {
      incidentId: 'INC-22',
      targetHistoryId: 5,
      restoreHistoryId: (outcome as { historyId: number }).historyId,
      expectedVersion: p.expectedVersion,
    });
    assert.equal(verification.ok, false);
    assert.equal(verification.liveRow.ok, false);
    assert.equal(verification.historyRow.ok, true);
    assert.match(verification.liveRow.problems.join(';'), /version is manual/);
  });

  test('the reconciling write is found only after the restore row and with the exact change_reason', async () => {
    const p = await plan('INC-23', 5);
    const outcome = await run(activities.executeRestore, executeInput(p));
    const restoreId = (outcome as { historyId: number }).historyId;
    const none = await run(activities.findReconcilingWrite, {
      incidentId: 'INC-23',
      afterHistoryId: restoreId,
    });
    assert.equal(none.found, false);
    await db.pool.query(
      `INSERT INTO ftf_config_history (base_env, version, changed_by, change_reason) VALUES ('{}', 'x', 'console:a', 'break-glass-INC-233')`,
    );
    assert.equal(
      (await run(activities.findReconcilingWrite, { incidentId: 'INC-23', afterHistoryId: restoreId })).found,
      false,
    );
    const inserted = await db.pool.query<{ id: string }>(
      `INSERT INTO ftf_config_history (base_env, version, changed_by, change_reason) VALUES ('{}', 'y', 'console:a', 'break-glass-INC-23') RETURNING id`,
    );
    const found = await run(activities.findReconcilingWrite, {
      incidentId: 'INC-23',
      afterHistoryId: restoreId,
    });
    assert.equal(found.found, true);
    assert.equal((found as { id: number }).id, Number(inserted.rows[0]!.id));
  });
});

describe('notify', () => {
  test('a retried delivery (same key) is recorded once and reported as a duplicate', async () => {
    const notice = {
      deliveryKey: 'wf/run/notice-1-approval_request',
      runbook: 'breakGlassRestore',
      incidentId: 'INC-30',
      workflowId: 'wf',
      kind: 'approval_request',
      severity: 'warning' as const,
      audience: 'approvers' as const,
      subject: 'approve?',
      body: "it's urgent; -- really",
    };
    const first = await run(activities.notifyLog, { channel: 'log', notice });
    const second = await run(activities.notifyLog, { channel: 'log', notice });
    assert.equal(first.duplicate, false);
    assert.equal(second.duplicate, true);
    assert.equal(await count("SELECT 1 FROM runbook_notices WHERE incident_id = 'INC-30'"), 1);
  });
});
