import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { scratchDir } from '../../src/local/servers';
import type { PolicyFile } from '../../src/common/policy';
import { breakGlassRestore, phasedReenablement, rollbackToPilot } from '../../src/workflows';
import {
  acknowledgeConflictSignal,
  approveSignal,
  checkReconciliationSignal,
  postMortemFiledSignal,
} from '../../src/workflows/break-glass-restore/definitions';
import {
  approveSignal as approvePhaseSignal,
  resumeSignal,
} from '../../src/workflows/phased-reenablement/definitions';
import { rcaFiledSignal } from '../../src/workflows/rollback-to-pilot/definitions';
import { statusQuery, stepDecisionSignal } from '../../src/workflows/shared/messages';
import { FAULTS, FaultInjector, type Fault } from '../fixtures/faults';
import { EXPANDED_REPOS, FakeCluster, mutations, orchestratorCluster } from '../fixtures/kubectl';
import { activityDeps, rollbackPolicy } from '../fixtures/policy';
import { CANARY, HEALTHY, PHASE2, PILOT } from '../fixtures/reenablement';
import { PAGERDUTY_ROUTING_KEY, pagerDutySink } from '../fixtures/sinks/apis';
import { prometheusSink, type PrometheusSink } from '../fixtures/sinks/prometheus';
import { workflowSuite } from '../fixtures/suite';
import { uniqueId } from '../fixtures/temporal';

/**
 * The fault matrix: for every activity call site of each runbook, the outside world fails in
 * three ways — a non-retryable error, retryable errors until the retry policy gives up, a hang
 * past the activity's timeout — and stays failed until an operator fixes it. For each cell the
 * run must not end FAILED; it must show `needs_human` (or take the runbook's own escalation path)
 * with a page on the paging channel and the target in its safe state; and once the fault is
 * cleared, `retry` must complete it with every mutation done exactly once (the same mutations as
 * a run without faults). A cell that breaks any of that is a silent failure.
 *
 * Sites are found, not listed: a fault-free run of each runbook records the activity types it
 * calls. Two kinds are left out, on purpose: notice deliveries (a notice that cannot be delivered
 * is recorded and goes to the fallback channel; it never holds a runbook — see the notifications
 * tests) and the policy read (the worker's own memory, validated at start; without it there is no
 * pager to page).
 *
 * FAULT_MATRIX_VERBOSE=1 prints each cell as it ends; FAULT_MATRIX_ONLY=<activityType>:<fault>
 * runs one cell (after each runbook's fault-free run).
 */

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const IC = '@sre-lead';
const LEFT_OUT = (type: string): boolean => type.startsWith('notify') || type === 'loadRunbookPolicy';

const tmp = scratchDir('runbooks-fault-matrix');
const suite = workflowSuite({ server: 'time-skipping', queuePrefix: 'tq-faults' });
const injector = new FaultInjector();
let prometheus: PrometheusSink;
let pager: Awaited<ReturnType<typeof pagerDutySink>>;
let cluster: FakeCluster;

before(async () => {
  [prometheus, pager] = await Promise.all([prometheusSink(), pagerDutySink()]);
});
after(async () => {
  await Promise.all([prometheus?.stop(), pager?.stop()]);
});

/** Routes every notice to the log; pages also reach PagerDuty (the paging channel). */
function withPager(policy: PolicyFile): void {
  policy.notifications = {
    channels: {
      log: { type: 'log' },
      pagerduty: {
        type: 'pagerduty',
        routingKeyEnv: 'PAGERDUTY_ROUTING_KEY',
        eventsUrl: `${pager.url}/v2/enqueue`,
        timeout: '2s',
      },
    },
    routes: { default: ['log'] },
  };
}

/** Pages PagerDuty received about this run (its incident id is in every summary). */
function pagesAbout(incidentId: string): number {
  return pager.requests.filter((request) => JSON.stringify(request.json ?? '').includes(incidentId)).length;
}

/** Whether PagerDuty got a page about this run within a few seconds (real time: a delivery). */
async function paged(incidentId: string): Promise<boolean> {
  for (let waited = 0; waited < 15 * SECOND; waited += 100) {
    if (pagesAbout(incidentId) > 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

type Handle = WorkflowHandle;
interface Status {
  step: string;
  detail: Record<string, unknown>;
}

interface Scenario {
  runbook: string;
  /** A fresh outside world (cluster, database, metrics). */
  reset(): Promise<void>;
  start(taskQueue: string, incidentId: string): Promise<Handle>;
  /** Answers what the run waits for (a gate, a reconciliation); true if it did something. */
  drive(handle: Handle, status: Status): Promise<boolean>;
  /** How long to let the clock run when nothing is waiting for us, given the step. */
  tick(status: Status): number;
  /** Undefined when the target is in its safe state while a human is needed; else what is wrong. */
  unsafe(): Promise<string | undefined>;
  /** The mutations the outside world has seen, in a comparable form. */
  mutations(): Promise<string[]>;
  /** The outcome a fault-free run ends with. */
  success: string;
  /**
   * A runbook's own way of waiting for a person other than needs_human (the re-enablement pauses
   * on an analysis it cannot make): how to see it, and the decision that lets the run go on.
   */
  humanPause?: { shown(status: Status): boolean; resume(handle: Handle): Promise<void> };
}

// ---------------------------------------------------------------------------------------------
// The runbooks

function rollbackScenario(): Scenario {
  return {
    runbook: 'rollbackToPilot',
    async reset() {
      cluster = FakeCluster.create(tmp, orchestratorCluster());
      cluster.install();
      prometheus.values.failures_by_repo = Object.fromEntries(
        Array.from({ length: 12 }, (_, i) => [`repo-${i}`, 5]),
      );
      prometheus.values.failure_rate = 0.31;
      await Promise.resolve();
    },
    start(taskQueue, incidentId) {
      return suite.env.client.workflow.start(rollbackToPilot, {
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
    tick: (status) => (status.step === 'awaiting_rca' ? MINUTE : 30 * SECOND),
    // Rollback's safe state: stop mutating. Nothing may have moved past the failed step, which
    // the exactly-once comparison checks; here, only that the cluster is still readable.
    unsafe() {
      return Promise.resolve(cluster.read().namespaces.production ? undefined : 'the cluster state is gone');
    },
    async mutations() {
      return kubectlMutations();
    },
    success: 'rolled_back',
  };
}

function kubectlMutations(): Promise<string[]> {
  return Promise.resolve(
    mutations(cluster)
      .map((argv) => argv.slice(4).join(' '))
      .sort(),
  );
}

function restoreScenario(): Scenario {
  const state = { wrote: false, filed: false };
  return {
    runbook: 'breakGlassRestore',
    async reset() {
      state.wrote = false;
      state.filed = false;
      await suite.db.reset();
    },
    start(taskQueue, incidentId) {
      return suite.env.client.workflow.start(breakGlassRestore, {
        taskQueue,
        workflowId: `break-glass-restore-${incidentId}`,
        args: [
          {
            incidentId,
            targetHistoryId: 5,
            requestedBy: IC,
            rationale: 'LGB 5M learning rate set to 0.0 by a Console typo; restoring the previous snapshot',
          },
        ],
      });
    },
    async drive(handle, status) {
      const detail = status.detail as {
        plan?: { planHash: string };
        approval?: unknown;
        conflictHold?: { state: string };
        reconciliation?: { state: string };
      };
      if (status.step === 'awaiting_approval' && detail.plan && !detail.approval) {
        await handle.signal(approveSignal, {
          approver: '@dococeven',
          planHash: detail.plan.planHash,
          rationale: 'typo 0.0 -> 0.07',
        });
        return true;
      }
      if (detail.conflictHold?.state === 'awaiting_acknowledgement') {
        await handle.signal(acknowledgeConflictSignal, { by: IC, note: 'operator-tuned snapshot' });
        return true;
      }
      if (status.step === 'awaiting_reconciliation' && !state.wrote) {
        state.wrote = true;
        await suite.db.pool.query(
          `INSERT INTO ftf_config_history (base_env, version, locked_by, changed_by, change_reason, tags)
           SELECT base_env, version || '-console', locked_by, 'console:alice', $1, '["console"]'::jsonb
           FROM ftf_config WHERE id = 1`,
          [`break-glass-${handle.workflowId.replace('break-glass-restore-', '')}`],
        );
        await handle.signal(checkReconciliationSignal, {});
        return true;
      }
      if (detail.reconciliation?.state === 'found_in_time' && !state.filed) {
        state.filed = true;
        await handle.signal(postMortemFiledSignal, { by: IC, link: 'https://op.example/wp/153' });
        return true;
      }
      return false;
    },
    tick: () => 30 * SECOND,
    // Procedure A's safe state: the transaction is atomic, so either nothing or the whole
    // approved restore was written — never part of it.
    async unsafe() {
      const rows = await suite.db.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM ftf_config_history WHERE tags ? 'break-glass'",
      );
      return rows.rows[0]!.n <= 1 ? undefined : `${rows.rows[0]!.n} break-glass rows`;
    },
    async mutations() {
      const rows = await suite.db.pool.query<{ kind: string }>(
        `SELECT 'history row' AS kind FROM ftf_config_history WHERE tags ? 'break-glass'
         UNION ALL SELECT 'ledger ' || step FROM runbook_ledger ORDER BY 1`,
      );
      return rows.rows.map((row) => row.kind);
    },
    success: 'restored',
  };
}

function reenablementScenario(): Scenario {
  return {
    runbook: 'phasedReenablement',
    async reset() {
      cluster = FakeCluster.create(tmp, orchestratorCluster({ allowlist: [PILOT], replicas: 3 }));
      cluster.install();
      Object.assign(prometheus.values, HEALTHY);
      await Promise.resolve();
    },
    start(taskQueue, incidentId) {
      return suite.env.client.workflow.start(phasedReenablement, {
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
    // The holds are hours long; an hour at a time still lets every activity timeout expire.
    tick: (status) =>
      status.step.startsWith('phase') || status.step === 'watch_for_green' ? HOUR : 30 * SECOND,
    // The re-enablement's safe state: the allowlist is one the run had validated (or the pilot).
    unsafe() {
      const live = cluster.read().namespaces.production!.deployments!.flowengine!.env!.REPO_ALLOWLIST!;
      const validated = [[PILOT], [PILOT, CANARY], [PILOT, CANARY, ...PHASE2]].map((set) => set.join(','));
      return Promise.resolve(validated.includes(live) ? undefined : `live: ${live}`);
    },
    // The safe state (back to the last good set) and the retry repeat allowlists on purpose: what
    // must hold is that every set goes live in the fault-free order and each rule is touched once.
    // Going back to the pilot alone (where the run started) is the safe state, not a change.
    async mutations() {
      const all = await kubectlMutations();
      return [...new Set(all)].filter((argv) => !argv.endsWith(`REPO_ALLOWLIST=${PILOT}`));
    },
    success: 'recovered',
    humanPause: {
      shown: (status) => (status.detail as { paused?: { kind: string } }).paused?.kind === 'inconclusive',
      resume: (handle) => handle.signal(resumeSignal, { by: IC, reason: 'metrics back' }),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// One cell

interface CellOutcome {
  path: 'needs_human' | 'escalated' | 'unaffected';
  problems: string[];
}

async function runCell(
  scenario: Scenario,
  taskQueue: string,
  site: string | undefined,
  fault: Fault | undefined,
): Promise<{ outcome: CellOutcome; mutations: string[]; sites: string[] }> {
  await scenario.reset();
  pager.reset();
  injector.clear();
  injector.calls.length = 0;
  if (site && fault) injector.arm(site, fault);
  const incidentId = uniqueId('INC');
  const handle = await scenario.start(taskQueue, incidentId);
  const problems: string[] = [];
  let path: CellOutcome['path'] = 'unaffected';
  const deadline = Date.now() + 120 * SECOND;
  let decisions = 0;
  for (;;) {
    if (Date.now() > deadline) {
      problems.push('stuck: still running after 120 s of driving');
      await handle.terminate('fault matrix: stuck');
      break;
    }
    const described = await handle.describe();
    if (described.status.name !== 'RUNNING') break;
    let status: Status;
    try {
      status = (await handle.query(statusQuery)) as unknown as Status;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    const pausedForHuman = scenario.humanPause?.shown(status) ?? false;
    if (status.step === 'needs_human' || pausedForHuman) {
      if (decisions === 0) {
        path = 'needs_human';
        // The page is scheduled with the needs_human step; its delivery is an activity of its own.
        if (!(await paged(incidentId))) problems.push('needs_human without a page to PagerDuty');
        const unsafe = await scenario.unsafe();
        if (unsafe) problems.push(`not in its safe state: ${unsafe}`);
        const shown = (await handle.describe()).searchAttributes.RunbookStep;
        if (!pausedForHuman && JSON.stringify(shown) !== '["needs_human"]')
          problems.push(`RunbookStep is ${JSON.stringify(shown)}`);
      }
      if (++decisions > 3) {
        problems.push('needs_human again after the fault was cleared and retried');
        await handle.terminate('fault matrix: retry loop');
        break;
      }
      injector.clear();
      if (pausedForHuman) await scenario.humanPause!.resume(handle);
      else await handle.signal(stepDecisionSignal, { by: IC, decision: 'retry', reason: 'outage over' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    if (await scenario.drive(handle, status)) continue;
    await suite.env.sleep(scenario.tick(status));
  }
  const described = await handle.describe();
  if (described.status.name === 'FAILED') {
    const failure: unknown = await handle.result().catch((error: unknown) => error);
    const cause = failure instanceof Error && failure.cause instanceof Error ? failure.cause : failure;
    problems.push(`FAILED: ${cause instanceof Error ? cause.message : String(cause)}`);
  } else if (described.status.name === 'COMPLETED') {
    const result = (await handle.result()) as { outcome: string; message?: string };
    if (result.outcome !== scenario.success) {
      // A runbook's own escalation path (not needs_human) is fine if it paged and said so.
      if (path === 'unaffected' && site && fault && injector.injections() > 0) {
        path = 'escalated';
        if (pagesAbout(incidentId) === 0)
          problems.push(`ended "${result.outcome}" after the fault without a page`);
      } else problems.push(`ended "${result.outcome}": ${result.message ?? ''}`);
    }
  }
  if (site && fault && injector.injections() === 0) problems.push('the fault was never injected');
  return {
    outcome: { path, problems },
    mutations: await scenario.mutations(),
    sites: injector.sites(),
  };
}

// ---------------------------------------------------------------------------------------------

describe('fault matrix (time-skipping, shipped durations)', () => {
  const scenarios = [rollbackScenario(), restoreScenario(), reenablementScenario()];
  const rows: string[] = [];
  let cells = 0;
  let sitesTotal = 0;
  let silent = 0;

  for (const scenario of scenarios) {
    test(scenario.runbook, async () => {
      const policy = rollbackPolicy(tmp, prometheus.url, withPager);
      const deps = activityDeps(policy, suite.db.pool, { PAGERDUTY_ROUTING_KEY });
      await suite.withWorker(
        deps,
        async (taskQueue) => {
          const baseline = await runCell(scenario, taskQueue, undefined, undefined);
          assert.deepEqual(baseline.outcome.problems, [], `${scenario.runbook} without faults`);
          const sites = baseline.sites.filter((type) => !LEFT_OUT(type));
          sitesTotal += sites.length;
          const failures: string[] = [];
          for (const site of sites) {
            for (const fault of FAULTS) {
              const only = process.env.FAULT_MATRIX_ONLY;
              if (only && only !== `${site}:${fault}`) continue;
              cells++;
              const cell = await runCell(scenario, taskQueue, site, fault);
              const problems = [...cell.outcome.problems];
              if (JSON.stringify(cell.mutations) !== JSON.stringify(baseline.mutations))
                problems.push(
                  `mutations differ from the fault-free run: ${JSON.stringify(cell.mutations)} vs ${JSON.stringify(baseline.mutations)}`,
                );
              const row = `${scenario.runbook} ${site} ${fault}: ${cell.outcome.path}${problems.length ? ` — SILENT: ${problems.join('; ')}` : ''}`;
              rows.push(row);
              if (process.env.FAULT_MATRIX_VERBOSE) process.stdout.write(`${row}\n`);
              if (problems.length) {
                silent++;
                failures.push(row);
              }
            }
          }
          assert.deepEqual(failures, [], `${scenario.runbook}: silent failures`);
        },
        { activity: [injector.factory] },
      );
    });
  }

  // Tests in a describe run in order: this one comes after every runbook's matrix.
  test('summary', () => {
    process.stdout.write(`${rows.join('\n')}\n`);
    process.stdout.write(
      `fault matrix: ${sitesTotal} sites × ${FAULTS.length} faults, ${silent} silent failures (${cells} cells)\n`,
    );
    assert.equal(silent, 0, 'silent failures (listed above)');
  });
});
