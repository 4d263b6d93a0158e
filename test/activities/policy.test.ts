import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Pool } from 'pg';
import { createActivities } from '../../src/activities';
import { activityDeps, declareStory, defaultPolicy } from '../fixtures/policy';

describe('loadRunbookPolicy', () => {
  const loaded = defaultPolicy();
  for (const storyId of ['CVN-S1', 'CVN-S2', 'CVN-S3'])
    declareStory(loaded, storyId, {
      dri: '@dococeven',
      openProject: { epicId: 149, storyWorkPackageId: 153 },
      github: { repository: 'champollion/ftf' },
      consoleRestoreProbeUrl: 'https://console.example/restore',
    });
  // The policy read touches no database.
  const { loadRunbookPolicy } = createActivities(activityDeps(loaded, {} as Pool));

  test('a backstop run gets its own story only (how many the policy declares only when it is not one)', async () => {
    const snapshot = await loadRunbookPolicy({ runbook: 'backstop', storyId: 'CVN-S2' });
    assert.deepEqual(Object.keys(snapshot.runbook.stories), ['CVN-S2']);
    assert.equal(snapshot.storiesDeclared, undefined);
    assert.equal(snapshot.runbook.decisionWindow, loaded.policy.runbooks.backstop.decisionWindow);
  });

  test('an undeclared story (or an Object.prototype name) gets none', async () => {
    for (const storyId of ['CVN-S9', 'constructor', '__proto__']) {
      const snapshot = await loadRunbookPolicy({ runbook: 'backstop', storyId });
      assert.deepEqual(Object.keys(snapshot.runbook.stories), [], storyId);
      assert.equal(snapshot.storiesDeclared, 3);
    }
  });

  test('without a story (runs recorded before the patch) the whole section, as before', async () => {
    const snapshot = await loadRunbookPolicy({ runbook: 'backstop' });
    assert.deepEqual(Object.keys(snapshot.runbook.stories), ['CVN-S1', 'CVN-S2', 'CVN-S3']);
    assert.equal(snapshot.storiesDeclared, undefined);
  });
});
