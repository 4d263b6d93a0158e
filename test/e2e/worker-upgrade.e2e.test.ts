import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, type Worker, type WorkflowBundle } from '@temporalio/worker';
import { decodeVersioningBehavior } from '@temporalio/common/lib/worker-deployments';
import { scratchDir } from '../../src/local/servers';
import type { LoadedPolicy } from '../../src/worker/policy';
import { VERSIONED_WORKFLOWS_PATH, workflowBundleOptions } from '../../src/worker/paths';
import { createRunbookWorker } from '../../src/worker/worker';
import { backstopProgram, breakGlassRestore } from '../../src/workflows';
import {
  backstopWorkflowId,
  recordDecisionSignal,
  type BackstopStatus,
} from '../../src/workflows/backstop-program/definitions';
import { abortSignal, approveSignal } from '../../src/workflows/break-glass-restore/definitions';
import { rejectSignal, type ReenablementStatus } from '../../src/workflows/phased-reenablement/definitions';
import { WORKFLOW_VERSIONING } from '../../src/workflows/versioning';
import { channelSecrets } from '../fixtures/channels';
import { IC } from '../fixtures/fault-matrix';
import { historyEvents } from '../fixtures/history';
import { FakeCluster, orchestratorCluster } from '../fixtures/kubectl';
import { activityDeps, declareStory, rollbackPolicy } from '../fixtures/policy';
import { HEALTHY, PILOT, reenablementInput, startReenablement } from '../fixtures/reenablement';
import { GITHUB_REPOSITORY } from '../fixtures/sinks/apis';
import { workflowSuite } from '../fixtures/suite';
import { uniqueId } from '../fixtures/temporal';
import { atStep, waitForStatus, withinDeadline } from '../fixtures/wait';
import {
  matrixPolicy,
  startMatrixWorld,
  stopMatrixWorld,
  type MatrixWorld,
} from '../workflows/fault-matrix/world';
import { testDataConverter } from '../fixtures/payload-keys';
import { quietLogger } from '../fixtures/logger';

/**
 * Worker Versioning end to end on the dev server: a deployment's build A starts a backstop
 * programme, a re-enablement and a break-glass restore; A stops and build B (a logic change
 * behind patched()) becomes current. The two long-lived runs (AUTO_UPGRADE) go on and finish on
 * B; the restore (PINNED) waits for a worker of A, and finishes on A once one drains it.
 */

const tmp = scratchDir('runbooks-upgrade');
const suite = workflowSuite({ server: 'dev', resetDatabase: false });
const DAY = 24 * 3_600_000;
let world: Omit<MatrixWorld, 'suite'>;
let policy: LoadedPolicy;
let bundleA: WorkflowBundle;
let bundleB: WorkflowBundle;

before(async () => {
  [world, bundleA, bundleB] = await Promise.all([
    startMatrixWorld(tmp),
    bundleWorkflowCode({
      ...workflowBundleOptions(VERSIONED_WORKFLOWS_PATH),
      logger: quietLogger,
    }),
    bundleWorkflowCode({
      ...workflowBundleOptions(require.resolve('../fixtures/build-b')),
      logger: quietLogger,
    }),
  ]);
  // Test-only: holds of seconds so a re-enablement sleeps through the upgrade within the test.
  policy = rollbackPolicy(tmp, world.prometheus.url, (file) => {
    matrixPolicy(world, file);
    file.testOnlyShortDurations = true;
    file.runbooks.phasedReenablement.holdBounds = { min: '1s', max: '72h' };
    file.runbooks.phasedReenablement.analysisInterval = '3s';
  });
  FakeCluster.create(tmp, orchestratorCluster({ allowlist: [PILOT], replicas: 3 })).install();
  Object.assign(world.prometheus.values, HEALTHY);
  const wps = world.sinks.openProject.workPackages;
  for (const id of [...wps.keys()]) if (id !== 153) wps.delete(id);
  delete wps.get(153)!.parentId;
  wps.set(149, { id: 149, subject: 'Epic CCP', status: 'New', comments: [] });
});

after(() => stopMatrixWorld(world));

/** Makes `buildId` the deployment's current version (retried until its worker has polled). */
async function makeCurrent(deploymentName: string, buildId: string): Promise<void> {
  for (const deadline = Date.now() + 30_000; ;) {
    try {
      await suite.env.client.workflowService.setWorkerDeploymentCurrentVersion({
        namespace: 'default',
        deploymentName,
        buildId,
        identity: 'worker-upgrade test',
      });
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`${deploymentName}:${buildId} did not become current: ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** The build id that completed each workflow task of the run, in order. */
async function buildsThatWorked(handle: WorkflowHandle): Promise<string[]> {
  return (await historyEvents(handle))
    .map((event) => event.workflowTaskCompletedEventAttributes)
    .filter((done) => done !== undefined && done !== null)
    .map((done) => done.deploymentVersion?.buildId ?? '(unversioned)');
}

async function versioningOf(handle: WorkflowHandle): Promise<{ behavior: string; buildId: string }> {
  const info = (await handle.describe()).raw.workflowExecutionInfo?.versioningInfo;
  return {
    behavior: decodeVersioningBehavior(info?.behavior) ?? 'unversioned',
    buildId: info?.deploymentVersion?.buildId ?? '',
  };
}

describe('Worker Versioning (dev server)', () => {
  test('each workflow type declares PINNED or AUTO_UPGRADE; the long-lived ones upgrade', () => {
    assert.equal(WORKFLOW_VERSIONING.backstopProgram, 'AUTO_UPGRADE');
    assert.equal(WORKFLOW_VERSIONING.phasedReenablement, 'AUTO_UPGRADE');
    for (const name of ['breakGlassRestore', 'breakGlassConsoleEdit', 'breakGlassRebootstrap'] as const)
      assert.equal(WORKFLOW_VERSIONING[name], 'PINNED', name);
  });

  test('A → B: sleeping programmes finish on B (its patched change included); a PINNED restore finishes on A', async () => {
    const deploymentName = uniqueId('durable-runbooks');
    const taskQueue = uniqueId('tq-upgrade');
    const deps = activityDeps(policy, suite.db.pool, channelSecrets(world.sinks), {
      stagingDb: world.staging.pool,
    });
    const workers: { worker: Worker; running: Promise<void> }[] = [];
    const startBuild = async (buildId: string, workflowBundle: WorkflowBundle): Promise<Worker> => {
      const worker = await createRunbookWorker({
        dataConverter: testDataConverter(),
        connection: suite.env.nativeConnection,
        namespace: 'default',
        taskQueue,
        workflowBundle,
        deps,
        deployment: { deploymentName, buildId },
        identity: `build-${buildId}-${workers.length}`,
      });
      workers.push({ worker, running: worker.run() });
      return worker;
    };
    const stop = async (worker: Worker): Promise<void> => {
      worker.shutdown();
      await workers.find((entry) => entry.worker === worker)!.running;
    };
    try {
      const buildA = await startBuild('A', bundleA);
      await makeCurrent(deploymentName, 'A');

      // Build A starts the three runs; each then waits (a decision, a hold, an approval).
      const storyId = uniqueId('CVN-S17');
      declareStory(policy, storyId, {
        dri: IC,
        openProject: { epicId: 149, storyWorkPackageId: 153 },
        github: { repository: GITHUB_REPOSITORY, gateFailureLabel: 'gate-failure' },
        consoleRestoreProbeUrl: `${world.restoreProbe.sink.url}/config/history/restore`,
      });
      // Merged 91 days ago: T+90 has passed, the programme asks for its decision and waits.
      const mergedAt = new Date(Date.now() - 91 * DAY).toISOString().replace(/\.\d+Z$/, 'Z');
      const backstop = await suite.env.client.workflow.start(backstopProgram, {
        taskQueue,
        workflowId: backstopWorkflowId(storyId),
        args: [{ storyId, mergeSha: '0b0a9c7f', mergedAt }],
      });
      const reenablement = await startReenablement(
        suite.env,
        taskQueue,
        reenablementInput({ remainingRepos: [], holdOverrides: { canaryHold: '25s' } }),
      );
      const restoreId = uniqueId('INC');
      const restore = await suite.env.client.workflow.start(breakGlassRestore, {
        taskQueue,
        workflowId: `break-glass-restore-${restoreId}`,
        args: [
          {
            incidentId: restoreId,
            targetHistoryId: 5,
            requestedBy: '@dococeven',
            rationale: 'LGB 5M learning rate 0.0 by a Console typo; restoring the previous snapshot',
          },
        ],
      });
      await waitForStatus<BackstopStatus>(
        backstop,
        (s) => s.detail.awaiting?.kind === 't90_decision',
        'the T+90 decision',
        60_000,
      );
      await waitForStatus<ReenablementStatus>(reenablement, atStep('phase_1_canary'), 'the canary hold');
      const gate = await waitForStatus(restore, atStep('awaiting_approval'), 'the approval gate');

      // Deploy: A stops, B starts and becomes current.
      await stop(buildA);
      await startBuild('B', bundleB);
      await makeCurrent(deploymentName, 'B');

      await backstop.signal(recordDecisionSignal, {
        by: IC,
        decision: 'park',
        rationale: 'parked until the Epic ships',
      });
      const backstopResult = await withinDeadline('the backstop on B', backstop.result(), 60_000);
      assert.equal(backstopResult.outcome, 'parked');

      const atGate = await waitForStatus<ReenablementStatus>(
        reenablement,
        atStep('awaiting_approval'),
        'the phase 2 approval (the canary held on B)',
        90_000,
      );
      assert.ok(atGate.detail.phasesCompleted.some((phase) => phase.phase === 'canary'));
      await reenablement.signal(rejectSignal, { approver: '@eng-tl', reason: 'hold here for now' });
      assert.equal(
        (await withinDeadline('the re-enablement on B', reenablement.result(), 60_000)).outcome,
        'rejected',
      );

      // The restore is pinned to A: with no worker of A, its approval waits in the history.
      await restore.signal(approveSignal, { approver: '@dococeven', planHash: gate.detail.plan!.planHash });
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const pinned = await versioningOf(restore);
      assert.deepEqual(pinned, { behavior: 'PINNED', buildId: 'A' });
      assert.ok(!(await buildsThatWorked(restore)).includes('B'), 'B never worked on the pinned run');

      // What still needs A (the README's drain query): the pinned restore, and nothing else.
      let pinnedToA: string[] = [];
      for (let attempt = 0; attempt < 50 && pinnedToA.length === 0; attempt += 1) {
        if (attempt) await new Promise((resolve) => setTimeout(resolve, 200));
        pinnedToA = [];
        for await (const run of suite.env.client.workflow.list({
          query: `TemporalWorkerDeploymentVersion = '${deploymentName}:A' AND ExecutionStatus = 'Running'`,
        }))
          pinnedToA.push(run.workflowId);
      }
      assert.deepEqual(pinnedToA, [restore.workflowId]);

      // Draining A: a worker of A (no longer current) finishes what is pinned to it.
      const drainA = await startBuild('A', bundleA);
      await waitForStatus(restore, atStep('pause_and_think'), 'the approval, taken on A', 60_000);
      await restore.signal(abortSignal, { by: '@dococeven', reason: 'upgrade test over' });
      assert.equal((await withinDeadline('the restore on A', restore.result(), 60_000)).outcome, 'aborted');
      await stop(drainA);

      const restoreBuilds = await buildsThatWorked(restore);
      assert.deepEqual([...new Set(restoreBuilds)], ['A'], 'every task of the pinned run on A');
      const builds = {
        backstop: await buildsThatWorked(backstop),
        're-enablement': await buildsThatWorked(reenablement),
      };
      for (const [name, handle] of [
        ['backstop', backstop],
        ['re-enablement', reenablement],
      ] as const) {
        assert.equal(builds[name][0], 'A', `${name} started on A`);
        assert.equal(builds[name].at(-1), 'B', `${name} finished on B`);
        const described = await handle.describe();
        assert.equal(described.memo?.finishedBy, 'build-b', `${name} ran B's patched change`);
        assert.equal((await versioningOf(handle)).behavior, 'AUTO_UPGRADE', name);
      }
      console.log(
        `# upgrade: backstop tasks ${builds.backstop.join('')}, re-enablement ${builds['re-enablement'].join('')}, restore ${restoreBuilds.join('')}`,
      );
    } finally {
      for (const { worker, running } of workers) {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running.catch(() => undefined);
      }
    }
  });
});
