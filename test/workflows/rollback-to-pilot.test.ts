import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, beforeEach, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { ROLLBACK_DRILL_INPUT } from '../../src/cli/schedule';
import { scratchDir } from '../../src/local/servers';
import type { LoadedPolicy } from '../../src/worker/policy';
import { rollbackToPilot } from '../../src/workflows';
import {
  confirmRollbackSignal,
  rcaFiledSignal,
  type RollbackStatus,
  type RollbackToPilotInput,
} from '../../src/workflows/rollback-to-pilot/definitions';
import {
  assertElapsed,
  completedActivities,
  eventTimeMs,
  historyEvents,
  historyText,
  recordHistory,
  scheduledActivities,
} from '../fixtures/history';
import { EXPANDED_REPOS, FakeCluster, mutations, orchestratorCluster } from '../fixtures/kubectl';
import { activityDeps, rollbackPolicy } from '../fixtures/policy';
import { withRollbackPolicy } from '../fixtures/rollback-world';
import type { PrometheusSink } from '../fixtures/sinks/prometheus';
import { workflowSuite } from '../fixtures/suite';
import { uniqueId } from '../fixtures/temporal';
import { atStep, readUntil, waitForStatus } from '../fixtures/wait';
import { abortSignal, stepDecisionSignal } from '../../src/workflows/shared/messages';
import { cancellationNotices, cancelRun } from '../fixtures/cancellation';

/**
 * RB-LAUNCH-002 on the time-skipping server with the policy's real durations (30 min triage,
 * 30 min confirmation, 24 h RCA), the fake kubectl, a local Prometheus and a fake test flow.
 */

const MINUTE = 60_000;
const tmp = scratchDir('runbooks-rollback');
const blocksState = path.join(tmp, 'blocks.json');
const suite = workflowSuite({ server: 'time-skipping', queuePrefix: 'tq-rollback', resetDatabase: false });
let prometheus: PrometheusSink;
let policy: LoadedPolicy;
let cluster: FakeCluster;

withRollbackPolicy(tmp, (world) => ({ prometheus, policy } = world));

before(() => {
  process.env.FAKE_BLOCKS_STATE = blocksState;
});

const TWELVE_FAILING = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`repo-${i}`, 5]));

beforeEach(() => {
  cluster = FakeCluster.create(tmp, orchestratorCluster());
  cluster.install();
  writeFileSync(blocksState, JSON.stringify({ mode: 'pass' }));
  prometheus.values.failures_by_repo = TWELVE_FAILING;
  prometheus.values.failure_rate = 0.31;
});

type Handle = WorkflowHandle<typeof rollbackToPilot>;

function withWorker<T>(fn: (taskQueue: string) => Promise<T>): Promise<T> {
  return suite.withWorker(activityDeps(policy, suite.db.pool), fn);
}

function input(overrides: Partial<RollbackToPilotInput> = {}): RollbackToPilotInput {
  return {
    incidentId: uniqueId('INC'),
    severity: 'P1',
    reason: 'mass ModelTimeout failures across expanded repos',
    incidentCommander: '@sre-lead',
    affectedRepos: EXPANDED_REPOS,
    ...overrides,
  };
}

function start(taskQueue: string, args: RollbackToPilotInput): Promise<Handle> {
  return suite.env.client.workflow.start(rollbackToPilot, {
    taskQueue,
    workflowId: `rollback-to-pilot-${args.incidentId}`,
    args: [args],
  });
}

async function runToRca(handle: Handle) {
  await waitForStatus<RollbackStatus>(handle, atStep('awaiting_rca'), 'the RCA wait', 60_000);
  await handle.signal(rcaFiledSignal, { by: '@sre-lead', link: 'https://wiki.example/rca/INC' });
  return handle.result();
}

function verbs(): string[] {
  return mutations(cluster).map(
    (argv) => `${argv[4]}${argv[5] === 'prometheusrule' ? ' prometheusrule' : ''}`,
  );
}

describe('rollbackToPilot (time-skipping)', () => {
  test('P1 mass failure: steps 1–8 verified, backups kept, every mutation exactly once, RCA filed', async () => {
    // A secret where real manifests carry one: it must reach the backup file, never the history.
    const planted = cluster.read();
    const configMaps = planted.namespaces.production!.configmaps!;
    for (const name of Object.keys(configMaps))
      configMaps[name] = { ...configMaps[name], DB_PASSWORD: 'SENTINEL-rb-51f0' };
    cluster.write(planted);
    await withWorker(async (taskQueue) => {
      const handle = await start(taskQueue, input());
      const result = await runToRca(handle);
      const manifests = result.backups?.manifests as { kind: string; path: string; sha256: string }[];
      const configMapBackup = manifests.find((m) => m.kind === 'configmap')!;
      const file = readFileSync(configMapBackup.path);
      assert.ok(file.includes('SENTINEL-rb-51f0'), 'the artifact holds the configmap');
      assert.equal(configMapBackup.sha256, createHash('sha256').update(file).digest('hex'));
      assert.ok(
        !JSON.stringify(result).includes('SENTINEL-rb-51f0'),
        'the result (and so the history) does not',
      );
      assert.ok(!(await historyText(handle)).includes('SENTINEL-rb-51f0'), 'nor the exported history');

      assert.equal(result.outcome, 'rolled_back', result.message);
      assert.equal(result.decision?.level, 'P1');
      assert.match(result.decision.reasons.join(), /mass concurrent failures: 12 repos failing/);
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
      assert.deepEqual(
        verbs().sort(),
        ['exec', 'scale', 'set', ...EXPANDED_REPOS.map(() => 'patch prometheusrule')].sort(),
      );
      for (const step of [
        'restrict_allowlist',
        'rollout_status',
        'scale_down',
        'revert_schema',
        'silence_alerts',
        'verify_pilot',
        'health_checks',
      ]) {
        assert.equal(result.evidence.find((e) => e.step === step)?.ok, true, `${step} verified`);
      }
      assert.equal(result.backups?.database?.state, 'done');
      assert.ok(existsSync(result.backups.database.path!));
      assert.equal(result.targets?.execution.met, true);
      assert.equal(result.targets?.total.met, true);
      assert.equal(result.rca?.state, 'filed');
      const kinds = result.notices.map((n) => n.kind);
      for (const kind of ['rollback_started', 'rollback_page', 'rollback_complete'])
        assert.ok(kinds.includes(kind), kind);
      await recordHistory(handle, 'rollback-to-pilot');
    });
  });

  test('seed 003 writer freeze: writers at zero and the fence set before the first rollback change; green held 10 min, then restored', async () => {
    const frozenPolicy = rollbackPolicy(tmp, prometheus.url, (p) => {
      p.runbooks.rollbackToPilot.writerFreeze = {
        writers: ['ingest-writer', 'billing-consumer'],
        fence: { configMap: 'write-fence', key: 'writes', frozen: 'blocked', open: 'open' },
        holdGreen: '10m',
      };
    });
    cluster.update((state) => {
      const ns = state.namespaces.production!;
      // Its pods take two reads to stop: the freeze is confirmed only once none is ready.
      ns.deployments!['ingest-writer'] = { replicas: 2, labels: { app: 'ingest-writer' }, stopReads: 2 };
      ns.deployments!['billing-consumer'] = { replicas: 1, labels: { app: 'billing-consumer' } };
      ns.configmaps!['write-fence'] = { writes: 'open' };
    });
    await suite.withWorker(activityDeps(frozenPolicy, suite.db.pool), async (taskQueue) => {
      const handle = await start(taskQueue, input());
      await suite.env.sleep(11 * MINUTE);
      const result = await runToRca(handle);
      assert.equal(result.outcome, 'rolled_back', result.message);
      const ns = cluster.read().namespaces.production!;
      assert.deepEqual(
        [ns.deployments!['ingest-writer']!.replicas, ns.deployments!['billing-consumer']!.replicas],
        [2, 1],
        'writers back to their replicas',
      );
      assert.equal(ns.configmaps!['write-fence']!.writes, 'open');
      assert.deepEqual(ns.deployments!['ingest-writer']!.metadataAnnotations, {}, 'annotation removed');
      const frozen = result.evidence.find((e) => e.step === 'freeze_writers');
      assert.equal(frozen?.ok, true, JSON.stringify(frozen));

      // Order on the cluster: both writers at zero and the fence blocked before the allowlist changes.
      const calls = cluster.calls().map((argv) => argv.slice(4).join(' '));
      const at = (pattern: RegExp) => calls.findIndex((call) => pattern.test(call));
      const allowlist = at(/^set env deployment\/flowengine/);
      for (const freeze of [
        /^scale deployment\/ingest-writer --replicas=0/,
        /^scale deployment\/billing-consumer --replicas=0/,
        /^patch configmap\/write-fence .*blocked/,
      ])
        assert.ok(
          at(freeze) >= 0 && at(freeze) < allowlist,
          `${freeze} before the allowlist (${calls.join(' | ')})`,
        );
      // Held 10 min of green (from the history): step 6's health check (the one before hold_green's
      // own; those before it are the downtime's samples) → the unfreeze.
      const done = completedActivities(await historyEvents(handle));
      const firstHealth = done.filter((a) => a.type === 'healthChecks').at(-2)!.completedAtMs;
      const unfreeze = done.find((a) => a.type === 'unfreezeWriters')!.scheduledAtMs;
      assertElapsed(firstHealth, unfreeze, 10 * MINUTE, 30_000, 'green held before the unfreeze');
      await recordHistory(handle, 'rollback-to-pilot-writer-freeze');
    });
  });

  test('cancelled from Temporal while green is held with the writers frozen: CANCELED, the IC told the writers are still frozen; nothing unfrozen or changed after', async () => {
    const frozenPolicy = rollbackPolicy(tmp, prometheus.url, (p) => {
      p.runbooks.rollbackToPilot.writerFreeze = {
        writers: ['ingest-writer'],
        fence: { configMap: 'write-fence', key: 'writes', frozen: 'blocked', open: 'open' },
        holdGreen: '10m',
      };
    });
    cluster.update((state) => {
      const ns = state.namespaces.production!;
      ns.deployments!['ingest-writer'] = { replicas: 2, labels: { app: 'ingest-writer' } };
      ns.configmaps!['write-fence'] = { writes: 'open' };
    });
    await suite.withWorker(activityDeps(frozenPolicy, suite.db.pool), async (taskQueue) => {
      const handle = await start(taskQueue, input());
      await waitForStatus<RollbackStatus>(handle, atStep('hold_green'), 'green held', 60_000);
      const mutationsBefore = mutations(cluster).length;
      const { status } = await cancelRun<RollbackStatus>(handle);
      assert.equal(status.outcome, 'cancelled');
      const rows = await cancellationNotices(suite.db.pool, handle.workflowId);
      assert.equal(rows.length, 1);
      assert.match(rows[0]!.subject, /CANCELLED at hold_green/);
      assert.match(rows[0]!.body, /the writers are still FROZEN \(ingest-writer was 2\)/);
      const ns = cluster.read().namespaces.production!;
      assert.equal(
        ns.deployments!['ingest-writer']!.replicas,
        0,
        'a cancellation does not act on the cluster',
      );
      assert.equal(ns.configmaps!['write-fence']!.writes, 'blocked');
      assert.deepEqual(
        mutations(cluster).slice(mutationsBefore),
        [],
        'no kubectl mutation after the cancellation',
      );
      await recordHistory(handle, 'rollback-to-pilot-cancelled-writers-frozen');
    });
  });

  test('quarterly drill: the decision on live metrics and the dry-run plan, timed from the history against 20 min; its log written; nothing changed, nobody paged', async () => {
    await withWorker(async (taskQueue) => {
      const handle = await start(taskQueue, { ...ROLLBACK_DRILL_INPUT, incidentId: uniqueId('DRILL') });
      const result = await handle.result();
      assert.equal(result.outcome, 'drill_within_slo', result.message);
      assert.ok(result.decision, 'the decision framework ran');
      assert.deepEqual(mutations(cluster), [], 'dry runs only');
      const log = readFileSync(result.drill!.log!.path!, 'utf8');
      assert.match(log, /# Rollback drill \(RB-LAUNCH-002\)/);
      assert.match(log, /\| plan \|/);
      const kinds = result.notices.map((n) => n.kind);
      for (const kind of ['rollback_started', 'rollback_page', 'rollback_drill'])
        assert.ok(!kinds.includes(kind), `no ${kind}`);
      const events = await historyEvents(handle);
      const startedAt = eventTimeMs(events[0]!);
      const loggedAt = scheduledActivities(events).find((a) => a.type === 'writeDrillLog')!.atMs;
      assert.ok(loggedAt >= startedAt && loggedAt - startedAt < 20 * MINUTE);
      assert.ok(
        Math.abs(result.drill!.elapsedMs - (loggedAt - startedAt)) < 5_000,
        'the verdict is the history’s time',
      );
      await recordHistory(handle, 'rollback-to-pilot-drill');
    });
  });

  test('a drill held past 20 min (its plan waiting for a human) ends drill_over_slo: flagged, the IC and the TL told', async () => {
    cluster.scriptNext({
      verb: 'get',
      stderr: 'Error from server (Forbidden): deployments.apps is forbidden',
      exitCode: 1,
    });
    await withWorker(async (taskQueue) => {
      const handle = await start(taskQueue, { ...ROLLBACK_DRILL_INPUT, incidentId: uniqueId('DRILL') });
      await waitForStatus<RollbackStatus>(handle, atStep('needs_human'), 'the plan waiting for a human');
      await suite.env.sleep(25 * MINUTE);
      await handle.signal(stepDecisionSignal, { by: '@sre-lead', decision: 'retry', reason: 'RBAC fixed' });
      const result = await handle.result();
      assert.equal(result.outcome, 'drill_over_slo', result.message);
      assert.ok(result.flags.some((f) => f.code === 'drill_over_slo'));
      assert.ok(result.notices.some((n) => n.kind === 'rollback_drill'));
      const events = await historyEvents(handle);
      const loggedAt = scheduledActivities(events).find((a) => a.type === 'writeDrillLog')!.atMs;
      assert.ok(loggedAt - eventTimeMs(events[0]!) >= 25 * MINUTE);
    });
  });

  test('crash loop: restarted once with the pilot config', async () => {
    cluster.write(orchestratorCluster({ crashLoop: true, replicas: 3 }));
    await withWorker(async (taskQueue) => {
      const result = await runToRca(await start(taskQueue, input({ facts: { crashLoopMinutes: 22 } })));
      assert.equal(result.outcome, 'rolled_back');
      assert.ok(result.evidence.some((e) => e.step === 'restart_crash_loop' && e.ok));
      assert.deepEqual(
        verbs().filter((v) => v === 'patch'),
        ['patch'],
        'one restart',
      );
      assert.ok(!verbs().includes('scale'), 'replicas already at the pilot baseline');
    });
  });

  test('P2: 30-min triage hold, then the IC confirms; nothing changes before the hold ends', async () => {
    prometheus.values.failures_by_repo = { a: 3, b: 2, c: 1, d: 1 };
    await withWorker(async (taskQueue) => {
      const args = input({ severity: 'P2', facts: { allProvidersRateLimited: true } });
      const handle = await start(taskQueue, args);
      await waitForStatus<RollbackStatus>(handle, atStep('triage_hold'), 'the triage hold');
      await handle.signal(confirmRollbackSignal, { by: '@mallory', decision: 'go' });
      await handle.signal(confirmRollbackSignal, {
        by: '@sre-lead',
        decision: 'go',
        note: 'quota raise denied',
      });
      await suite.env.sleep(31 * MINUTE);
      const result = await runToRca(handle);
      // The seed's clocks start at the go decision: the 30-min triage is the decision, not the
      // rollback, so a prompt P2 rollback meets "total < 30 min" (it used to be reported missed).
      assert.equal(result.outcome, 'rolled_back', result.message);
      assert.deepEqual(
        result.flags.map((f) => f.code),
        [],
      );
      assert.equal(result.targets?.execution.met, true);
      assert.equal(result.targets?.total.met, true);
      assert.equal(result.decision?.level, 'P2');
      assert.deepEqual(
        result.refusedAttempts.map((r) => r.reason),
        ['not_authorized'],
      );
      const events = await historyEvents(handle);
      const startedMs = Date.parse(result.steps[0]!.startedAt);
      const firstChange = scheduledActivities(events).find((a) => a.type === 'setAllowlist')!;
      assert.ok(firstChange.atMs - startedMs >= 30 * MINUTE, 'no change before the 30-min triage hold ends');
      // The total runs from the go (the hold's end, the IC having confirmed): both bounds from the history.
      const completedMs = scheduledActivities(events)
        .filter((a) => a.type === 'setAllowlist')
        .at(-1)!.atMs;
      assert.ok(result.targets.total.actualMs! < completedMs - startedMs, 'the triage is not counted');
      assert.ok(result.targets.total.actualMs! >= completedMs - firstChange.atMs, 'the rollback itself is');
    });
  });

  test('P2 cancelled by the IC, or never confirmed: nothing is rolled back', async () => {
    prometheus.values.failures_by_repo = { a: 3, b: 2, c: 1, d: 1 };
    await withWorker(async (taskQueue) => {
      const cancelled = await start(
        taskQueue,
        input({ severity: 'P2', facts: { allProvidersRateLimited: true } }),
      );
      await waitForStatus<RollbackStatus>(cancelled, atStep('triage_hold'), 'the triage hold');
      await cancelled.signal(confirmRollbackSignal, {
        by: '@sre-lead',
        decision: 'cancel',
        note: 'provider recovered',
      });
      assert.equal((await cancelled.result()).outcome, 'cancelled');
      const expired = await (
        await start(taskQueue, input({ severity: 'P2', facts: { allProvidersRateLimited: true } }))
      ).result();
      assert.equal(expired.outcome, 'confirmation_expired');
      assert.ok(expired.notices.some((n) => n.kind === 'rollback_confirmation_expired'));
      assert.deepEqual(verbs(), []);
    });
  });

  test('NO-GO: single repo (isolate it), intermittent errors, P3 — refused with the reason, nothing changed', async () => {
    await withWorker(async (taskQueue) => {
      prometheus.values.failures_by_repo = { 'inventory-mgmt': 9 };
      const single = await (await start(taskQueue, input({ severity: 'P2' }))).result();
      assert.equal(single.outcome, 'no_go');
      assert.match(
        single.message,
        /single repo failing \(inventory-mgmt\).*isolate the repo instead \(RB-CORE-001/,
      );
      prometheus.values.failures_by_repo = { a: 1, b: 1 };
      prometheus.values.failure_rate = 0.02;
      const intermittent = await (await start(taskQueue, input({ severity: 'P2' }))).result();
      assert.match(intermittent.message, /intermittent errors: 2\.0 % failure rate/);
      const p3 = await (await start(taskQueue, input({ severity: 'P3' }))).result();
      assert.match(p3.message, /P3 incident: non-critical/);
      assert.deepEqual(verbs(), []);
    });
  });

  test('rollout stuck after the allowlist change: escalated to the Engineering TL, rollback stops', async () => {
    cluster.write(orchestratorCluster({ rolloutStuck: true }));
    await withWorker(async (taskQueue) => {
      const result = await (await start(taskQueue, input())).result();
      assert.equal(result.outcome, 'escalated_rollout');
      assert.match(result.message, /escalated to @eng-tl/);
      const page = result.notices.find((n) => n.kind === 'rollback_rollout_stuck')!;
      assert.match(page.subject, /escalate to Engineering TL/);
      assert.deepEqual(verbs(), ['set'], 'nothing after the stuck rollout');
    });
  });

  test('schema rollback fails: restore path from the backup, DBA escalated', async () => {
    cluster.write(orchestratorCluster({ rollbackError: 'relation "task_v2" does not exist' }));
    await withWorker(async (taskQueue) => {
      const result = await (await start(taskQueue, input())).result();
      assert.equal(result.outcome, 'escalated_schema');
      assert.match(
        result.message,
        /relation "task_v2" does not exist.*restore from .*taskdb_pre_rollback_.*escalated to @dba/,
      );
      assert.ok(result.notices.some((n) => n.kind === 'rollback_schema_failed'));
    });
  });

  test('pilot verification fails: "CRITICAL: rollback failed" to the TL and the IC', async () => {
    writeFileSync(blocksState, JSON.stringify({ mode: 'fail' }));
    await withWorker(async (taskQueue) => {
      const result = await (await start(taskQueue, input())).result();
      assert.equal(result.outcome, 'rollback_failed');
      assert.match(result.message, /^CRITICAL: rollback failed/);
      const page = result.notices.find((n) => n.kind === 'rollback_failed')!;
      assert.match(page.subject, /CRITICAL: rollback failed/);
    });
  });

  test('downtime (seed 002: < 5 min): from the first failing health check to healthy again, from the history', async () => {
    const state = orchestratorCluster({ unhealthy: true });
    // 2 endpoints a check: failing at the go and after each of the 5 execution steps, and in
    // step 6's first two checks; healthy at its third, 30 s later.
    state.namespaces.production!.healthRecoversAfter = 2 * 6 + 2 * 2;
    cluster.write(state);
    await withWorker(async (taskQueue) => {
      const handle = await start(taskQueue, input());
      // Awaiting the result lets the server skip step 6's 15 s waits (and the RCA's 24 h: missed).
      const result = await handle.result();
      assert.deepEqual(
        result.flags.map((f) => f.code),
        [],
        'downtime within its target, health green in the end',
      );
      const checks = completedActivities(await historyEvents(handle)).filter(
        (a) => a.type === 'healthChecks',
      );
      assert.equal(checks.length, 9, 'a check at the go, after each of 5 steps, and 3 in step 6');
      for (let i = 7; i < checks.length; i++)
        assertElapsed(
          checks[i - 1]!.completedAtMs,
          checks[i]!.scheduledAtMs,
          15_000,
          2_000,
          `step 6 check ${i - 5}`,
        );
      const downtime = result.targets?.downtime;
      assert.equal(downtime?.met, true);
      // Both bounds from the history: the first failing check's answer to the healthy one's.
      const expected = checks.at(-1)!.completedAtMs - checks[0]!.completedAtMs;
      assert.ok(
        Math.abs(downtime.actualMs! - expected) <= 1_000,
        `downtime ${downtime.actualMs} ms, the history says ${expected} ms`,
      );
      assert.ok(downtime.from && downtime.to);
      await recordHistory(handle, 'rollback-to-pilot-downtime');
    });
  });

  test('degraded health after the rollback and a missed RCA: completed with warnings, escalated', async () => {
    cluster.write(orchestratorCluster({ unhealthy: true }));
    await withWorker(async (taskQueue) => {
      const handle = await start(taskQueue, input());
      const result = await handle.result();
      assert.equal(result.outcome, 'rolled_back_with_warnings');
      assert.deepEqual(
        result.flags.map((f) => f.code),
        ['health_degraded', 'target_downtime_missed'],
      );
      // Never healthy: step 6 checked again every 15 s until 5 min after the first failing check.
      const checks = completedActivities(await historyEvents(handle)).filter(
        (a) => a.type === 'healthChecks',
      );
      assertElapsed(
        checks[0]!.completedAtMs,
        checks.at(-1)!.completedAtMs,
        5 * MINUTE,
        20_000,
        'downtime watched',
      );
      assert.equal(result.targets?.downtime?.met, false);
      assert.equal(result.targets.downtime.to, undefined, 'never healthy again');
      assert.deepEqual(
        result.nonConformities.map((n) => n.code),
        ['rca_missed'],
      );
      assert.ok(result.notices.some((n) => n.kind === 'rollback_rca_missed'));
    });
  });

  test('dry run: the plan with server-side dry runs, no change, no notice to stakeholders', async () => {
    await withWorker(async (taskQueue) => {
      const result = await (await start(taskQueue, input({ dryRun: true }))).result();
      assert.equal(result.outcome, 'dry_run');
      const plan = result.plan as {
        allowlist: { next: string[] };
        replicas: { next: number };
        alerts: unknown[];
      };
      assert.deepEqual(plan.allowlist.next, ['compliance-service']);
      assert.equal(plan.replicas.next, 3);
      assert.equal(plan.alerts.length, EXPANDED_REPOS.length);
      assert.deepEqual(verbs(), []);
      assert.ok(cluster.calls().some((argv) => argv.includes('--dry-run=server')));
      assert.ok(!result.notices.some((n) => n.kind === 'rollback_started'));
    });
  });
});

describe('rollbackToPilot failure paths (time-skipping)', () => {
  async function noticeKinds(
    workflowId: string,
  ): Promise<{ kind: string; severity: string; body: string }[]> {
    const rows = await suite.db.pool.query<{ kind: string; severity: string; body: string }>(
      'SELECT kind, severity, body FROM runbook_notices WHERE workflow_id = $1 ORDER BY created_at',
      [workflowId],
    );
    return rows.rows;
  }

  test('point 1: rollout status cannot reach the API server — needs_human, the TL paged with what was done; retry completes once', async () => {
    await withWorker(async (taskQueue) => {
      // `kubectl rollout status` is refused for every attempt of its activity (5).
      const refused = {
        verb: 'rollout',
        stderr: 'The connection to the server 10.0.0.1:6443 was refused',
        exitCode: 1,
      };
      cluster.scriptNext(...Array.from({ length: 5 }, () => refused));
      const handle = await start(taskQueue, input());
      // The attempts' backoff (30 s) in a skip, not in real time.
      await suite.env.sleep(2 * MINUTE);
      const waiting = await waitForStatus<RollbackStatus>(
        handle,
        (s) => s.step === 'needs_human',
        'needs_human',
        60_000,
      );
      assert.equal(waiting.needsHuman?.step, 'restrict_allowlist');
      assert.match(waiting.needsHuman?.error ?? '', /connection to the server .* was refused/);
      assert.deepEqual(waiting.needsHuman?.paged, ['@sre-lead', '@eng-tl']);
      assert.match(waiting.needsHuman?.account ?? '', /nothing after that was changed/);
      assert.deepEqual((await handle.describe()).searchAttributes.RunbookStep, ['needs_human']);
      // The allowlist is already cut to the pilot; nothing further was changed.
      const flowengine = cluster.read().namespaces.production!.deployments!.flowengine!;
      assert.equal(flowengine.env!.REPO_ALLOWLIST, 'compliance-service');
      assert.equal(flowengine.replicas, 10);
      // The page is delivered by its own activity once the status says needs_human.
      const page = (
        await readUntil(
          () => noticeKinds(handle.workflowId),
          (rows) => rows.some((n) => n.kind === 'needs_human'),
          'the needs_human page',
        )
      ).find((n) => n.kind === 'needs_human');
      assert.equal(page?.severity, 'critical');
      assert.match(page.body, /set the allowlist to the pilot repo and wait for the rollout failed for good/);

      await handle.signal(stepDecisionSignal, {
        by: '@eng-tl',
        decision: 'retry',
        reason: 'API server back',
      });
      const result = await runToRca(handle);
      assert.equal(result.outcome, 'rolled_back', result.message);
      assert.deepEqual(
        verbs().sort(),
        ['exec', 'scale', 'set', ...EXPANDED_REPOS.map(() => 'patch prometheusrule')].sort(),
        'each mutation exactly once',
      );
      await recordHistory(handle, 'rollback-to-pilot-needs-human-retry');
    });
  });

  test('point 2: a configmap repo name that is not a Kubernetes name is reported and never reaches kubectl', async () => {
    cluster.update((state) => {
      state.namespaces.production!.configmaps!['repo-config']!.expanded_repos =
        `${EXPANDED_REPOS.join(' ')} Bad_Repo;rm`;
    });
    await withWorker(async (taskQueue) => {
      const handle = await start(taskQueue, input());
      const result = await runToRca(handle);
      assert.equal(result.outcome, 'rolled_back_with_warnings', result.message);
      assert.match(result.flags.find((f) => f.code === 'invalid_repo_names')!.message, /"Bad_Repo;rm"/);
      assert.ok(
        !cluster.calls().some((argv) => argv.join(' ').includes('Bad_Repo')),
        'never passed to kubectl',
      );
      assert.equal(result.evidence.find((e) => e.step === 'verify_pilot')?.ok, true, 'the rollback went on');
      assert.ok((await noticeKinds(handle.workflowId)).some((n) => n.kind === 'rollback_invalid_repos'));
    });
  });

  test('abort while a step waits for a human ends the run with what was and was not done', async () => {
    await withWorker(async (taskQueue) => {
      const refused = {
        verb: 'rollout',
        stderr: 'The connection to the server 10.0.0.1:6443 was refused',
        exitCode: 1,
      };
      cluster.scriptNext(...Array.from({ length: 5 }, () => refused));
      const handle = await start(taskQueue, input());
      await suite.env.sleep(2 * 60_000);
      await waitForStatus<RollbackStatus>(handle, (s) => s.step === 'needs_human', 'needs_human', 60_000);
      await handle.signal(abortSignal, { by: '@sre-lead', reason: 'taking over by hand' });
      const result = await handle.result();
      assert.equal(result.outcome, 'aborted');
      assert.match(
        result.message,
        /aborted by @sre-lead when restrict_allowlist failed: taking over by hand; .*nothing after that was changed/,
      );
    });
  });
});
