import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createActivities } from '../../src/activities';
import { graphqlUrl } from '../../src/activities/trackers/github-pulls';
import { scratchDir } from '../../src/local/servers';
import type { LoadedPolicy } from '../../src/worker/policy';
import { channelSecrets, policyWithChannels, startSinks, type Sinks } from '../fixtures/channels';
import { createTestDatabase, type TestDatabase } from '../fixtures/database';
import { FakeCluster } from '../fixtures/kubectl';
import { activityDeps } from '../fixtures/policy';
import {
  deployImage,
  releaseCluster,
  releaseOnGitHub,
  releaseRollbackSection,
  releaseShas,
} from '../fixtures/release';
import { GITHUB_REPOSITORY } from '../fixtures/sinks/apis';

/** Seed 001 §5's activities against the fake helm/kubectl and a local GitHub: each change once. */

const tmp = scratchDir('runbooks-release-activities');
let db: TestDatabase;
let sinks: Sinks;
let policy: LoadedPolicy;
let cluster: FakeCluster;
const shas = releaseShas(7);

before(async () => {
  [db, sinks] = await Promise.all([createTestDatabase(), startSinks(tmp)]);
  policy = policyWithChannels(tmp, sinks, {
    overrides: (file) => {
      file.runbooks.releaseRollback = releaseRollbackSection();
    },
  });
});
after(async () => {
  await sinks?.stop();
  await db?.drop();
});
beforeEach(async () => {
  await db.reset();
  sinks.reset();
  cluster = FakeCluster.create(tmp, releaseCluster(shas));
  cluster.install();
});

const activities = () => createActivities(activityDeps(policy, db.pool, channelSecrets(sinks)));
const upgrades = () => (cluster.read().helm?.calls ?? []).filter((call) => call[0] === 'upgrade');

describe('helm tag pin (fake helm on PATH)', () => {
  test('pins once: a retry with the same key returns the first answer; another key finds the tag set and upgrades nothing', async () => {
    const act = activities();
    const first = await act.pinHelmImageTag({ tag: shas.parent, deliveryKey: 'rr-1/helm-pin' });
    assert.equal(first.previousTag, shas.merge);
    assert.equal(first.alreadyPinned, false);
    assert.deepEqual(first.argv.slice(0, 7), [
      'helm',
      'upgrade',
      'cvntrade',
      'cvntrade/cvntrade',
      '--kube-context',
      'scheduler-prod',
      '--namespace',
    ]);
    assert.ok(first.argv.includes(`cvntradeImageTag=${shas.parent}`));
    const again = await act.pinHelmImageTag({ tag: shas.parent, deliveryKey: 'rr-1/helm-pin' });
    assert.equal(again.replayed, true);
    const otherKey = await act.pinHelmImageTag({ tag: shas.parent, deliveryKey: 'rr-2/helm-pin' });
    assert.equal(otherKey.alreadyPinned, true);
    assert.equal(upgrades().length, 1, 'one helm upgrade in all');
    const check = await act.verifyReleaseCode();
    assert.equal(check.imageTag, shas.parent);
    assert.equal(check.matches, 0);
    assert.equal(check.oldCodeRunning, true);
  });

  test('a failed upgrade is an error naming helm and its stderr, and nothing is ledgered (a retry upgrades)', async () => {
    cluster.update((state) => {
      state.helm!.failNext = ['Error: UPGRADE FAILED: timed out waiting for the condition'];
    });
    const act = activities();
    await assert.rejects(
      act.pinHelmImageTag({ tag: shas.parent, deliveryKey: 'rr-3/helm-pin' }),
      /helm upgrade cvntrade: Error: UPGRADE FAILED: timed out waiting for the condition/,
    );
    const retried = await act.pinHelmImageTag({ tag: shas.parent, deliveryKey: 'rr-3/helm-pin' });
    assert.equal(retried.replayed, false);
    assert.equal(upgrades().length, 2);
  });

  test('a tag that is not an image tag is refused before helm runs', async () => {
    await assert.rejects(
      activities().pinHelmImageTag({ tag: '--set=evil', deliveryKey: 'rr-4/helm-pin' }),
      /tag/,
    );
    assert.equal(cluster.read().helm?.calls, undefined);
  });

  test('the code check reads the running image: the merge has the pattern, so the old code is not running', async () => {
    const check = await activities().verifyReleaseCode();
    assert.equal(check.imageTag, shas.merge);
    assert.equal(check.matches, 1);
    assert.equal(check.oldCodeRunning, false);
    assert.match(check.command, /exec deployment\/scheduler -- grep -c -F -e CVN_HPO_ \/app\/src/);
  });
});

describe('merge revert (local GitHub API)', () => {
  test('the merge parent comes from the commit; the revert PR is opened once per key, through GraphQL', async () => {
    const merged = releaseOnGitHub(sinks.gitHub, shas);
    const act = activities();
    const channel = 'github';
    const parent = await act.gitHubMergeParent({ channel, repository: GITHUB_REPOSITORY, sha: shas.merge });
    assert.equal(parent.sha, shas.parent);
    const open = {
      channel,
      repository: GITHUB_REPOSITORY,
      mergeSha: shas.merge,
      title: 'Revert S17',
      body: 'seed 001 §5',
      deliveryKey: 'rr-5/revert-pr',
    };
    const first = await act.openGitHubRevertPullRequest(open);
    assert.equal(first.reverts, merged);
    assert.equal(first.created, true);
    // The ledger row lost (a retry after the PR was opened but before the row was written):
    // the marker in the PR's body finds it.
    await db.pool.query('DELETE FROM runbook_deliveries');
    const again = await act.openGitHubRevertPullRequest(open);
    assert.deepEqual({ ...again, created: true }, first);
    assert.equal(again.created, false);
    assert.equal(sinks.gitHub.pulls.filter((pull) => pull.reverts === merged).length, 1);
    const state = await act.readGitHubPullRequest({
      channel,
      repository: GITHUB_REPOSITORY,
      number: first.number,
    });
    assert.deepEqual([state.state, state.merged], ['open', false]);
    sinks.gitHub.mergePull(first.number, shas.revert);
    const mergedState = await act.readGitHubPullRequest({
      channel,
      repository: GITHUB_REPOSITORY,
      number: first.number,
    });
    assert.deepEqual([mergedState.merged, mergedState.mergeSha], [true, shas.revert]);
    cluster.update((s) => deployImage(s, shas.revert));
    assert.equal((await act.verifyReleaseCode()).oldCodeRunning, true);
  });

  test('a merge GitHub does not know is a refusal that names it (not retried)', async () => {
    await assert.rejects(
      activities().openGitHubRevertPullRequest({
        channel: 'github',
        repository: GITHUB_REPOSITORY,
        mergeSha: shas.merge,
        title: 'Revert',
        body: '',
        deliveryKey: 'rr-6/revert-pr',
      }),
      (error: Error & { nonRetryable?: boolean }) =>
        /no merged pull request of .* has merge commit/.test(error.message) && error.nonRetryable === true,
    );
  });

  test('GraphQL beside REST: api.github.com/graphql, GitHub Enterprise /api/graphql', () => {
    assert.equal(graphqlUrl('https://api.github.com'), 'https://api.github.com/graphql');
    assert.equal(graphqlUrl('https://ghe.example/api/v3/'), 'https://ghe.example/api/graphql');
  });
});
