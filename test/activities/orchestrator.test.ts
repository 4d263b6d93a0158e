import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities, type RunbookActivities } from '../../src/activities';
import { scratchDir } from '../../src/local/servers';
import { createTestDatabase, type TestDatabase } from '../fixtures/database';
import { FakeCluster, fakeKubectlCallsServed, mutations, orchestratorCluster } from '../fixtures/kubectl';
import { activityDeps, rollbackPolicy } from '../fixtures/policy';
import { prometheusSink, type PrometheusSink } from '../fixtures/sinks/prometheus';

/** The kubectl layer against the fake kubectl on PATH, and the metrics layer against a local Prometheus. */

const tmp = scratchDir('runbooks-orchestrator');
const blocksState = path.join(tmp, 'blocks.json');
let db: TestDatabase;
let prometheus: PrometheusSink;
let activities: RunbookActivities;
let cluster: FakeCluster;
const quiet = new DefaultLogger('WARN');

before(async () => {
  [db, prometheus] = await Promise.all([createTestDatabase(), prometheusSink()]);
  activities = createActivities(activityDeps(rollbackPolicy(tmp, prometheus.url), db.pool));
  process.env.FAKE_BLOCKS_STATE = blocksState;
});

after(async () => {
  await prometheus?.stop();
  await db?.drop();
});

beforeEach(() => {
  cluster = FakeCluster.create(tmp, orchestratorCluster());
  cluster.install();
  writeFileSync(blocksState, JSON.stringify({ mode: 'pass' }));
  prometheus.sink.reset();
});

function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment({}, { logger: quiet }).run(fn, ...args);
}

function failure(type: string, nonRetryable: boolean, pattern?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ApplicationFailure, String(error));
    assert.equal(error.type, type, error.message);
    assert.equal(error.nonRetryable, nonRetryable, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

describe('kubectl layer', () => {
  test('every call names the policy context and namespace explicitly', async () => {
    await run(activities.readAllowlist);
    const argv = cluster.calls()[0]!;
    assert.deepEqual(argv.slice(0, 4), ['--context', 'orchestrator-test', '--namespace', 'production']);
  });

  test("the fake kubectl is answered by the test process's fake cluster server, not a node process per call", async () => {
    const served = fakeKubectlCallsServed();
    await run(activities.readAllowlist);
    assert.ok(cluster.calls().length > 0);
    assert.equal(fakeKubectlCallsServed() - served, cluster.calls().length);
  });

  test('set env is check-then-act: one mutation however often it runs; dry-run changes nothing', async () => {
    const dry = await run(activities.setAllowlist, { repos: ['compliance-service'], dryRun: true });
    assert.equal(dry.changed, true);
    assert.ok(dry.command.includes('--dry-run=server'));
    assert.equal((await run(activities.readAllowlist)).length, 7, 'the dry run changed nothing');
    const first = await run(activities.setAllowlist, { repos: ['compliance-service'] });
    const second = await run(activities.setAllowlist, { repos: ['compliance-service'] });
    assert.deepEqual([first.changed, second.changed], [true, false]);
    assert.deepEqual(first.after, ['compliance-service']);
    assert.equal(mutations(cluster).length, 1);
  });

  test('scale, restart (fixed restartedAt), alert patch and schema revert happen once each', async () => {
    const restartedAt = '2026-11-24T02:10:00.000Z';
    for (let attempt = 0; attempt < 2; attempt += 1) {
      await run(activities.scaleDeployment, { replicas: 3 });
      await run(activities.restartDeployment, { restartedAt });
      await run(activities.disableAlertRule, { repo: 'inventory-mgmt' });
      await run(activities.revertSchema, {});
    }
    const verbs = mutations(cluster).map((argv) => argv[4]);
    assert.deepEqual(verbs, ['scale', 'patch', 'patch', 'exec']);
    const state = cluster.read();
    assert.equal(state.namespaces.production!.deployments!.flowengine!.replicas, 3);
    assert.equal(state.namespaces.production!.postgres!.schemaVersion, '20251104_001');
    assert.equal(
      (
        state.namespaces.monitoring!.prometheusrules!['inventory-mgmt-alerts'] as {
          groups: { rules: { enabled: boolean }[] }[];
        }
      ).groups[0]!.rules[0]!.enabled,
      false,
    );
    const revert = await run(activities.revertSchema, {});
    assert.deepEqual([revert.ran, revert.before, revert.ok], [false, '20251104_001', true]);
  });

  test("a failing rollback SQL is reported (not thrown), with psql's error", async () => {
    cluster.write(orchestratorCluster({ rollbackError: 'relation "task_v2" does not exist' }));
    const revert = await run(activities.revertSchema, {});
    assert.equal(revert.ok, false);
    assert.match(revert.error!, /relation "task_v2" does not exist/);
    assert.equal(revert.after, '20251120_003');
  });

  test('rollout status: a stuck rollout is an answer (ok: false), not an error', async () => {
    cluster.write(orchestratorCluster({ rolloutStuck: true }));
    const status = await run(activities.rolloutStatus, { timeoutMs: 2_000 });
    assert.equal(status.ok, false);
    assert.match(status.output, /timed out waiting for the condition/);
  });

  test('logs (ERROR / CRITICAL counted), pods (crash loop), expanded repos, health checks', async () => {
    const logs = await run(activities.readDeploymentLogs);
    assert.deepEqual([logs.errors, logs.critical], [2, 1]);
    assert.ok(logs.command.includes('logs deployment/flowengine --tail=100'));
    cluster.write(orchestratorCluster({ crashLoop: true, unhealthy: true }));
    const pods = await run(activities.deploymentPods);
    assert.equal(pods.crashLoop, true);
    assert.equal(pods.ready, 0);
    assert.equal((await run(activities.readExpandedRepos)).length, 6);
    const health = await run(activities.healthChecks);
    assert.equal(health.ok, false);
    assert.equal(health.checks.find((c) => c.name === 'database')?.status, 'degraded');
  });

  test('backups: manifests as YAML files, pg_dump gzipped in its own activity and reused on retry', async () => {
    // Secrets planted where real manifests carry them: an inline env value and the configmap.
    const state = cluster.read();
    const ns = state.namespaces.production!;
    const [deployment] = Object.keys(ns.deployments!);
    ns.deployments![deployment!]!.env = {
      ...ns.deployments![deployment!]!.env,
      DB_PASSWORD: 'SENTINEL-env-4c1d',
    };
    for (const name of Object.keys(ns.configmaps!))
      ns.configmaps![name] = { ...ns.configmaps![name], api_token: 'SENTINEL-cm-9e2f' };
    cluster.write(state);
    const manifests = await run(activities.backupManifests, { backupKey: 'INC-1-20261124T021000Z' });
    assert.deepEqual(
      manifests.map((m) => m.kind),
      ['deployment', 'configmap'],
    );
    assert.match(readFileSync(manifests[0]!.path, 'utf8'), /kind: "Deployment"/);
    // What enters the history: path, sha256, size and a scrubbed excerpt; never the YAML itself.
    const recorded = JSON.stringify(manifests);
    assert.ok(!recorded.includes('SENTINEL'), recorded);
    assert.ok(!('yaml' in manifests[0]!));
    const files = manifests.map((m) => readFileSync(m.path));
    assert.ok(
      files.some((file) => file.includes('SENTINEL-env-4c1d')),
      'the artifact holds the env value',
    );
    assert.ok(
      files.some((file) => file.includes('SENTINEL-cm-9e2f')),
      'the artifact holds the configmap value',
    );
    for (const [i, m] of manifests.entries()) {
      assert.equal(m.sha256, createHash('sha256').update(files[i]!).digest('hex'));
      assert.equal(m.bytes, files[i]!.length);
      assert.ok(m.excerpt.length > 0 && m.excerpt.length < 400);
    }
    const dump = await run(activities.backupDatabase, { backupKey: 'INC-1-20261124T021000Z' });
    assert.match(gunzipSync(readFileSync(dump.path)).toString('utf8'), /PostgreSQL database dump/);
    const again = await run(activities.backupDatabase, { backupKey: 'INC-1-20261124T021000Z' });
    assert.equal(again.reused, true);
    assert.equal(cluster.calls().filter((argv) => argv.includes('pg_dump')).length, 1);
  });

  test('backupDatabase settles when the dump ends before the kubectl process exits', async () => {
    // Regression: the promise used to wait for the file's close inside the child's close, which never
    // came when the file closed first; the activity then hung until its heartbeat timeout.
    const state = cluster.read();
    state.namespaces.production!.postgres!.dumpLingerMs = 400;
    cluster.write(state);
    const dump = await run(activities.backupDatabase, { backupKey: 'INC-2-20261124T021000Z' });
    assert.equal(dump.reused, false);
    assert.match(gunzipSync(readFileSync(dump.path)).toString('utf8'), /dump complete/);
  });

  test('names that are not Kubernetes names are refused before any kubectl call', async () => {
    for (const call of [
      () => run(activities.setAllowlist, { repos: ['compliance-service', 'Bad_Repo;rm -rf /'] }),
      () => run(activities.disableAlertRule, { repo: '../kube-system' }),
      () => run(activities.backupManifests, { backupKey: 'x/../../etc' }),
    ]) {
      await assert.rejects(call(), failure('InvalidInput', true));
    }
    assert.equal(cluster.calls().length, 0);
  });

  test('staging soak: one job per run however often it is started, in staging; a failed job is judged, not thrown', async () => {
    const soaking = createActivities(
      activityDeps(
        rollbackPolicy(tmp, prometheus.url, (p) => {
          p.runbooks.phasedReenablement.stagingSoak = {
            image: 'registry.test/blocks:1',
            command: ['blocks', 'test', 'soak'],
          };
        }),
        db.pool,
      ),
    );
    type Start = RunbookActivities['startStagingSoak'];
    const startIn = (runId: string) =>
      new MockActivityEnvironment(
        { workflowExecution: { workflowId: 'phased-reenablement-INC-1', runId } },
        { logger: quiet },
      ).run<Parameters<Start>, Awaited<ReturnType<Start>>, Start>(soaking.startStagingSoak, {
        repos: ['inventory-mgmt'],
      });
    const first = await startIn('run-a');
    const retry = await startIn('run-a');
    const nextRun = await startIn('run-b');
    assert.equal(first.created, true);
    // Every attempt bounds its job by maxDuration (4 h by default), the retry too.
    assert.deepEqual(retry, {
      job: first.job,
      namespace: 'staging',
      created: false,
      activeDeadlineSeconds: 4 * 3600,
    });
    assert.notEqual(nextRun.job, first.job, 'a new run soaks again');
    assert.deepEqual(
      mutations(cluster).map((argv) =>
        argv.includes('create') ? 'create' : argv.includes('patch') ? 'patch' : '?',
      ),
      ['create', 'patch', 'patch', 'create', 'patch'],
      'two creates, none for the retry',
    );
    for (const job of [first.job, nextRun.job])
      assert.equal(cluster.read().namespaces.staging!.jobs![job]!.activeDeadlineSeconds, 4 * 3600);
    assert.ok(mutations(cluster).every((argv) => argv.includes('staging')));
    cluster.update((state) => (state.namespaces.staging!.jobs![first.job]!.outcome = 'failed'));
    const failed = await run(soaking.readStagingSoak, { job: first.job });
    assert.equal(failed.state, 'failed');
    assert.deepEqual(failed.reasons, ['the soak job failed']);
    // An aborted run deletes its own job; a retry finds it gone and says so.
    const stopped = await run(soaking.stopStagingSoak, { job: first.job });
    const stoppedAgain = await run(soaking.stopStagingSoak, { job: first.job });
    assert.deepEqual([stopped.deleted, stoppedAgain.deleted], [true, false]);
    assert.equal(cluster.read().namespaces.staging!.jobs![first.job], undefined);
    assert.ok(cluster.read().namespaces.staging!.jobs![nextRun.job], 'the other run’s job stays');
    await assert.rejects(run(soaking.stopStagingSoak, { job: 'Bad_Job;rm' }), failure('InvalidInput', true));
    // Without the policy section, the activity says which section is missing.
    await assert.rejects(
      run(activities.startStagingSoak, { repos: ['inventory-mgmt'] }),
      failure('ConfigurationError', true, /runbooks\.phasedReenablement\.stagingSoak/),
    );
  });

  test('failures: unreachable API retryable, Forbidden not, a hang hits the timeout', async () => {
    cluster.scriptNext({
      stderr: 'Unable to connect to the server: dial tcp 10.0.0.1:443: i/o timeout',
      exitCode: 1,
    });
    await assert.rejects(run(activities.readAllowlist), failure('KubectlFailed', false, /Unable to connect/));
    cluster.scriptNext({
      stderr: 'Error from server (Forbidden): deployments.apps "flowengine" is forbidden',
      exitCode: 1,
    });
    await assert.rejects(run(activities.readAllowlist), failure('KubectlRejected', true, /Forbidden/));
    cluster.scriptNext({ hang: true });
    const started = Date.now();
    await assert.rejects(
      run(activities.readAllowlist),
      failure('KubectlTimeout', false, /no answer within 5000 ms/),
    );
    assert.ok(Date.now() - started < 10_000);
  });

  test('the pilot test flow: pass, fail, and the success criteria', async () => {
    const pass = await run(activities.runPilotVerification);
    assert.equal(pass.ok, true, pass.reasons.join());
    assert.equal(pass.costUsd, 1.42);
    // Seed 002 step 5: "Cost: <$2.00".
    writeFileSync(blocksState, JSON.stringify({ mode: 'pass', costUsd: 2.4 }));
    const costly = await run(activities.runPilotVerification);
    assert.equal(costly.ok, false);
    assert.deepEqual(costly.reasons, ['cost $2.40 (the seed expects < $2.00)']);
    // A flow that prints 100 MiB before its verdict: judged on what it printed last, and the worker
    // holds its first 1 Mi and last 4 Mi characters (before: all of it, however much).
    writeFileSync(blocksState, JSON.stringify({ mode: 'pass', verboseMiB: 100 }));
    const verbose = await run(activities.runPilotVerification);
    assert.equal(verbose.ok, true, verbose.reasons.join());
    assert.equal(verbose.costUsd, 1.42);
    const kept = readFileSync(verbose.outputArtifact!.path, 'utf8');
    assert.ok(kept.length <= 5 * 1024 * 1024 + 100, `kept ${kept.length} characters`);
    assert.match(kept, /\n\[… \d+ characters of output not kept …\]\n/);
    assert.match(kept, /Quality Gates: 5\/5 passed\n$/);
    assert.doesNotMatch(kept, /\uFFFD/, 'a character split between two chunks is kept whole');
    writeFileSync(blocksState, JSON.stringify({ mode: 'fail' }));
    const fail = await run(activities.runPilotVerification);
    assert.equal(fail.ok, false);
    assert.deepEqual(fail.reasons.slice(0, 2), [
      'exit code 1',
      'output does not match /Quality Gates: 5\\/5 passed/'.replace('\\/', '/'),
    ]);
  });
});

describe('metrics layer (Prometheus HTTP API)', () => {
  test('failures by repo and the failure rate; the repo analysis', async () => {
    prometheus.values.failures_by_repo = {
      'inventory-mgmt': 7,
      'customer-analytics': 4,
      'compliance-service': 0,
    };
    prometheus.values.failure_rate = 0.18;
    const incident = await run(activities.incidentMetrics, { window: '30m' });
    assert.deepEqual(incident.failingRepos, ['inventory-mgmt', 'customer-analytics']);
    assert.equal(incident.failureRate, 0.18);
    prometheus.values.success_rate = (repos) => (repos.includes('risk-engine') ? 0.95 : 0.998);
    const analysis = await run(activities.analyzeRepos, {
      repos: ['compliance-service', 'risk-engine'],
      window: '30m',
    });
    assert.equal(analysis.successRate, 0.95);
    assert.equal(analysis.p95LatencySeconds, 80);
    const request = prometheus.sink.requests.find((r) => r.query.get('query')?.startsWith('success_rate'))!;
    assert.equal(
      request.query.get('query'),
      'success_rate{repos="compliance-service|risk-engine",window="30m"}',
    );
  });

  test('no data is null (inconclusive), not zero', async () => {
    prometheus.values.success_rate = null;
    const analysis = await run(activities.analyzeRepos, { repos: ['compliance-service'], window: '30m' });
    assert.equal(analysis.successRate, null);
  });

  test("5xx retryable, a bad query not (with Prometheus' reason), a hang times out; bad repo names never sent", async () => {
    // Scripted for the failures-by-repo query only: the two queries run in parallel.
    const failuresQuery = (request: { query: URLSearchParams }) =>
      (request.query.get('query') ?? '').startsWith('failures_by_repo');
    prometheus.sink.respondNextWhen(failuresQuery, { status: 503, body: 'Service Unavailable' });
    await assert.rejects(
      run(activities.incidentMetrics, { window: '30m' }),
      failure('ChannelUnavailable', false, /prometheus: query failuresByRepo: HTTP 503/),
    );
    prometheus.sink.respondNextWhen(failuresQuery, {
      status: 400,
      body: { status: 'error', errorType: 'bad_data', error: 'parse error' },
    });
    await assert.rejects(
      run(activities.incidentMetrics, { window: '30m' }),
      failure('ChannelRejected', true, /bad_data.*parse error/),
    );
    prometheus.sink.respondNextWhen(failuresQuery, 'hang');
    await assert.rejects(
      run(activities.incidentMetrics, { window: '30m' }),
      failure('ChannelUnavailable', false, /no response within 2000 ms/),
    );
    const before = prometheus.sink.requests.length;
    await assert.rejects(
      run(activities.analyzeRepos, { repos: ['a"}) or vector(1'], window: '30m' }),
      failure('InvalidInput', true),
    );
    assert.equal(prometheus.sink.requests.length, before);
  });
});
