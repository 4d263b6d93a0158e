import { phasedReenablement, rollbackToPilot } from '../../../src/workflows';
import {
  abortSignal,
  approveSignal as approvePhaseSignal,
  resumeSignal,
} from '../../../src/workflows/phased-reenablement/definitions';
import { rcaFiledSignal } from '../../../src/workflows/rollback-to-pilot/definitions';
import { IC, type Scenario } from '../../fixtures/fault-matrix';
import { EXPANDED_REPOS, FakeCluster, mutations, orchestratorCluster } from '../../fixtures/kubectl';
import { CANARY, HEALTHY, PHASE2, PILOT } from '../../fixtures/reenablement';
import type { MatrixWorld } from './world';

/** The orchestrator runbooks (seed 002): rollback to the pilot, phased re-enablement. */

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** The mutating kubectl calls, in the order made (a soak job's name is per run: compared without it). */
function kubectlProgress(cluster: FakeCluster): string[] {
  return mutations(cluster).map((argv) =>
    argv
      .slice(4)
      .join(' ')
      .replace(/runbooks-soak-[0-9a-f]{16}/, 'runbooks-soak-<run>'),
  );
}

function kubectlMutations(cluster: FakeCluster): string[] {
  return kubectlProgress(cluster).sort();
}

/** Seed 003's writer freeze as the matrix's policy names it (the cluster below has these). */
export const WRITER_FREEZE = {
  writers: ['ingest-writer'],
  fence: { configMap: 'write-fence', key: 'writes', frozen: 'blocked', open: 'open' },
  holdGreen: '10m',
};

export function rollbackScenario(world: MatrixWorld, options: { writerFreeze?: boolean } = {}): Scenario {
  let cluster: FakeCluster;
  return {
    runbook: 'rollbackToPilot',
    async reset() {
      const state = orchestratorCluster();
      if (options.writerFreeze) {
        state.namespaces.production!.deployments!['ingest-writer'] = { replicas: 2 };
        state.namespaces.production!.configmaps!['write-fence'] = { writes: 'open' };
      }
      cluster = FakeCluster.create(world.tmp, state);
      cluster.install();
      world.prometheus.values.failures_by_repo = Object.fromEntries(
        Array.from({ length: 12 }, (_, i) => [`repo-${i}`, 5]),
      );
      world.prometheus.values.failure_rate = 0.31;
      await Promise.resolve();
    },
    start(taskQueue, incidentId) {
      return world.suite.env.client.workflow.start(rollbackToPilot, {
        taskQueue,
        workflowId: `rollback-to-pilot-${incidentId}`,
        args: [
          {
            incidentId,
            severity: 'P1',
            reason: 'mass ModelTimeout failures across expanded repos',
            incidentCommander: IC,
            affectedRepos: EXPANDED_REPOS,
          },
        ],
      });
    },
    async drive(handle, status) {
      if (status.step !== 'awaiting_rca') return false;
      await handle.signal(rcaFiledSignal, { by: IC, link: 'https://wiki.example/rca/INC' });
      return true;
    },
    // The writer freeze's hold is one skip; the RCA wait a minute at a time; else 30 s.
    tick: (status) =>
      status.step === 'hold_green' ? 10 * MINUTE : status.step === 'awaiting_rca' ? MINUTE : 30 * SECOND,
    // Rollback's safe state: stop mutating — nothing done past the failed step (progress).
    unsafe() {
      return Promise.resolve(cluster.read().namespaces.production ? undefined : 'the cluster state is gone');
    },
    progress: () => Promise.resolve(kubectlProgress(cluster)),
    mutations: () => Promise.resolve(kubectlMutations(cluster)),
    success: 'rolled_back',
  };
}

/** The staging soak (seed 002 §2) as the matrix's policy names it. */
export const STAGING_SOAK = {
  image: 'registry.test/blocks:1',
  command: ['blocks', 'test', 'soak', '--env', 'staging'],
  duration: '2h',
  maxDuration: '4h',
};

/**
 * The re-enablement; with `failingSoak`, a run whose staging soak fails (the soak's own sites,
 * over in hours rather than days: the rest of the run is the plain row's).
 */
export function reenablementScenario(world: MatrixWorld, options: { failingSoak?: boolean } = {}): Scenario {
  let cluster: FakeCluster;
  return {
    runbook: 'phasedReenablement',
    async reset() {
      const state = orchestratorCluster({ allowlist: [PILOT], replicas: 3 });
      if (options.failingSoak)
        state.soakJob = { summary: { successRate: 0.9, p95Seconds: 80, recurrences: 2 } };
      cluster = FakeCluster.create(world.tmp, state);
      cluster.install();
      Object.assign(world.prometheus.values, HEALTHY);
      await Promise.resolve();
    },
    start(taskQueue, incidentId) {
      return world.suite.env.client.workflow.start(phasedReenablement, {
        taskQueue,
        workflowId: `phased-reenablement-${incidentId}`,
        args: [
          {
            incidentId,
            requestedBy: IC,
            pilotRepo: PILOT,
            canaryRepo: CANARY,
            phase2Repos: PHASE2,
            remainingRepos: ['billing-core'],
          },
        ],
      });
    },
    async drive(handle, status) {
      const detail = status.detail as { plan?: { planHash: string } };
      if (status.step !== 'awaiting_approval' || !detail.plan) return false;
      await handle.signal(approvePhaseSignal, { approver: '@eng-tl', planHash: detail.plan.planHash });
      return true;
    },
    // The holds are hours long: an hour at a time until the phase-2 gate (approved as it opens),
    // six hours at a time after it (no gate left: pauses and needs_human wait for the driver).
    tick(status) {
      const phase = (status.detail as { phase?: string }).phase ?? '';
      if (['phase2', 'phase3', 'watch_for_green'].includes(phase)) return 6 * HOUR;
      if (status.step === 'staging_soak') return 30 * MINUTE;
      return status.step.startsWith('phase') ? HOUR : 30 * SECOND;
    },
    // The re-enablement's safe state: the allowlist is one the run had validated (or the pilot).
    unsafe() {
      const live = cluster.read().namespaces.production!.deployments!.flowengine!.env!.REPO_ALLOWLIST!;
      const validated = [[PILOT], [PILOT, CANARY], [PILOT, CANARY, ...PHASE2]].map((set) => set.join(','));
      return Promise.resolve(validated.includes(live) ? undefined : `live: ${live}`);
    },
    // The safe state (back to the last good set) and the retry repeat allowlists on purpose: what
    // must hold is that every set goes live in the fault-free order and each rule is touched once.
    // Going back to the pilot alone (where the run started) is the safe state, not a change.
    mutations() {
      const all = kubectlMutations(cluster);
      return Promise.resolve([...new Set(all)].filter((argv) => !argv.endsWith(`REPO_ALLOWLIST=${PILOT}`)));
    },
    success: options.failingSoak ? 'staging_soak_failed' : 'recovered',
    humanPause: {
      shown: (status) => (status.detail as { paused?: { kind: string } }).paused?.kind === 'inconclusive',
      resume: (handle) => handle.signal(resumeSignal, { by: IC, reason: 'metrics back' }),
      abort: (handle) => handle.signal(abortSignal, { by: IC, reason: 'stop here' }),
    },
  };
}
