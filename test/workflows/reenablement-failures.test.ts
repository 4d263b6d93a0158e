import assert from 'node:assert/strict';
import { before, beforeEach, describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { signDecision } from '../../src/cli/sign';
import { liftChangeFreeze, setChangeFreeze } from '../../src/activities/sql/change-freeze';
import { scratchDir } from '../../src/local/servers';
import type { LoadedPolicy } from '../../src/worker/policy';
import {
  abortSignal,
  pauseSignal,
  resumeSignal,
  statusQuery,
  WAIVE_STAGING_SOAK,
  waiveStagingSoakMessage,
  type ReenablementStatus,
} from '../../src/workflows/phased-reenablement/definitions';
import { stepDecisionSignal } from '../../src/workflows/shared/messages';
import {
  assertElapsed,
  completedActivities,
  eventTimeMs,
  historyEvents,
  noticesSent,
  recordHistory,
  scheduledActivities,
  signals,
} from '../fixtures/history';
import { EXPANDED_REPOS, FakeCluster, mutations, orchestratorCluster } from '../fixtures/kubectl';
import { activityDeps, rollbackPolicy } from '../fixtures/policy';
import {
  allowlistChanges,
  approvePhase2,
  CANARY,
  HEALTHY,
  HOUR,
  liveAllowlist,
  PHASE2,
  PILOT,
  reenablementInput,
  REMAINING,
  startReenablement,
  type ReenablementHandle,
} from '../fixtures/reenablement';
import type { PrometheusSink } from '../fixtures/sinks/prometheus';
import { withRollbackPolicy } from '../fixtures/rollback-world';
import { workflowSuite } from '../fixtures/suite';
import { sshKeyPair, sshPublicKey } from '../fixtures/signing';
import { uniqueId } from '../fixtures/temporal';
import { atStep, waitForStatus } from '../fixtures/wait';
import { cancelRun } from '../fixtures/cancellation';

/**
 * The re-enablement's failure paths (issue "fail safe and loud", points 3–6) on the time-skipping
 * server with the policy's real holds: a pause holds every phase and the analyses go on meanwhile;
 * a failing analysis rolls back even while paused; a roll-back kubectl cannot do is paged CRITICAL
 * and tried again until it works; alert rules come back with their repos.
 */

const MINUTE = 60_000;
const tmp = scratchDir('runbooks-reenablement-failures');
const suite = workflowSuite({ server: 'time-skipping', queuePrefix: 'tq-reenable-f' });
let prometheus: PrometheusSink;
let policy: LoadedPolicy;
let cluster: FakeCluster;

withRollbackPolicy(tmp, (world) => ({ prometheus, policy } = world));

beforeEach(() => {
  cluster = FakeCluster.create(tmp, orchestratorCluster({ allowlist: [PILOT], replicas: 3 }));
  cluster.install();
  Object.assign(prometheus.values, HEALTHY);
});

const FAILING = { success_rate: 0.5, p95_latency_seconds: 80, error_rate: 0.2, recurrence: 12 };

function withWorker<T>(fn: (taskQueue: string) => Promise<T>, loaded: LoadedPolicy = policy): Promise<T> {
  return suite.withWorker(activityDeps(loaded, suite.db.pool), fn);
}

/**
 * A re-enablement with its canary live whose analysis then fails, while the API server refuses
 * the next `refusals` allowlist changes (the roll-back's own and its safe state's), 45 min on.
 */
async function canaryRolledBackAgainstRefusals(taskQueue: string, refusals: number) {
  const handle = await startReenablement(suite.env, taskQueue, reenablementInput());
  await waitForStatus<ReenablementStatus>(
    handle,
    (s) => s.detail.reposLive.includes(CANARY),
    'the canary live',
  );
  const refused = {
    verb: 'set',
    stderr: 'The connection to the server 10.0.0.1:6443 was refused',
    exitCode: 1,
  };
  cluster.scriptNext(...Array.from({ length: refusals }, () => refused));
  Object.assign(prometheus.values, FAILING);
  await suite.env.sleep(45 * MINUTE);
  return handle;
}

/** kubectl fails with `stderr` on the next ten `verb` calls: more than the step's retries. */
const kubectlFailsEveryAttempt = (verb: string, stderr: string): void =>
  cluster.scriptNext(...Array.from({ length: 10 }, () => ({ verb, stderr, exitCode: 1 })));
/**
 * needs_human once the step's attempts are spent. The server's clock skips their backoff first
 * (2 + 4 + 8 + 16 s for a kubectl mutation): a test that only queried waited it out in real time,
 * 30 s per run.
 */
const untilNeedsHuman = async (handle: Parameters<typeof waitForStatus>[0], what: string) => {
  await suite.env.sleep(MINUTE);
  return waitForStatus<ReenablementStatus>(handle, atStep('needs_human'), `needs_human on ${what}`, 60_000);
};

async function notices(workflowId: string): Promise<{ kind: string; severity: string }[]> {
  const rows = await suite.db.pool.query<{ kind: string; severity: string }>(
    'SELECT kind, severity FROM runbook_notices WHERE workflow_id = $1 ORDER BY created_at',
    [workflowId],
  );
  return rows.rows;
}

describe('phasedReenablement failure paths (time-skipping)', () => {
  test('point 4: paused at canary + 1 h; once the hold is over, failing metrics are still analysed and rolled back', async () => {
    await withWorker(async (taskQueue) => {
      const handle = await startReenablement(suite.env, taskQueue, reenablementInput());
      await waitForStatus<ReenablementStatus>(handle, atStep('phase_1_canary'), 'the canary hold');
      await suite.env.sleep(HOUR);
      await handle.signal(pauseSignal, { by: '@eng-tl', reason: 'customer demo' });
      await suite.env.sleep(4 * HOUR); // past the 4 h hold, still paused, metrics still healthy
      const turnedBadAt = await suite.env.currentTimeMs(); // the server's (skipped) clock
      Object.assign(prometheus.values, FAILING);
      await suite.env.sleep(10 * HOUR);
      const status = (await handle.query(statusQuery)) as ReenablementStatus;
      assert.equal(status.outcome, 'rolled_back', `still ${status.step}: the pause stopped the analyses`);
      const result = await handle.result();
      assert.deepEqual(liveAllowlist(cluster), [PILOT]);
      assert.deepEqual(allowlistChanges(cluster), [[PILOT, CANARY].join(','), PILOT]);
      const activities = scheduledActivities(await historyEvents(handle));
      assert.ok(
        !activities.some((a) => a.type === 'planAllowlistChange'),
        'phase 2 approval never requested',
      );
      assert.ok(result.analyses.some((a) => a.verdict === 'fail'));
      // Within one analysis interval of the metrics turning bad (history time, not a value the run wrote).
      const rollBackAt = activities.filter((a) => a.type === 'setAllowlist')[1]!.atMs;
      assert.ok(rollBackAt - turnedBadAt <= 31 * MINUTE, `${(rollBackAt - turnedBadAt) / MINUTE} min after`);
      assert.ok((await notices(handle.workflowId)).some((n) => n.kind === 'reenablement_rolled_back'));
    });
  });

  test('point 4: a resume analyses first — metrics that turned bad while paused roll back instead of promoting', async () => {
    await withWorker(async (taskQueue) => {
      const handle = await startReenablement(suite.env, taskQueue, reenablementInput());
      await waitForStatus<ReenablementStatus>(handle, atStep('phase_1_canary'), 'the canary hold');
      await handle.signal(pauseSignal, { by: '@eng-tl', reason: 'look at the dashboards first' });
      await suite.env.sleep(5 * HOUR);
      let status = (await handle.query(statusQuery)) as ReenablementStatus;
      assert.equal(status.step, 'phase_1_canary', 'the hold time is over but the pause holds');
      const analysedWhilePaused = status.detail.analysisCount;
      assert.ok(analysedWhilePaused >= 10, `${analysedWhilePaused} analyses through 5 h`);
      Object.assign(prometheus.values, FAILING);
      await handle.signal(resumeSignal, { by: '@eng-tl' });
      const result = await handle.result();
      assert.equal(result.outcome, 'rolled_back', result.message);
      assert.deepEqual(liveAllowlist(cluster), [PILOT]);
      status = (await handle.query(statusQuery)) as ReenablementStatus;
      assert.deepEqual(status.detail.lastGood, [PILOT], 'the failing canary never became the last good set');
    });
  });

  test('point 3: a pause during phase-3 pacing holds the next batch until resumed (test-only policy, 2 h batches)', async () => {
    const shortHolds = rollbackPolicy(tmp, prometheus.url, (p) => {
      p.testOnlyShortDurations = true;
      p.runbooks.phasedReenablement.holdBounds = { min: '1h', max: '72h' };
    });
    await withWorker(async (taskQueue) => {
      const handle = await startReenablement(
        suite.env,
        taskQueue,
        reenablementInput({ holdOverrides: { phase2Hold: '1h', batchHold: '2h' } }),
      );
      await approvePhase2(suite.env, handle);
      await suite.env.sleep(HOUR + 10 * MINUTE); // queries do not move time: through phase 2's 1 h hold
      await waitForStatus<ReenablementStatus>(handle, atStep('phase_3_batch_1'), 'the first batch');
      await suite.env.sleep(3 * HOUR); // the batch's 2 h hold is over: pacing to the next day
      await handle.signal(pauseSignal, { by: '@eng-tl', reason: 'freeze for the release' });
      await suite.env.sleep(40 * HOUR);
      const status = (await handle.query(statusQuery)) as ReenablementStatus;
      assert.deepEqual(liveAllowlist(cluster), [PILOT, CANARY, ...PHASE2, REMAINING[0], REMAINING[1]]);
      assert.equal(status.detail.paused?.kind, 'manual');
      await handle.signal(resumeSignal, { by: '@eng-tl' });
      const result = await handle.result();
      assert.equal(result.outcome, 'recovered', result.message);
      const batches = scheduledActivities(await historyEvents(handle)).filter(
        (a) => a.type === 'setAllowlist',
      );
      const resumeAt = signals(await historyEvents(handle)).find((s) => s.name === 'resume')!.atMs;
      assert.ok(batches.at(-1)!.atMs >= resumeAt, 'the last batch went live only after the resume');
    }, shortHolds);
  });

  test('the allowlist cannot be read at the start: needs_human, and an abort ends the run with nothing changed (it crashed the task)', async () => {
    await withWorker(async (taskQueue) => {
      for (const dryRun of [false, true]) {
        kubectlFailsEveryAttempt('get', 'The connection to the server 10.0.0.1:6443 was refused');
        const handle = await startReenablement(
          suite.env,
          taskQueue,
          reenablementInput(dryRun ? { dryRun } : {}),
        );
        const waiting = await untilNeedsHuman(handle, 'read_allowlist');
        assert.match(waiting.currentDetails, /read_allowlist|read the current allowlist/);
        await handle.signal(stepDecisionSignal, {
          by: '@sre-lead',
          decision: 'abort',
          reason: 'API server down',
        });
        const result = await handle.result();
        assert.equal(result.outcome, 'needs_human_aborted', result.message);
        assert.match(
          result.message,
          /^read_allowlist failed and @sre-lead aborted the run: API server down; the allowlist was not read and nothing was changed$/,
        );
        const failedTasks = (await historyEvents(handle)).filter((e) => e.workflowTaskFailedEventAttributes);
        assert.equal(failedTasks.length, 0, 'no workflow task failed');
      }
      assert.deepEqual(mutations(cluster), [], 'nothing changed');
    });
  });

  test('point 5: the roll-back cannot set the allowlist — CRITICAL, tried again with backoff, then a human retries', async () => {
    await withWorker(async (taskQueue) => {
      // The API server refuses the next 12 `set` calls: the roll-back's 5 attempts and the first
      // safe-state attempts fail; a later safe-state attempt gets through.
      const handle = await canaryRolledBackAgainstRefusals(taskQueue, 12);
      const waiting = await waitForStatus<ReenablementStatus>(
        handle,
        (s) => s.step === 'needs_human',
        'needs_human',
      );
      assert.equal(waiting.needsHuman?.step, 'roll_back');
      await suite.env.sleep(4 * HOUR);
      const safe = await waitForStatus<ReenablementStatus>(
        handle,
        (s) => s.needsHuman?.safeState?.state === 'done',
        'the safe state reached by the backoff',
      );
      assert.ok((safe.needsHuman?.safeState?.attempts ?? 0) >= 2);
      assert.deepEqual(
        liveAllowlist(cluster),
        [PILOT],
        'back to the last good set without waiting for the human',
      );
      const sent = await notices(handle.workflowId);
      assert.ok(sent.some((n) => n.kind === 'safe_state_failed' && n.severity === 'critical'));
      assert.ok(sent.some((n) => n.kind === 'needs_human' && n.severity === 'critical'));
      const described = await handle.describe();
      assert.deepEqual(described.searchAttributes.RunbookStep, ['needs_human']);
      await handle.signal(stepDecisionSignal, {
        by: '@eng-tl',
        decision: 'retry',
        reason: 'API server back',
      });
      const result = await handle.result();
      assert.equal(result.outcome, 'rolled_back', result.message);
      // The fake logs every call: 12 refused by the API server, 1 that took effect, and none after
      // the human's retry (check-then-act found the allowlist already back).
      assert.deepEqual(allowlistChanges(cluster), [
        [PILOT, CANARY].join(','),
        ...Array<string>(13).fill(PILOT),
      ]);
      // The CRITICAL safe-state page is resolved when the safe state is reached (by the backoff,
      // before the human's retry), not left open in PagerDuty.
      const events = await historyEvents(handle);
      const safePages = noticesSent(events).filter(
        (n) => n.page?.dedupKey === `${handle.workflowId}/safe-state/roll_back`,
      );
      assert.ok(safePages.length >= 2, `${safePages.length} safe-state pages`);
      assert.deepEqual(
        safePages.map((n) => n.page!.action),
        [...Array<string>(safePages.length - 1).fill('trigger'), 'resolve'],
      );
      const retriedMs = signals(events).find((s) => s.name === stepDecisionSignal.name)!.atMs;
      const resolvedMs = safePages.at(-1)!.decidedAtMs;
      assert.ok(
        resolvedMs > safePages.at(-2)!.decidedAtMs && resolvedMs < retriedMs,
        `resolved at ${new Date(resolvedMs).toISOString()}, the retry at ${new Date(retriedMs).toISOString()}`,
      );
      await recordHistory(handle, 'phased-reenablement-roll-back-needs-human');
    });
  });

  test('cancelled from Temporal while the roll-back waits for a human and its safe state keeps failing: CANCELED, no task failed, the account told', async () => {
    await withWorker(async (taskQueue) => {
      const handle = await canaryRolledBackAgainstRefusals(taskQueue, 100);
      await waitForStatus<ReenablementStatus>(
        handle,
        (s) => s.needsHuman?.safeState?.state === 'failing',
        'the safe state failing',
      );
      const { events } = await cancelRun(handle);
      const cancelled = (await notices(handle.workflowId)).filter((n) => n.kind === 'run_cancelled');
      assert.equal(cancelled.length, 1);
      // The needs_human page asked this run for a decision nobody can send any more: resolved in
      // the cancellation's own workflow task. The safe state was never reached: its CRITICAL page
      // stays open for a person, and the cancellation notice names it.
      const sent = noticesSent(events);
      const pages = (infix: string) => sent.filter((n) => n.page?.dedupKey.includes(infix));
      const askedMs = events.find((e) => e.workflowExecutionCancelRequestedEventAttributes)!;
      // (A slow machine may have paged again before the cancellation: each page is resolved.)
      const needsHuman = pages('/needs-human/');
      const triggered = needsHuman.filter((n) => n.page!.action === 'trigger');
      const resolved = needsHuman.slice(triggered.length);
      assert.ok(
        triggered.length >= 1 && needsHuman.length === 2 * triggered.length,
        JSON.stringify(needsHuman),
      );
      assert.deepEqual(
        resolved.map((n) => [n.page!.action, n.page!.dedupKey]),
        triggered.map((n) => ['resolve', n.page!.dedupKey]),
      );
      for (const { decidedAtMs } of resolved)
        assert.ok(
          decidedAtMs >= eventTimeMs(askedMs) && decidedAtMs - eventTimeMs(askedMs) < 5_000,
          `resolved at ${new Date(decidedAtMs).toISOString()}, cancellation asked at ${new Date(eventTimeMs(askedMs)).toISOString()}`,
        );
      const safeState = pages('/safe-state/');
      assert.ok(safeState.length >= 1 && safeState.every((n) => n.page!.action === 'trigger'));
      const told = sent.find((n) => n.kind === 'run_cancelled')!;
      assert.match(
        told.body,
        new RegExp(`Still open in PagerDuty.*${handle.workflowId}/safe-state/roll_back`),
      );
      assert.match(told.body, /waiting for a human after roll_back failed .*; safe state \(.*\): failing\./);
      await recordHistory(handle, 'phased-reenablement-cancelled-needs-human');
    });
  });

  test("point 6: each repo's alert rule is enabled (and verified) when it goes live again", async () => {
    cluster.update((state) => {
      for (const rule of Object.values(state.namespaces.monitoring!.prometheusrules!) as {
        groups: { rules: { enabled: boolean }[] }[];
      }[])
        rule.groups[0]!.rules[0]!.enabled = false; // the rollback to pilot silenced them
    });
    await withWorker(async (taskQueue) => {
      const handle = await startReenablement(suite.env, taskQueue, reenablementInput());
      await approvePhase2(suite.env, handle);
      const result = await handle.result();
      assert.equal(result.outcome, 'recovered', result.message);
      const rules = cluster.read().namespaces.monitoring!.prometheusrules! as Record<
        string,
        { groups: { rules: { enabled: boolean }[] }[] }
      >;
      for (const repo of EXPANDED_REPOS)
        assert.equal(rules[`${repo}-alerts`]!.groups[0]!.rules[0]!.enabled, true, `${repo} alerts back on`);
      assert.deepEqual(result.alertRules, {
        ...Object.fromEntries(EXPANDED_REPOS.map((repo) => [repo, 'enabled'])),
        'search-indexer': 'missing',
      });
      // Exactly one enabling patch per repo, each after the allowlist that brought the repo back.
      const patches = mutations(cluster).filter((argv) => argv.includes('prometheusrule'));
      assert.equal(patches.length, EXPANDED_REPOS.length);
      const activities = scheduledActivities(await historyEvents(handle));
      const firstEnable = activities.find((a) => a.type === 'enableAlertRule')!.atMs;
      const firstSet = activities.find((a) => a.type === 'setAllowlist')!.atMs;
      assert.ok(firstEnable > firstSet);
    });
  });
});

/** Seed 004 §1.3 during a programme that runs for days: a freeze declared later holds the next phase. */
describe('phasedReenablement under a change freeze declared while it runs (time-skipping)', () => {
  const freezeProduction = async (incidentId: string) =>
    setChangeFreeze(suite.db.pool, {
      incidentId,
      environment: 'production',
      workflowId: `incident-${incidentId}`,
      by: '@ic',
      reason: 'SEV1: payments down',
      at: new Date(await suite.env.currentTimeMs()).toISOString(),
    });

  test('phase 2 waits while a later incident’s freeze is in force (the canary analysed meanwhile), and goes on within 30 min of its lift', async () => {
    const incident = uniqueId('INC-FRZ');
    try {
      await withWorker(async (taskQueue) => {
        const handle = await startReenablement(suite.env, taskQueue, reenablementInput());
        await waitForStatus<ReenablementStatus>(handle, atStep('phase_1_canary'), 'the canary hold');
        await freezeProduction(incident);
        await approvePhase2(suite.env, handle);
        const held = await waitForStatus<ReenablementStatus>(
          handle,
          atStep('phase_2_held_by_freeze'),
          'phase 2 held',
        );
        assert.match(held.currentDetails, new RegExp(`incident ${incident}`));
        await suite.env.sleep(3 * HOUR);
        assert.deepEqual(liveAllowlist(cluster), [PILOT, CANARY], 'nothing more went live while frozen');
        const liftedAtMs = await suite.env.currentTimeMs();
        await liftChangeFreeze(suite.db.pool, {
          incidentId: incident,
          environment: 'production',
          by: '@ic',
          at: new Date(liftedAtMs).toISOString(),
        });
        await suite.env.sleep(HOUR);
        assert.deepEqual(liveAllowlist(cluster), [PILOT, CANARY, ...PHASE2]);
        await handle.signal(abortSignal, { by: '@sre-lead', reason: 'test over', keepLive: true });
        const result = await handle.result();
        assert.ok(result.flags.some((f) => f.code === 'held_by_change_freeze'));
        const events = await historyEvents(handle);
        const phase2At = scheduledActivities(events).filter((a) => a.type === 'setAllowlist')[1]!.atMs;
        assert.ok(phase2At >= liftedAtMs, 'phase 2 only after the lift');
        assert.ok(
          phase2At - liftedAtMs <= 31 * MINUTE,
          `${(phase2At - liftedAtMs) / MINUTE} min after the lift`,
        );
        const analysesWhileHeld = result.analyses.filter((a) => a.phase === 'phase2' && a.repos.length === 2);
        assert.ok(
          analysesWhileHeld.length >= 6,
          `the canary set analysed while held: ${analysesWhileHeld.length}`,
        );
        await recordHistory(handle, 'reenablement-held-by-change-freeze');
      });
    } finally {
      await suite.db.pool.query('DELETE FROM change_freezes WHERE incident_id = $1', [incident]);
    }
  });

  test('a freeze crossed at the start (override) does not hold the later phases', async () => {
    const incident = uniqueId('INC-FRZ');
    try {
      await freezeProduction(incident);
      await withWorker(async (taskQueue) => {
        const handle = await startReenablement(
          suite.env,
          taskQueue,
          reenablementInput({ freezeOverride: { by: '@sre-lead', reason: 'the re-enablement is the fix' } }),
        );
        await approvePhase2(suite.env, handle);
        await waitForStatus<ReenablementStatus>(
          handle,
          (status) => status.step === 'phase_2' && status.detail.reposLive.length === 5,
          'phase 2 live, not held',
        );
        assert.deepEqual(liveAllowlist(cluster), [PILOT, CANARY, ...PHASE2]);
        await handle.signal(abortSignal, { by: '@sre-lead', reason: 'test over', keepLive: true });
        const result = await handle.result();
        assert.ok(result.flags.some((f) => f.code === 'change_freeze_crossed'));
        assert.ok(!result.flags.some((f) => f.code === 'held_by_change_freeze'));
      });
    } finally {
      await suite.db.pool.query('DELETE FROM change_freezes WHERE incident_id = $1', [incident]);
    }
  });
});

/** Seed 002 §2 with the policy's real 2 h soak: a staging job, or an approver's signed waiver. */
describe('phasedReenablement staging soak (time-skipping)', () => {
  const keys: Record<'tl' | 'lead', string> = { tl: '', lead: '' };
  let soakPolicy: LoadedPolicy;

  before(() => {
    keys.tl = sshKeyPair(tmp, 'eng-tl');
    keys.lead = sshKeyPair(tmp, 'sre-lead');
    soakPolicy = rollbackPolicy(tmp, prometheus.url, (p) => {
      p.runbooks.phasedReenablement.stagingSoak = {
        image: 'registry.test/blocks:1',
        command: ['blocks', 'test', 'soak', '--env', 'staging', '--concurrency', '5'],
        duration: '2h',
        maxDuration: '4h',
      };
      p.signers = { '@eng-tl': [sshPublicKey(keys.tl)], '@sre-lead': [sshPublicKey(keys.lead)] };
    });
  });

  const soakJobs = () => cluster.read().namespaces.staging!.jobs ?? {};
  /** A re-enablement started and soaking (its job created, the run asleep until the read). */
  async function soakingRun(taskQueue: string) {
    const handle = await startReenablement(suite.env, taskQueue, reenablementInput());
    await waitForStatus<ReenablementStatus>(
      handle,
      (status) => status.detail.stagingSoak?.state === 'running',
      'the soak',
    );
    return handle;
  }

  /** The run's one soak job, which must exist. */
  const theSoakJob = (): string => {
    const [job] = Object.keys(soakJobs());
    assert.ok(job, 'the soak job exists');
    return job;
  };
  /** The run ended with its soak job deleted, and says so. */
  const assertSoakDeleted = (result: { stagingSoak?: ReenablementStatus['detail']['stagingSoak'] }): void => {
    assert.deepEqual(soakJobs(), {}, 'the job is gone');
    assert.equal(result.stagingSoak?.state, 'stopped');
    assert.equal(result.stagingSoak?.stopped?.deleted, true);
  };
  /**
   * A human aborts the run waiting on a failed soak step: it ends with its soak job deleted, the
   * delete after the abort in the history's own order.
   */
  const abortedWithSoakDeleted = async (handle: Awaited<ReturnType<typeof soakingRun>>, reason: string) => {
    await handle.signal(stepDecisionSignal, { by: '@sre-lead', decision: 'abort', reason });
    const result = await handle.result();
    assert.equal(result.outcome, 'needs_human_aborted', result.message);
    assertSoakDeleted(result);
    const events = await historyEvents(handle);
    const decided = signals(events).find((s) => s.name === stepDecisionSignal.name);
    const deleted = scheduledActivities(events).find((a) => a.type === 'stopStagingSoak');
    assert.ok(decided && deleted && deleted.atMs >= decided.atMs, 'stopStagingSoak after the abort');
    return result;
  };

  test('a dry run plans the soak (or the waiver) before the canary and starts no job', async () => {
    await withWorker(async (taskQueue) => {
      for (const [waiver, expected, text] of [
        [undefined, { kind: 'soak', durationMs: 2 * HOUR }, 'a 2h staging soak'],
        [
          { reason: 'staging is down' },
          { kind: 'waiver' },
          "the staging soak waived by an approver's signature",
        ],
      ] as const) {
        const handle = await startReenablement(
          suite.env,
          taskQueue,
          reenablementInput({ dryRun: true, ...(waiver ? { stagingSoakWaiver: waiver } : {}) }),
        );
        const result = await handle.result();
        assert.equal(result.outcome, 'dry_run', result.message);
        assert.deepEqual(result.dryRun?.stagingSoak, expected);
        assert.ok(result.message.includes(`: ${text} → canary +`), result.message);
        const soakMs = expected.kind === 'soak' ? expected.durationMs : 0;
        assert.equal(result.dryRun?.shortestMs, soakMs + 4 * HOUR + 3 * 24 * HOUR + 15 * MINUTE);
      }
      assert.deepEqual(soakJobs(), {}, 'no soak job');
      assert.deepEqual(mutations(cluster), [], 'nothing changed');
    }, soakPolicy);
  });

  test('the canary goes live only after a 2 h soak that passed; a soak still running is read again 5 min later', async () => {
    cluster.update((state) => (state.soakJob = { runningReads: 1 }));
    await withWorker(async (taskQueue) => {
      const handle = await startReenablement(suite.env, taskQueue, reenablementInput());
      const soaking = await waitForStatus<ReenablementStatus>(
        handle,
        (status) => status.detail.stagingSoak?.state === 'running',
        'the soak',
      );
      assert.equal(soaking.step, 'staging_soak');
      assert.deepEqual(allowlistChanges(cluster), [], 'nothing re-enabled during the soak');
      await suite.env.sleep(2 * HOUR + 10 * MINUTE);
      const canary = await waitForStatus<ReenablementStatus>(handle, atStep('phase_1_canary'), 'the canary');
      assert.equal(canary.detail.stagingSoak?.state, 'passed');
      assert.deepEqual(canary.detail.stagingSoak?.reading?.summary, {
        successRate: 0.996,
        p95Seconds: 84,
        recurrences: 0,
      });
      const [job] = Object.values(soakJobs());
      assert.equal(Object.keys(soakJobs()).length, 1, 'one soak job');
      // Kubernetes stops it at the policy's maxDuration even if this run is gone by then.
      assert.equal(job!.activeDeadlineSeconds, 4 * 3600, 'the job is bounded by maxDuration (4h)');
      assert.deepEqual(job!.command, [
        'blocks',
        'test',
        'soak',
        '--env',
        'staging',
        '--concurrency',
        '5',
        '--repos',
        [CANARY, ...PHASE2, ...REMAINING].join(','),
        '--duration',
        '2h',
      ]);
      await handle.signal(abortSignal, { by: '@sre-lead', reason: 'test over' });
      await handle.result();
      // From the history's own clock: read at 2 h (still running), again 5 min later, then the canary.
      const events = await historyEvents(handle);
      const done = completedActivities(events);
      const started = done.find((a) => a.type === 'startStagingSoak')!;
      const reads = done.filter((a) => a.type === 'readStagingSoak');
      assert.equal(reads.length, 2);
      assertElapsed(started.completedAtMs, reads[0]!.scheduledAtMs, 2 * HOUR, MINUTE, 'soak → first read');
      assertElapsed(reads[0]!.completedAtMs, reads[1]!.scheduledAtMs, 5 * MINUTE, MINUTE, 'poll interval');
      const firstSet = scheduledActivities(events).find((a) => a.type === 'setAllowlist')!.atMs;
      assert.ok(firstSet >= reads[1]!.completedAtMs, 'the canary after the soak passed');
      await recordHistory(handle, 'reenablement-staging-soak-passed');
    }, soakPolicy);
  });

  test('a failed soak ends the run with nothing re-enabled and says why (seed: continue fix iteration)', async () => {
    cluster.update(
      (state) => (state.soakJob = { summary: { successRate: 0.95, p95Seconds: 130, recurrences: 3 } }),
    );
    await withWorker(async (taskQueue) => {
      const handle = await startReenablement(suite.env, taskQueue, reenablementInput());
      await waitForStatus<ReenablementStatus>(handle, atStep('staging_soak'), 'the soak');
      const result = await handle.result();
      assert.equal(result.outcome, 'staging_soak_failed', result.message);
      assert.match(result.message, /success rate 95\.00 %.*p95 130 s.*3 recurrences/);
      assert.deepEqual(allowlistChanges(cluster), []);
      assert.equal(result.stagingSoak?.state, 'failed');
      assert.ok(result.notices.some((n) => n.kind === 'staging_soak_failed'));
    }, soakPolicy);
  });

  test('a job that stopped before its 2 h is not a soak, whatever its summary says', async () => {
    cluster.update((state) => (state.soakJob = { ranSeconds: 600 }));
    await withWorker(async (taskQueue) => {
      const handle = await startReenablement(suite.env, taskQueue, reenablementInput());
      const result = await handle.result();
      assert.equal(result.outcome, 'staging_soak_failed', result.message);
      assert.match(result.message, /ran 10m, less than the soak's 2h/);
      assert.deepEqual(allowlistChanges(cluster), []);
    }, soakPolicy);
  });

  test('an abort during the soak deletes the soak job (the next run’s soak would share staging with it); a delete that fails for good asks a human', async () => {
    await withWorker(async (taskQueue) => {
      const handle = await soakingRun(taskQueue);
      const job = theSoakJob();
      await handle.signal(abortSignal, { by: '@sre-lead', reason: 'fix is wrong, starting over' });
      const result = await handle.result();
      assert.equal(result.outcome, 'aborted', result.message);
      assertSoakDeleted(result);
      assert.ok(
        cluster.calls().some((argv) => argv.includes('delete') && argv.includes(`job/${job}`)),
        'kubectl delete job/<the job>',
      );
      assert.deepEqual(allowlistChanges(cluster), [], 'nothing re-enabled');
      await recordHistory(handle, 'reenablement-staging-soak-aborted');
    }, soakPolicy);

    // The staging API server refuses every attempt: the IC decides; skip leaves the job to its deadline.
    await withWorker(async (taskQueue) => {
      const handle = await soakingRun(taskQueue);
      kubectlFailsEveryAttempt('delete', 'The connection to the server was refused');
      await handle.signal(abortSignal, { by: '@sre-lead', reason: 'starting over' });
      const waiting = await untilNeedsHuman(handle, 'the delete');
      assert.equal(waiting.needsHuman?.step, 'stop_staging_soak');
      assert.match(waiting.needsHuman?.error ?? '', /connection to the server was refused/);
      await handle.signal(stepDecisionSignal, {
        by: '@sre-lead',
        decision: 'skip',
        reason: 'it ends by itself',
      });
      const result = await handle.result();
      assert.equal(result.outcome, 'aborted', result.message);
      assert.equal(Object.keys(soakJobs()).length, 1, 'left running, as decided');
      assert.match(result.stagingSoak?.stopped?.left ?? '', /^skipped by @sre-lead: it ends by itself$/);
    }, soakPolicy);
  });

  test('aborted after the soak’s read failed for good: the soak job is deleted too, and the run says it', async () => {
    await withWorker(async (taskQueue) => {
      const handle = await soakingRun(taskQueue);
      const job = theSoakJob();
      // The soak's read at 2 h: kubectl cannot read the job, attempt after attempt.
      kubectlFailsEveryAttempt('get', 'Unable to connect to the server: i/o timeout');
      await suite.env.sleep(2 * HOUR + MINUTE);
      const waiting = await untilNeedsHuman(handle, 'the read');
      assert.equal(waiting.needsHuman?.step, 'read_staging_soak');
      await abortedWithSoakDeleted(handle, 'staging unreadable, starting over');
      const final = await waitForStatus<ReenablementStatus>(handle, () => true, 'the final status');
      assert.ok(final.events.some((e) => e.kind === 'staging_soak_stopped' && e.message.includes(job)));
      assert.deepEqual(allowlistChanges(cluster), [], 'nothing re-enabled');
      await recordHistory(handle, 'reenablement-staging-soak-read-failed-aborted');
    }, soakPolicy);
  });

  test('aborted after the soak job’s start failed for good: the job an attempt created is deleted too', async () => {
    await withWorker(async (taskQueue) => {
      // The create goes through; giving the job its deadline fails, attempt after attempt.
      kubectlFailsEveryAttempt('patch', 'Unable to connect to the server: i/o timeout');
      const handle = await startReenablement(suite.env, taskQueue, reenablementInput());
      const waiting = await untilNeedsHuman(handle, 'the start');
      assert.equal(waiting.needsHuman?.step, 'start_staging_soak');
      const job = theSoakJob();
      const result = await abortedWithSoakDeleted(handle, 'staging API unreliable, starting over');
      assert.equal(result.stagingSoak?.job, job, 'the run names the job it deleted');
      assert.deepEqual(allowlistChanges(cluster), [], 'nothing re-enabled');
      await recordHistory(handle, 'reenablement-staging-soak-start-failed-aborted');
    }, soakPolicy);
  });

  test('a waiver needs another approver’s signature over the canary change: each forgery refused, then the canary without a soak', async () => {
    await withWorker(async (taskQueue) => {
      const handle = await startReenablement(
        suite.env,
        taskQueue,
        reenablementInput({ stagingSoakWaiver: { reason: 'the fix is a config revert, soaked as pilot' } }),
      );
      const gate = await waitForStatus<ReenablementStatus>(
        handle,
        atStep('awaiting_soak_waiver'),
        'the waiver',
      );
      const planHash = gate.detail.stagingSoak!.planHash!;
      const sign = async (key: string, decision = WAIVE_STAGING_SOAK) =>
        signDecision(
          key,
          { namespace: 'default', workflowId: handle.workflowId, decision, planHash },
          new Date(await suite.env.currentTimeMs()),
        );
      const refusedWith = async (payload: object, reason: string) => {
        const error = await handle
          .executeUpdate(waiveStagingSoakMessage.update, { args: [payload as never] })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        assert.ok(error instanceof WorkflowUpdateFailedError, `accepted: ${JSON.stringify(payload)}`);
        assert.match(JSON.stringify(error.cause), new RegExp(reason));
      };
      await refusedWith({ by: '@eng-tl', planHash }, 'signature');
      await refusedWith({ by: '@sre-lead', planHash, ...(await sign(keys.lead)) }, 'self_approval');
      await refusedWith(
        { by: '@eng-tl', planHash, ...(await sign(keys.tl, 'approve')) },
        'signature_invalid',
      );
      await refusedWith({ by: '@eng-tl', planHash, ...(await sign(keys.lead)) }, 'signature_invalid');
      await handle.executeUpdate(waiveStagingSoakMessage.update, {
        args: [{ by: '@eng-tl', planHash, ...(await sign(keys.tl)) }],
      });
      const canary = await waitForStatus<ReenablementStatus>(handle, atStep('phase_1_canary'), 'the canary');
      assert.equal(canary.detail.stagingSoak?.state, 'waived');
      assert.equal(canary.detail.stagingSoak?.waiver?.by, '@eng-tl');
      assert.match(canary.detail.stagingSoak.waiver.key, /^SHA256:/);
      assert.ok(canary.flags.some((f) => f.code === 'staging_soak_waived'));
      assert.deepEqual(soakJobs(), {}, 'no soak job');
      assert.equal(canary.refusedAttempts.length, 3, JSON.stringify(canary.refusedAttempts));
      await handle.signal(abortSignal, { by: '@sre-lead', reason: 'test over' });
      await handle.result();
      await recordHistory(handle, 'reenablement-staging-soak-waived');
    }, soakPolicy);
  });

  test('no signed waiver within 24 h: the run ends, nothing re-enabled', async () => {
    await withWorker(async (taskQueue) => {
      const handle: ReenablementHandle = await startReenablement(
        suite.env,
        taskQueue,
        reenablementInput({ stagingSoakWaiver: { reason: 'urgent' } }),
      );
      const result = await handle.result();
      assert.equal(result.outcome, 'staging_soak_waiver_expired', result.message);
      assert.deepEqual(allowlistChanges(cluster), []);
      const events = await historyEvents(handle);
      const asked = completedActivities(events).find((a) => a.type === 'planAllowlistChange')!;
      const closed = events.at(-1)!;
      assertElapsed(asked.completedAtMs, eventTimeMs(closed), 24 * HOUR, 2 * MINUTE, 'waiver window');
    }, soakPolicy);
  });
});
