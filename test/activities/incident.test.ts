import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createActivities } from '../../src/activities';
import { businessDaysDueMs } from '../../src/common/incident';
import { policySchema, type PolicyFile } from '../../src/common/policy';
import { DEFAULT_POLICY_FILE } from '../../src/worker/config';
import { readFileSync } from 'node:fs';
import { createTestDatabase, type TestDatabase } from '../fixtures/database';
import { activityDeps, defaultPolicy } from '../fixtures/policy';

/** Seed 004's pieces outside the workflow: the change freeze in Postgres, the calendar, the policy. */

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
});

describe('change freeze (Postgres): each write once, whatever the retries', () => {
  const at = '2026-12-04T09:00:00.000Z';
  const freeze = {
    incidentId: 'INC-F1',
    environment: 'production',
    workflowId: 'incident-INC-F1',
    by: '@sre-lead',
    reason: 'P1',
    at,
  };
  const check = {
    runbook: 'breakGlassRestore',
    workflowId: 'break-glass-restore-INC-F2',
    runId: 'run-1',
    incidentId: 'INC-F2',
    at: '2026-12-04T09:05:00.000Z',
  };

  test('set twice (a retry after the commit) is one freeze, as first recorded; lift twice is one lift', async () => {
    await db.reset();
    const activities = createActivities(activityDeps(defaultPolicy(), db.pool));
    const first = await activities.setChangeFreeze(freeze);
    const again = await activities.setChangeFreeze({ ...freeze, at: '2026-12-04T09:01:00.000Z' });
    assert.deepEqual(again, first);
    assert.equal(first.frozenAt, at);
    const lift = { incidentId: freeze.incidentId, environment: freeze.environment, by: '@sre-lead' };
    const lifted = await activities.liftChangeFreeze({ ...lift, at: '2026-12-04T10:00:00.000Z' });
    const liftedAgain = await activities.liftChangeFreeze({ ...lift, at: '2026-12-04T10:05:00.000Z' });
    assert.deepEqual(liftedAgain, lifted);
    assert.equal(lifted?.liftedAt, '2026-12-04T10:00:00.000Z');
    const { rows } = await db.pool.query('SELECT * FROM change_freezes');
    assert.equal(rows.length, 1);
  });

  test('a lift by hand records why; its retry (another reason, later) changes nothing; the incident reads every freeze', async () => {
    await db.reset();
    const activities = createActivities(activityDeps(defaultPolicy(), db.pool));
    await activities.setChangeFreeze(freeze);
    await activities.setChangeFreeze({ ...freeze, environment: 'staging' });
    const lift = { incidentId: freeze.incidentId, environment: 'staging', by: '@sre-lead' };
    const lifted = await activities.liftChangeFreeze({
      ...lift,
      reason: 'run cancelled',
      at: '2026-12-04T10:00:00.000Z',
    });
    const retried = await activities.liftChangeFreeze({
      ...lift,
      reason: 'other',
      at: '2026-12-04T10:05:00.000Z',
    });
    assert.deepEqual(retried, lifted);
    assert.equal(lifted?.liftReason, 'run cancelled');
    const read = await activities.readIncidentFreezes({ incidentId: freeze.incidentId });
    assert.deepEqual(
      read.map((row) => [row.environment, row.liftedAt ?? 'in force']),
      [
        ['production', 'in force'],
        ['staging', '2026-12-04T10:00:00.000Z'],
      ],
    );
    await assert.rejects(activities.readIncidentFreezes({ incidentId: '' }), /incidentId/);
  });

  test('a check sees the freeze in force; an override crosses it once per run, recorded', async () => {
    await db.reset();
    const activities = createActivities(activityDeps(defaultPolicy(), db.pool));
    assert.deepEqual(await activities.checkChangeFreeze(check), { environment: 'production', frozen: false });
    await activities.setChangeFreeze(freeze);
    const refused = await activities.checkChangeFreeze(check);
    assert.equal(refused.frozen && refused.crossed, false);
    const override = { by: '@oncall-lead', reason: 'the fix itself' };
    const crossed = await activities.checkChangeFreeze({ ...check, override });
    await activities.checkChangeFreeze({ ...check, override });
    assert.equal(crossed.frozen && crossed.crossed, true);
    const { rows } = await db.pool.query<{ by_handle: string; incident_ids: string[] }>(
      'SELECT by_handle, incident_ids FROM change_freeze_crossings',
    );
    assert.deepEqual(rows, [{ by_handle: '@oncall-lead', incident_ids: ['INC-F1'] }]);
    // Another environment is not frozen.
    const staging = await activities.checkChangeFreeze({ ...check, environment: 'staging' });
    assert.equal(staging.frozen, false);
  });

  test('a bad input is refused naming the field, before any SQL', async () => {
    const activities = createActivities(activityDeps(defaultPolicy(), db.pool));
    await assert.rejects(
      activities.setChangeFreeze({ ...freeze, environment: 'Prod; DROP TABLE' }),
      /environment/,
    );
  });
});

describe('business days (UTC) for the post-incident review', () => {
  const calendar = { weekendDays: [0, 6], holidays: ['2026-12-08'] };
  const due = (from: string) => new Date(businessDaysDueMs(Date.parse(from), 3, calendar)).toISOString();

  test('resolved on a Friday: Mon, (holiday Tue), Wed, Thu → due Friday 00:00Z', () => {
    assert.equal(due('2026-12-04T15:00:00Z'), '2026-12-11T00:00:00.000Z');
  });
  test('resolved on a Saturday: the weekend does not count', () => {
    assert.equal(due('2026-12-12T03:00:00Z'), '2026-12-17T00:00:00.000Z');
  });
  test('resolved on a Monday without holidays: Tue, Wed, Thu → Friday 00:00Z', () => {
    assert.equal(
      new Date(
        businessDaysDueMs(Date.parse('2026-12-14T08:00:00Z'), 3, { weekendDays: [0, 6], holidays: [] }),
      ).toISOString(),
      '2026-12-18T00:00:00.000Z',
    );
  });
});

describe('incident policy', () => {
  const base = (): PolicyFile => JSON.parse(readFileSync(DEFAULT_POLICY_FILE, 'utf8')) as PolicyFile;

  test('slower than the seed is refused, naming the field', () => {
    const file = base();
    file.runbooks.incident = { responders: ['@sre-lead'], commanderAckWithin: '20m', updateEvery: '1h' };
    const parsed = policySchema.safeParse(file);
    assert.equal(parsed.success, false);
    const paths = parsed.error.issues.map((issue) => issue.path.join('.'));
    assert.ok(paths.includes('runbooks.incident.commanderAckWithin'), paths.join(', '));
    assert.ok(paths.includes('runbooks.incident.updateEvery'), paths.join(', '));
  });

  test('the seed’s paging matrix by default; a policy without the section cannot run incidents', async () => {
    const parsed = policySchema.parse(base());
    assert.deepEqual(parsed.runbooks.incident?.paging.data_breach, ['@dpo', '@legal', '@security-lead']);
    const without = base();
    delete without.runbooks.incident;
    const loaded = { ...defaultPolicy(), policy: policySchema.parse(without) };
    const snapshot = await createActivities(activityDeps(loaded, db.pool)).loadRunbookPolicy({
      runbook: 'incident',
    });
    assert.match(snapshot.unserved ?? '', /no runbooks.incident section/);
  });
});
