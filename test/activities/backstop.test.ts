import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Pool } from 'pg';
import { createActivities } from '../../src/activities';
import { INLINE_STEP_MS } from '../../src/activities/inline';
import { createTestDatabase, type TestDatabase } from '../fixtures/database';
import {
  activityDeps,
  declareStory,
  defaultPolicy,
  TRACKER_SECRETS,
  withTrackerChannels,
} from '../fixtures/policy';

/**
 * openBackstopProgram: a new backstop program's policy read and story claim in one activity, on
 * real Postgres. The claim is made only when asked and served; a claim that fails or does not
 * answer leaves the policy read standing and says why (the workflow then claims in its own step).
 */

const STORY = 'CVN-OPEN-1';
const PROGRAM = {
  dri: '@dococeven',
  openProject: { epicId: 149, storyWorkPackageId: 153 },
  github: { repository: 'champollion/ftf' },
  consoleRestoreProbeUrl: 'https://console.example/restore',
};
const run = (runId: string) => ({
  workflowId: `backstop-${STORY}`,
  runId,
  at: '2026-12-03T08:00:00.000Z',
});

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

const served = withTrackerChannels(defaultPolicy());
declareStory(served, STORY, PROGRAM);
const open = (pool: Pool) =>
  createActivities(activityDeps(served, pool, TRACKER_SECRETS)).openBackstopProgram;

async function started(storyId: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ run_id: string }>(
    `SELECT run_id FROM backstop_story_events WHERE story_id = $1 AND kind = 'started' ORDER BY at, entry_key`,
    [storyId],
  );
  return rows.map((row) => row.run_id);
}

describe('openBackstopProgram', () => {
  test('reads the story’s policy and claims it; a retry returns the first claim; a second program is refused', async () => {
    const openProgram = open(db.pool);
    const first = await openProgram({ storyId: STORY, claim: run('run-1') });
    assert.equal(first.policy.unserved, undefined);
    assert.deepEqual(Object.keys(first.policy.runbook.stories), [STORY]);
    assert.deepEqual(first.claim, { allowed: true });
    assert.equal(first.claimFailed, undefined);
    // The activity retried after its commit (its answer lost): the same claim, nothing written twice.
    assert.deepEqual((await openProgram({ storyId: STORY, claim: run('run-1') })).claim, { allowed: true });
    assert.deepEqual(await started(STORY), ['run-1']);
    const second = await openProgram({ storyId: STORY, claim: run('run-2') });
    assert.equal(second.claim?.allowed, false);
    assert.deepEqual(await started(STORY), ['run-1']);
  });

  test('programs of one story claiming at once: exactly one is allowed, one start is written', async () => {
    const CLAIMS = 8;
    const stories = Array.from({ length: 5 }, (_, i) => `CVN-OPEN-RACE-${i}`);
    const policy = withTrackerChannels(defaultPolicy());
    for (const storyId of stories) declareStory(policy, storyId, PROGRAM);
    // One connection per claim, opened before they start, so the claims really meet in Postgres.
    const pool = new Pool({ connectionString: db.url, max: CLAIMS });
    try {
      const warm = await Promise.all(Array.from({ length: CLAIMS }, () => pool.connect()));
      for (const client of warm) client.release();
      const { openBackstopProgram } = createActivities(activityDeps(policy, pool, TRACKER_SECRETS));
      for (const storyId of stories) {
        const runs = Array.from({ length: CLAIMS }, (_, i) => `${storyId}-run-${i}`);
        const claims = await Promise.all(
          runs.map((runId) => openBackstopProgram({ storyId, claim: run(runId) })),
        );
        const allowed = runs.filter((_, i) => claims[i]?.claim?.allowed === true);
        assert.equal(
          allowed.length,
          1,
          `${storyId}: ${JSON.stringify(claims.map((c) => c.claim ?? c.claimFailed))}`,
        );
        assert.deepEqual(await started(storyId), allowed);
        for (const claim of claims.filter((c) => c.claim?.allowed === false))
          assert.equal(claim.claim?.allowed === false && claim.claim.previous.runId, allowed[0]);
      }
    } finally {
      await pool.end();
    }
  });

  test('a reopen is recorded once and answered the same on a retry; a program that ended is named with its outcome', async () => {
    const storyId = 'CVN-OPEN-REOPEN';
    const policy = withTrackerChannels(defaultPolicy());
    declareStory(policy, storyId, PROGRAM);
    const activities = createActivities(activityDeps(policy, db.pool, TRACKER_SECRETS));
    assert.deepEqual((await activities.openBackstopProgram({ storyId, claim: run('first') })).claim, {
      allowed: true,
    });
    await activities.recordStoryProgramEnd({
      storyId,
      ...run('first'),
      at: '2026-12-03T09:00:00.000Z',
      outcome: 'parked',
    });
    const reopen = { by: '@dococeven', reason: 'parked work resumed' };
    const answers = [];
    for (let attempt = 0; attempt < 2; attempt++)
      answers.push(
        (await activities.openBackstopProgram({ storyId, claim: { ...run('second'), reopen } })).claim,
      );
    const previous = {
      workflowId: `backstop-${STORY}`,
      runId: 'first',
      startedAt: '2026-12-03T08:00:00.000Z',
      outcome: 'parked',
      endedAt: '2026-12-03T09:00:00.000Z',
    };
    const expected = { allowed: true, reopened: { ...reopen, at: '2026-12-03T08:00:00.000Z', previous } };
    assert.deepEqual(answers, [expected, expected]);
    assert.deepEqual(await started(storyId), ['first', 'second']);
    const { rows } = await db.pool.query<{ kind: string }>(
      'SELECT kind FROM backstop_story_events WHERE story_id = $1 AND run_id = $2 ORDER BY entry_key',
      [storyId, 'second'],
    );
    assert.deepEqual(
      rows.map((row) => row.kind),
      ['reopened', 'started'],
    );
  });

  test('claims nothing when not asked, for an undeclared story, or on a worker that cannot serve the backstop', async () => {
    const notAsked = await open(db.pool)({ storyId: 'CVN-OPEN-2' });
    assert.equal(notAsked.claim, undefined);
    const undeclared = await open(db.pool)({ storyId: 'CVN-OPEN-9', claim: run('run-9') });
    assert.equal(undeclared.claim, undefined);
    assert.deepEqual(Object.keys(undeclared.policy.runbook.stories), []);

    const unservedPolicy = defaultPolicy(); // no tracker channels: the backstop is not served
    declareStory(unservedPolicy, 'CVN-OPEN-3', PROGRAM);
    const { openBackstopProgram } = createActivities(activityDeps(unservedPolicy, db.pool));
    const unserved = await openBackstopProgram({ storyId: 'CVN-OPEN-3', claim: run('run-3') });
    assert.match(unserved.policy.unserved ?? '', /openProject|OpenProject|channel/);
    assert.equal(unserved.claim, undefined);
    for (const storyId of ['CVN-OPEN-2', 'CVN-OPEN-9', 'CVN-OPEN-3'])
      assert.deepEqual(await started(storyId), []);
  });

  test('Postgres refusing or not answering: the policy still comes back, with why the claim failed', async () => {
    // Nothing listens: the connection is refused at once.
    const closed = new Pool({ connectionString: 'postgres://runbooks@127.0.0.1:9/none', max: 1 });
    closed.on('error', () => undefined);
    const refused = await open(closed)({ storyId: STORY, claim: run('run-4') });
    assert.deepEqual(Object.keys(refused.policy.runbook.stories), [STORY]);
    assert.equal(refused.claim, undefined);
    assert.match(refused.claimFailed ?? '', /ECONNREFUSED/);
    await closed.end();

    // A server that accepts and never answers: the claim gives up after INLINE_STEP_MS.
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const mute = new Pool({ connectionString: `postgres://runbooks@127.0.0.1:${port}/none`, max: 1 });
    mute.on('error', () => undefined);
    try {
      const hung = await open(mute)({ storyId: STORY, claim: run('run-5') });
      assert.equal(hung.claim, undefined);
      assert.equal(hung.claimFailed, `no answer from Postgres within ${INLINE_STEP_MS} ms`);
      assert.deepEqual(Object.keys(hung.policy.runbook.stories), [STORY]);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
      await mute.end().catch(() => undefined);
    }
    assert.deepEqual(await started(STORY), ['run-1']);
  });
});
