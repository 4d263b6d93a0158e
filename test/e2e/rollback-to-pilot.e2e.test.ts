import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { scratchDir } from '../../src/local/servers';
import { freePort } from '../../src/local/processes';
import { ROLLBACK_DRILL_INPUT } from '../../src/cli/schedule';
import { rollbackToPilot } from '../../src/workflows';
import {
  rollbackToPilotWorkflowId,
  type RollbackResult,
  type RollbackStatus,
} from '../../src/workflows/rollback-to-pilot/definitions';
import { stepDecisionSignal } from '../../src/workflows/shared/messages';
import { historyEvents } from '../fixtures/history';
import { metricValue, samples, scrape, scrapeUntil } from '../fixtures/metrics';
import { alertedCounterSeries } from '../../src/worker/metrics';
import {
  EXPANDED_REPOS,
  FAKE_KUBECTL_DIR,
  FakeCluster,
  mutations,
  orchestratorCluster,
} from '../fixtures/kubectl';
import { rollbackPolicy } from '../fixtures/policy';
import { spawnNode, type ChildHandle } from '../fixtures/processes';
import { prometheusSink, type PrometheusSink } from '../fixtures/sinks/prometheus';
import { workflowSuite } from '../fixtures/suite';
import { uniqueId } from '../fixtures/temporal';
import { atStep, waitForStatus } from '../fixtures/wait';

/**
 * RB-LAUNCH-002 end to end on the dev server: started and finished through the CLI, the worker as
 * its own process (the real entry point) against the fake cluster, killed with SIGKILL while a
 * mutation has taken effect but kubectl has not answered yet. A new worker must finish the
 * rollback with every mutation done exactly once.
 */

const suite = workflowSuite({ server: 'dev', resetDatabase: false });
let prometheus: PrometheusSink;
const tmp = scratchDir('runbooks-rollback-e2e');
const running: ChildHandle[] = [];

before(async () => {
  prometheus = await prometheusSink();
  prometheus.values.failures_by_repo = Object.fromEntries(
    Array.from({ length: 12 }, (_, i) => [`repo-${i}`, 5]),
  );
  prometheus.values.failure_rate = 0.34;
});

after(async () => {
  for (const child of running) child.child.kill('SIGKILL');
  await prometheus?.stop();
});

async function until(predicate: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A worker process's environment: the fake cluster's kubectl first on PATH, its state files, the test policy. */
function workerEnv(cluster: FakeCluster, blocksFile: string, taskQueue: string): Record<string, string> {
  const blocks = path.join(tmp, blocksFile);
  writeFileSync(blocks, JSON.stringify({ mode: 'pass' }));
  return {
    PATH: `${FAKE_KUBECTL_DIR}${path.delimiter}${process.env.PATH ?? ''}`,
    FAKE_KUBECTL_STATE: cluster.file,
    FAKE_BLOCKS_STATE: blocks,
    ...suite.processEnv(),
    RUNBOOKS_TASK_QUEUE: taskQueue,
    RUNBOOKS_POLICY_FILE: rollbackPolicy(tmp, prometheus.url).file,
  };
}

describe('rollbackToPilot end to end on the dev server', () => {
  test('kill -9 the worker mid-mutation: a new worker completes it, each mutation exactly once', async () => {
    const cluster = FakeCluster.create(tmp, orchestratorCluster());
    // The scale-down takes effect, then kubectl sits silent: the worker dies in that window.
    cluster.scriptNext({ verb: 'scale', applyThenHangMs: 20_000 });
    const taskQueue = uniqueId('runbooks-rollback-e2e');
    const env = workerEnv(cluster, 'blocks.json', taskQueue);
    const cli = async (...args: string[]): Promise<string> => {
      const run = spawnNode('dist/src/cli/main.js', args, env);
      assert.equal(await run.exited(), 0, run.output());
      return run.output();
    };

    const first = spawnNode('dist/src/worker/main.js', [], env);
    running.push(first);
    await first.waitFor(/runbooks worker started/);
    const incident = uniqueId('INC');
    await cli(
      'start-rollback',
      '--incident',
      incident,
      '--severity',
      'P1',
      '--reason',
      'mass ModelTimeout failures after the Phase 6 expansion',
      '--ic',
      '@sre-lead',
      '--repos',
      EXPANDED_REPOS.join(','),
    );

    const scaled = (): boolean =>
      cluster.read().namespaces.production!.deployments!.flowengine!.replicas === 3;
    await until(scaled, 'the scale-down to take effect').catch((error: Error) => {
      const calls = cluster.calls().map((argv) => argv.slice(4).join(' '));
      throw new Error(
        `${error.message}\nworker:\n${first.output().slice(-3000)}\nkubectl calls:\n${calls.join('\n')}`,
      );
    });
    first.child.kill('SIGKILL');
    assert.equal(await first.exited(), null, 'killed by a signal');

    const second = spawnNode('dist/src/worker/main.js', [], env);
    running.push(second);
    try {
      await second.waitFor(/runbooks worker started/);
      const handle = suite.env.client.workflow.getHandle(rollbackToPilotWorkflowId(incident));
      await waitForStatus<RollbackStatus>(handle, atStep('awaiting_rca'), 'the RCA wait', 120_000);
      await cli(
        'rca-filed',
        '--incident',
        incident,
        '--by',
        '@sre-lead',
        '--link',
        'https://wiki.example/rca/1',
      );
      const result = JSON.parse(
        await cli('result', '--incident', incident, '--procedure', 'rollback'),
      ) as RollbackResult;

      assert.equal(result.outcome, 'rolled_back', result.message);
      const state = cluster.read().namespaces;
      const flowengine = state.production!.deployments!.flowengine!;
      assert.equal(flowengine.env!.REPO_ALLOWLIST, 'compliance-service');
      assert.equal(flowengine.replicas, 3);
      assert.equal(state.production!.postgres!.schemaVersion, '20251104_001');
      for (const repo of EXPANDED_REPOS) {
        const rule = state.monitoring!.prometheusrules![`${repo}-alerts`] as {
          groups: { rules: { enabled: boolean }[] }[];
        };
        assert.equal(rule.groups[0]!.rules[0]!.enabled, false, `${repo} alerts silenced`);
      }
      // Exactly once each, although the scale activity ran on two workers.
      const verbs = mutations(cluster).map(
        (argv) => `${argv[4]}${argv[5] === 'prometheusrule' ? ' prometheusrule' : ''}`,
      );
      assert.deepEqual(
        verbs.sort(),
        ['exec', 'scale', 'set', ...EXPANDED_REPOS.map(() => 'patch prometheusrule')].sort(),
      );
      // …and the scale activity did run twice: the first attempt died with the worker.
      const events = await historyEvents(handle);
      const scheduled = events.find(
        (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'scaleDeployment',
      )!;
      const started = events.find(
        (event) =>
          event.activityTaskStartedEventAttributes?.scheduledEventId?.toString() ===
          scheduled.eventId?.toString(),
      );
      assert.ok((started?.activityTaskStartedEventAttributes?.attempt ?? 0) >= 2, 'retried after the kill');
      assert.equal(result.evidence.find((e) => e.step === 'scale_down')?.ok, true);
      assert.equal(result.backups?.database?.state, 'done');
      assert.equal(result.rca?.state, 'filed');
      assert.equal(result.targets?.execution.met, true, 'under 10 min despite the crash');
    } finally {
      second.child.kill('SIGINT');
      await second.exited();
    }
  });
  test('metrics: a rollback drill on the worker process reaches the drill metrics, labelled with its runbook', async () => {
    const cluster = FakeCluster.create(tmp, orchestratorCluster());
    const address = `127.0.0.1:${await freePort()}`;
    const taskQueue = uniqueId('runbooks-rollback-drill-metrics');
    const worker = spawnNode('dist/src/worker/main.js', [], {
      ...workerEnv(cluster, 'drill-blocks.json', taskQueue),
      RUNBOOKS_METRICS_ADDRESS: address,
    });
    running.push(worker);
    try {
      await worker.waitFor(/runbooks worker started/);
      // Before any drill: each series the drill alerts take increase() of is there at 0, with the
      // labels a drill records it with (a series that first appeared at 1 showed no increase, so the
      // first drill over its SLO or not completed after a worker's start never paged).
      const atStart = await scrape(address);
      for (const { spec, workflowType, labels } of alertedCounterSeries())
        assert.deepEqual(
          samples(atStart)
            .filter((sample) => sample.name === spec.name && sample.labels.workflowType === workflowType)
            .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
            .map((sample) => [sample.labels.namespace, sample.labels.taskQueue, sample.value]),
          [[suite.env.client.options.namespace, taskQueue, 0]],
          `${spec.name} ${JSON.stringify(labels)} of ${workflowType} at the worker's start`,
        );
      const incidentId = uniqueId('DRILL');
      const result = await suite.env.client.workflow.execute(rollbackToPilot, {
        taskQueue,
        workflowId: rollbackToPilotWorkflowId(incidentId),
        args: [{ ...ROLLBACK_DRILL_INPUT, incidentId }],
      });
      assert.equal(result.outcome, 'drill_within_slo', result.message);
      const labels = { runbook: 'rollbackToPilot', verdict: 'within_slo' };
      const scraped = await scrapeUntil(
        address,
        (text) => metricValue(text, 'runbooks_drill_seconds_count', labels) === 1,
        'the rollback drill in runbooks_drill_seconds',
      );
      const seconds = metricValue(scraped, 'runbooks_drill_seconds_sum', labels)!;
      assert.ok(
        Math.abs(seconds - result.drill!.elapsedMs / 1000) < 0.01,
        `${seconds} s recorded, ${result.drill!.elapsedMs} ms in the result`,
      );
      assert.equal(
        metricValue(scraped, 'runbooks_drill_slo_seconds', { runbook: 'rollbackToPilot' }),
        result.drill!.targetMs / 1000,
      );
      // What the dashboard plots: the first drill after the worker's start is there (the histogram's
      // quantile over increase() was NaN for it).
      const last = metricValue(scraped, 'runbooks_drill_last_seconds', { runbook: 'rollbackToPilot' })!;
      assert.ok(Math.abs(last - result.drill!.elapsedMs / 1000) < 0.01, `${last} s`);
      assert.equal(metricValue(scraped, 'runbooks_drill_over_slo_total', { runbook: 'rollbackToPilot' }), 0);
      assert.equal(metricValue(scraped, 'runbooks_drill_not_completed_total'), 0);

      // A drill whose plan fails for good and is aborted has no SLO verdict: counted as not completed.
      cluster.scriptNext({
        verb: 'get',
        stderr: 'Error from server (Forbidden): deployments.apps is forbidden',
        exitCode: 1,
      });
      const abortedId = uniqueId('DRILL');
      const aborted = await suite.env.client.workflow.start(rollbackToPilot, {
        taskQueue,
        workflowId: rollbackToPilotWorkflowId(abortedId),
        args: [{ ...ROLLBACK_DRILL_INPUT, incidentId: abortedId }],
      });
      await waitForStatus<RollbackStatus>(aborted, atStep('needs_human'), 'the drill waiting for a human');
      await aborted.signal(stepDecisionSignal, {
        by: ROLLBACK_DRILL_INPUT.incidentCommander,
        decision: 'abort',
        reason: 'drill over, RBAC to be fixed first',
      });
      const abortedResult = await aborted.result();
      assert.ok(!abortedResult.outcome.startsWith('drill_'), abortedResult.outcome);
      const afterAbort = await scrapeUntil(
        address,
        (text) =>
          metricValue(text, 'runbooks_drill_not_completed_total', {
            runbook: 'rollbackToPilot',
            outcome: abortedResult.outcome,
          }) === 1,
        `the aborted drill (${abortedResult.outcome}) in runbooks_drill_not_completed_total`,
      );
      // The series that was at 0, not a second one beside it: Prometheus sees 0 → 1.
      assert.equal(
        samples(afterAbort).filter(
          (sample) =>
            sample.name === 'runbooks_drill_not_completed_total' &&
            sample.labels.runbook === 'rollbackToPilot' &&
            sample.labels.outcome === abortedResult.outcome,
        ).length,
        1,
      );
    } finally {
      worker.child.kill('SIGINT');
      await worker.exited();
    }
  });
});
