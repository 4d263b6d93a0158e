import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { scratchDir } from '../../src/local/servers';
import type { LoadedPolicy } from '../../src/worker/policy';
import { releaseRollback } from '../../src/workflows';
import {
  abortSignal,
  releaseRollbackWorkflowId,
  statusQuery,
  stepDecisionSignal,
  type ReleaseRollbackInput,
  type ReleaseRollbackStatus,
} from '../../src/workflows/release-rollback/definitions';
import { channelSecrets, policyWithChannels, startSinks, type Sinks } from '../fixtures/channels';
import {
  assertElapsed,
  completedActivities,
  historyEvents,
  noticeAt,
  noticesSent,
  recordHistory,
  scheduledActivities,
} from '../fixtures/history';
import { FakeCluster } from '../fixtures/kubectl';
import { GITHUB_REPOSITORY } from '../fixtures/sinks/apis';
import { activityDeps } from '../fixtures/policy';
import {
  deployImage,
  releaseCluster,
  releaseOnGitHub,
  releaseRollbackSection,
  releaseShas,
} from '../fixtures/release';
import { workflowSuite } from '../fixtures/suite';
import { closeRun, uniqueId } from '../fixtures/temporal';
import { testServerGuarded } from '../fixtures/timers';
import { waitForStatus } from '../fixtures/wait';

/**
 * Seed 001 §5 on the time-skipping server with the seed's targets (pin < 5 min, merge revert
 * < 30 min): fake helm and kubectl on PATH, GitHub a local server. Durations come from the history.
 */

const MIN = 60_000;
const tmp = scratchDir('runbooks-release-rollback');
const suite = workflowSuite({
  server: 'time-skipping',
  clockStart: '2026-12-07T10:00:00Z',
  queuePrefix: 'tq-release',
});
let sinks: Sinks;
let policy: LoadedPolicy;
let cluster: FakeCluster;
let seed = 100;

before(async () => {
  sinks = await startSinks(tmp);
  policy = policyWithChannels(tmp, sinks, {
    overrides: (file) => {
      file.runbooks.releaseRollback = releaseRollbackSection();
    },
  });
});
after(async () => {
  await sinks?.stop();
});
beforeEach(() => {
  sinks.reset();
});

type Handle = WorkflowHandle<typeof releaseRollback>;

/** A fresh world per test: the cluster runs the merge, GitHub knows it and its parent. */
function world(tune: (state: ReturnType<typeof releaseCluster>) => void = () => undefined) {
  seed += 1;
  const shas = releaseShas(seed);
  const state = releaseCluster(shas);
  tune(state);
  cluster = FakeCluster.create(tmp, state);
  cluster.install();
  const mergedPull = releaseOnGitHub(sinks.gitHub, shas);
  return { shas, mergedPull };
}

function withWorker<T>(fn: (taskQueue: string) => Promise<T>): Promise<T> {
  return suite.withWorker(activityDeps(policy, suite.db.pool, channelSecrets(sinks)), fn);
}

async function start(taskQueue: string, input: ReleaseRollbackInput): Promise<Handle> {
  const handle = await suite.env.client.workflow.start(releaseRollback, {
    taskQueue,
    workflowId: `${releaseRollbackWorkflowId(input.storyId, input.mergeSha)}-${uniqueId('t')}`,
    args: [input],
  });
  return testServerGuarded(suite.env, handle);
}

const input = (mergeSha: string, overrides: Partial<ReleaseRollbackInput> = {}): ReleaseRollbackInput => ({
  storyId: 'CVN-N001-EE-S17',
  mergeSha,
  requestedBy: '@dococeven',
  reason: 'T+120 mandatory revert: Epic CCP not shipped',
  ...overrides,
});

async function endRun(handle: Handle): Promise<void> {
  await closeRun(handle, 'test over');
}

const deploymentImage = () => cluster.read().namespaces.cvntrade!.deployments!.scheduler!.image ?? '';

describe('releaseRollback (time-skipping, seed 001 §5)', () => {
  test('dry run: the tag read from GitHub, the helm command, the check and the fallback; no upgrade, no PR, no notice', async () => {
    const { shas } = world();
    await withWorker(async (taskQueue) => {
      const pinning = await start(taskQueue, input(shas.merge, { dryRun: true }));
      const pinned = await pinning.result();
      assert.equal(pinned.outcome, 'dry_run', pinned.message);
      await recordHistory(pinning, 'release-rollback-dry-run');
      assert.deepEqual(pinned.dryRun?.helmPin, {
        kubeContext: 'scheduler-prod',
        namespace: 'cvntrade',
        release: 'cvntrade',
        chart: 'cvntrade/cvntrade',
        set: `cvntradeImageTag=${shas.parent}`,
        tagFrom: 'merge_parent',
        targetMs: 5 * MIN,
      });
      assert.deepEqual(pinned.dryRun?.mergeRevert, {
        repository: GITHUB_REPOSITORY,
        mergeSha: shas.merge,
        targetMs: 30 * MIN,
      });
      assert.match(
        pinned.message,
        new RegExp(
          `^dry run: helm upgrade cvntrade cvntrade/cvntrade --kube-context scheduler-prod --namespace cvntrade --reuse-values --set-string cvntradeImageTag=${shas.parent} --wait --timeout 240s \\(tag from the merge's first parent, target 5m\\), then kubectl exec deployment/scheduler -- grep .*CVN_HPO_.* \\(the old code: absent\\); if the pin does not hold, the revert PR .*; nothing was changed$`,
        ),
      );
      assert.deepEqual(pinned.notices, [], 'no notice');
      const reverting = await (
        await start(taskQueue, input(shas.merge, { dryRun: true, mechanism: 'merge_revert', pinTag: 'v1' }))
      ).result();
      assert.equal(reverting.outcome, 'dry_run', reverting.message);
      assert.equal(reverting.dryRun?.helmPin, undefined, 'merge_revert pins nothing');
      assert.match(
        reverting.message,
        /^dry run: the revert PR of [0-9a-f]{7}'s pull request in \S+ \(target 30m\), then kubectl exec/,
      );
    });
    assert.ok(deploymentImage().endsWith(`:${shas.merge}`), `still the merge: ${deploymentImage()}`);
    assert.deepEqual(cluster.read().helm?.calls ?? [], [], 'helm never called');
    assert.equal(sinks.gitHub.pulls.filter((pull) => pull.reverts).length, 0, 'no revert PR');
  });

  test('helm tag pin: the release goes to the merge’s first parent; the rollout is checked every 15 s until kubectl exec grep shows the old code', async () => {
    const { shas } = world((state) => {
      state.helm!.releases.cvntrade!.rolloutReads = 3;
    });
    await withWorker(async (taskQueue) => {
      const handle = await start(taskQueue, input(shas.merge));
      const result = await handle.result();
      await recordHistory(handle, 'release-rollback-pinned');
      assert.equal(result.outcome, 'pinned', result.message);
      assert.equal(result.helmPin?.pin?.tag, shas.parent);
      assert.equal(result.helmPin?.met, true);
      assert.ok(deploymentImage().endsWith(`:${shas.parent}`), deploymentImage());
      assert.equal(sinks.gitHub.pulls.filter((pull) => pull.reverts).length, 0, 'no revert PR');
      const done = completedActivities(await historyEvents(handle));
      const pinned = done.find((a) => a.type === 'pinHelmImageTag')!;
      const checks = done.filter((a) => a.type === 'verifyReleaseCode');
      assert.equal(checks.length, 4, 'three reads in rollout, the fourth sees the old code');
      // Three 15-second waits between the pin and the read that saw the old code.
      assertElapsed(pinned.completedAtMs, checks.at(-1)!.completedAtMs, 45_000, 15_000, 'pin → verified');
      assert.ok(checks.at(-1)!.completedAtMs - pinned.scheduledAtMs < 5 * MIN);
    });
  });

  test('a pin that does not change the running code falls back at 5 min to the merge revert; not deployed by 30 min → a page; merged and deployed → reverted_by_merge, target missed', async () => {
    const { shas, mergedPull } = world((state) => {
      state.helm!.ignoreTag = true;
    });
    await withWorker(async (taskQueue) => {
      const handle = await start(taskQueue, input(shas.merge));
      try {
        await suite.env.sleep(6 * MIN);
        const waiting = await waitForStatus<ReleaseRollbackStatus>(
          handle,
          (s) => s.step === 'awaiting_revert',
          'the revert PR opened',
        );
        const pr = waiting.detail.mergeRevert!.pullRequest!;
        assert.equal(pr.reverts, mergedPull);
        await suite.env.sleep(30 * MIN);
        const overdue = await waitForStatus<ReleaseRollbackStatus>(
          handle,
          (s) => s.flags.some((f) => f.code === 'target_merge_revert_missed'),
          'the overdue page',
        );
        assert.equal(overdue.detail.mergeRevert?.overdue, true);
        // The revert lands: merged, then CI deploys the revert's image.
        sinks.gitHub.mergePull(pr.number, shas.revert);
        cluster.update((state) => deployImage(state, shas.revert));
        const result = await handle.result();
        await recordHistory(handle, 'release-rollback-merge-revert-overdue');
        assert.equal(result.outcome, 'reverted_by_merge', result.message);
        assert.equal(result.mergeRevert?.met, false);
        assert.ok(result.flags.some((f) => f.code === 'helm_pin_failed'));
        assert.equal(sinks.gitHub.pulls.filter((pull) => pull.reverts === mergedPull).length, 1);
        assert.ok(
          [...sinks.pagerDuty.alerts.keys()].some((key) => key.includes('release_rollback_overdue')),
          'the overdue notice paged',
        );

        const events = await historyEvents(handle);
        const scheduled = scheduledActivities(events);
        // From the workflow task that decided each (the run's clock), not the scheduling event,
        // which the server stamps when that task completes, up to a second later on a busy machine.
        const pinAt = scheduled.find((a) => a.type === 'pinHelmImageTag')!.decidedAtMs;
        const revertAt = scheduled.find((a) => a.type === 'openGitHubRevertPullRequest')!.decidedAtMs;
        // The pin's checks run every 15 s until 5 min have passed: the fallback comes at 5:00–5:20.
        assertElapsed(pinAt, revertAt, 5 * MIN, 20_000, 'pin → merge revert');
        assertElapsed(
          revertAt,
          noticeAt(events, 'release_rollback_overdue'),
          30 * MIN,
          20_000,
          'revert → page',
        );
        // The old code runs: both pages are answered, resolved in the workflow task that saw it
        // verified (the one that sent the "done" notice), not left open in PagerDuty.
        for (const kind of ['release_rollback_pin_failed', 'release_rollback_overdue'])
          assert.equal(sinks.pagerDuty.alerts.get(`${handle.workflowId}/${kind}`)?.status, 'resolved', kind);
        const sent = noticesSent(events);
        const doneMs = sent.find((n) => n.kind === 'release_rollback_done')!.decidedAtMs;
        const resolves = sent.filter((n) => n.page?.action === 'resolve');
        assert.deepEqual(
          resolves.map((n) => [n.page!.dedupKey, n.decidedAtMs]),
          ['release_rollback_pin_failed', 'release_rollback_overdue'].map((kind) => [
            `${handle.workflowId}/${kind}`,
            doneMs,
          ]),
        );
      } finally {
        await endRun(handle);
      }
    });
  });

  test('a revert PR closed without merging waits for a human (paged); an abort by someone not on the roster is refused, by a decider it ends the run aborted', async () => {
    const { shas } = world();
    await withWorker(async (taskQueue) => {
      const handle = await start(taskQueue, input(shas.merge, { mechanism: 'merge_revert' }));
      try {
        const waiting = await waitForStatus<ReleaseRollbackStatus>(
          handle,
          (s) => s.step === 'awaiting_revert',
          'the revert PR opened',
        );
        const pull = sinks.gitHub.pulls.find(
          (p) => p.number === waiting.detail.mergeRevert!.pullRequest!.number,
        )!;
        pull.state = 'closed';
        await suite.env.sleep(6 * MIN);
        const stuck = await waitForStatus<ReleaseRollbackStatus>(
          handle,
          (s) => s.step === 'needs_human',
          'needs_human',
        );
        assert.equal(stuck.needsHuman?.step, 'read_revert_pr');
        assert.match(stuck.needsHuman.error, /closed without merging/);
        assert.deepEqual(cluster.read().helm?.calls ?? [], [], 'merge_revert never touches the helm release');
        await handle.signal(abortSignal, { by: '@mallory', reason: 'let me' });
        await handle.signal(stepDecisionSignal, {
          by: '@eng-tl',
          decision: 'abort',
          reason: 'reverted by hand',
        });
        const result = await handle.result();
        assert.equal(result.outcome, 'aborted');
        assert.match(result.message, /aborted by @eng-tl: reverted by hand/);
        assert.ok(
          result.refusedAttempts.some((r) => r.by === '@mallory' && r.reason === 'not_authorized'),
          JSON.stringify(result.refusedAttempts),
        );
        const s = (await handle.query(statusQuery)) as ReleaseRollbackStatus;
        assert.equal(s.detail.helmPin, undefined);
      } finally {
        await endRun(handle);
      }
    });
  });

  test('bad input fails the run at its start, naming each field', async () => {
    await withWorker(async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseRollback, {
        taskQueue,
        workflowId: uniqueId('release-rollback-bad'),
        args: [{ storyId: 'S17; rm', mergeSha: 'HEAD', requestedBy: '@dococeven', reason: ' ' }],
      });
      await assert.rejects(handle.result(), (error: unknown) => {
        assert.ok(error instanceof WorkflowFailedError);
        const message = String(error.cause?.message);
        for (const field of ['storyId', 'mergeSha', 'reason']) assert.match(message, new RegExp(field));
        return true;
      });
    });
  });
});
