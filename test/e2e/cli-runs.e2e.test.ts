import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { Worker, type ActivityInterceptorsFactory } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { approveSignal } from '../../src/workflows/shared/messages';
import { breakGlassRestore } from '../../src/workflows';
import type {
  BreakGlassRestoreResult,
  BreakGlassRestoreStatus,
} from '../../src/workflows/break-glass-restore/definitions';
import { readIncidentFreezes, setChangeFreeze } from '../../src/activities/sql/change-freeze';
import {
  freezeLiftWorkflowId,
  type FreezeLiftResult,
  type FreezeLiftStatus,
} from '../../src/workflows/freeze-lift/definitions';
import { incidentWorkflowId, type IncidentStatus } from '../../src/workflows/incident/definitions';
import { historyEvents, recordHistory, signals } from '../fixtures/history';
import { findLibfaketime, scratchDir } from '../../src/local/servers';
import { activityDeps, defaultPolicy, shortTestPolicy, withRestorePolicy } from '../fixtures/policy';
import { spawnNode } from '../fixtures/processes';
import { HttpSink } from '../fixtures/sinks/http-sink';
import { CLI_EXPORT_TIMEOUT_MS } from '../../src/cli/client';
import { sshKeyPair, sshPublicKey } from '../fixtures/signing';
import { testDataConverter } from '../fixtures/payload-keys';
import { completeAsRogue, NO_PAYLOAD, RawPayload, rogueClient, scheduleAsRogue } from '../fixtures/rogue';
import { workflowSuite } from '../fixtures/suite';
import { uniqueId } from '../fixtures/temporal';
import { atStep, readUntil, waitForStatus } from '../fixtures/wait';

/**
 * The CLI against the dev server: a run named by its incident is found among the runbooks' runs,
 * an incident with several runs in progress asks for --procedure, and --json answers in JSON. The
 * runs of the first test have no worker: the lookup and signals only need the server. Decisions
 * are Updates by default: the run answers, and a refusal exits 1 with its reason.
 */
const suite = workflowSuite({ server: 'dev', resetDatabase: false });

async function cli(...args: string[]): Promise<{ code: number | null; output: string }> {
  return cliOn(undefined, ...args);
}

/** The CLI with its task queue (RUNBOOKS_TASK_QUEUE) set, for the commands that start runs. */
async function cliOn(
  taskQueue: string | undefined,
  ...args: string[]
): Promise<{ code: number | null; output: string }> {
  return cliWith(taskQueue ? { RUNBOOKS_TASK_QUEUE: taskQueue } : {}, ...args);
}

/** The CLI with more environment (e.g. a clock shifted by libfaketime). */
async function cliWith(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number | null; output: string }> {
  const run = spawnNode('dist/src/cli/main.js', args, suite.processEnv(env));
  const code = await run.exited();
  return { code, output: run.output() };
}

/** `start-restore` from the CLI for `incident` (`env`: its task queue, a shifted clock…). */
function startRestoreWith(env: Record<string, string>, incident: string, ...extra: string[]) {
  return cliWith(
    env,
    'start-restore',
    '--incident',
    incident,
    '--target',
    '5',
    '--requested-by',
    '@alice',
    '--rationale',
    'typo 0.0 in LGB 5M',
    ...extra,
  );
}

/** `approve` from the CLI for the run of `incident` (`extra`: --procedure, --sign-key). */
function approveAs(approver: string, incident: string, planHash: string, ...extra: string[]) {
  return cli('approve', '--incident', incident, '--approver', approver, '--plan-hash', planHash, ...extra);
}

/** `lift-freeze` from the CLI, on the worker's task queue (`extra`: --environment, --sign-key). */
function liftFreeze(taskQueue: string, incident: string, by: string, reason: string, ...extra: string[]) {
  return cliOn(taskQueue, 'lift-freeze', '--incident', incident, '--by', by, '--reason', reason, ...extra);
}

/**
 * The first restore attempt (of `workflowId`'s run, when given) takes 5 s (a busy worker): the
 * window someone completing it by id through Temporal's API needs.
 */
function slowFirstRestore(workflowId?: string): ActivityInterceptorsFactory {
  let slowed = false;
  return (ctx) => ({
    inbound: {
      execute: async (input, next) => {
        const ofTheRun = workflowId === undefined || ctx.info.workflowExecution?.workflowId === workflowId;
        if (ctx.info.activityType === 'executeRestore' && ofTheRun && !slowed) {
          slowed = true;
          await sleep(5_000);
        }
        return next(input);
      },
    },
  });
}

/** Procedure A for `incident`, approved at its gate: its restore about to run. */
async function approvedRestore(taskQueue: string, incident: string) {
  const { handle, gate } = await restoreAtTheGate(taskQueue, incident);
  await handle.signal(approveSignal, { approver: '@oncall-lead', planHash: gate.detail.plan!.planHash });
  return handle;
}

/**
 * The run's pending `executeRestore` completed by id by someone without the payload keys, with
 * `result`; returns the status once the run has handled it (a step waiting for a human, or an end).
 */
async function restoreCompletedByRogue(handle: WorkflowHandle, result: unknown, what: string) {
  assert.ok(await completeAsRogue(suite.env, handle, 'executeRestore', result), 'the restore was pending');
  return waitForStatus<BreakGlassRestoreStatus>(
    handle,
    (status) => status.step === 'needs_human' || status.outcome !== undefined,
    what,
    30_000,
  );
}

/**
 * The run's history, whatever was completed in it, replays on today's bundle (under its own
 * workflow id, as a worker replays it: its activities' payloads are sealed for that id).
 */
async function assertReplays(handle: WorkflowHandle, replayName: string): Promise<void> {
  await Worker.runReplayHistory(
    { workflowBundle: suite.bundle, dataConverter: testDataConverter(), replayName },
    await handle.fetchHistory(),
    handle.workflowId,
  );
}

/** Procedure A for `incident`, started by the client and waiting at its approval gate. */
async function restoreAtTheGate(taskQueue: string, incident: string) {
  const handle = await suite.env.client.workflow.start(breakGlassRestore, {
    taskQueue,
    workflowId: `break-glass-restore-${incident}`,
    args: [
      { incidentId: incident, targetHistoryId: 5, requestedBy: '@alice', rationale: 'typo 0.0 in LGB 5M' },
    ],
  });
  const gate = await waitForStatus<BreakGlassRestoreStatus>(
    handle,
    atStep('awaiting_approval'),
    'the gate',
    60_000,
  );
  return { handle, gate };
}

describe('CLI: runs found by incident (dev server)', () => {
  test('one run in progress is found without --procedure; several ask for it; --json is JSON', async () => {
    const incident = uniqueId('INC');
    const taskQueue = uniqueId('no-worker');
    const { client } = suite.env;
    const restore = await client.workflow.start('breakGlassRestore', {
      taskQueue,
      workflowId: `break-glass-restore-${incident}`,
      args: [{}],
    });
    const reenablement = await client.workflow.start('phasedReenablement', {
      taskQueue,
      workflowId: `phased-reenablement-${incident}`,
      args: [{}],
    });

    const ambiguous = await cli(
      'abort',
      '--incident',
      incident,
      '--by',
      '@sre',
      '--reason',
      'stop',
      '--signal',
    );
    assert.equal(ambiguous.code, 1);
    assert.match(ambiguous.output, /several runs in progress/);
    assert.match(
      ambiguous.output,
      new RegExp(`phased-reenablement-${incident} \\(--procedure reenablement\\)`),
    );
    assert.match(ambiguous.output, new RegExp(`break-glass-restore-${incident} \\(--procedure A\\)`));

    const chosen = await cli(
      'abort',
      '--incident',
      incident,
      '--procedure',
      'reenablement',
      '--by',
      '@sre',
      '--reason',
      'stop',
      '--json',
      '--signal',
    );
    assert.equal(chosen.code, 0, chosen.output);
    assert.deepEqual(JSON.parse(chosen.output), {
      sent: 'abort',
      workflowId: reenablement.workflowId,
      as: 'signal',
    });

    // pause belongs to the re-enablement: no --procedure needed even with two runs in progress.
    const pause = await cli('pause', '--incident', incident, '--by', '@sre', '--signal');
    assert.equal(pause.code, 0, pause.output);

    await reenablement.terminate('test over');
    // retry and acknowledge-conflict reach the run as the signals the workflow handles.
    const retry = await cli('retry', '--incident', incident, '--by', '@sre', '--json', '--signal');
    assert.deepEqual(JSON.parse(retry.output), {
      sent: 'stepDecision',
      workflowId: restore.workflowId,
      as: 'signal',
    });
    const ack = await cli(
      'acknowledge-conflict',
      '--incident',
      incident,
      '--by',
      '@sre',
      '--note',
      'intended',
      '--signal',
    );
    assert.equal(ack.code, 0, ack.output);
    const single = await cli(
      'abort',
      '--incident',
      incident,
      '--by',
      '@sre',
      '--reason',
      'stop',
      '--json',
      '--signal',
    );
    assert.equal(single.code, 0, single.output);
    assert.deepEqual(JSON.parse(single.output), {
      sent: 'abort',
      workflowId: restore.workflowId,
      as: 'signal',
    });

    assert.deepEqual(
      signals(await historyEvents(reenablement)).map((s) => s.name),
      ['abort', 'pause'],
    );
    assert.deepEqual(
      signals(await historyEvents(restore)).map((s) => s.name),
      ['stepDecision', 'acknowledgeConflict', 'abort'],
    );
    await restore.terminate('test over');

    const missing = await cli('status', '--incident', uniqueId('INC'));
    assert.equal(missing.code, 1);
    assert.match(missing.output, /no run of any runbook for incident/);
  });
  test('no worker on the task queue: start says so at once, status says what Temporal knows instead of waiting on the run', async () => {
    const incident = uniqueId('INC');
    const unserved = uniqueId('no-worker');
    const start = (taskQueue: string, incidentId: string, ...extra: string[]) =>
      startRestoreWith({ RUNBOOKS_TASK_QUEUE: taskQueue }, incidentId, ...extra);
    const started = await start(unserved, incident);
    assert.equal(started.code, 0, started.output);
    assert.match(
      started.output,
      new RegExp(`started break-glass-restore-${incident} on task queue ${unserved}`),
    );
    assert.match(
      started.output,
      new RegExp(
        `WARNING: no worker has polled task queue ${unserved} \\(namespace default\\) in the last 5 minutes`,
      ),
    );

    const startedAtMs = Date.now();
    const status = await cli('status', '--incident', incident);
    const tookMs = Date.now() - startedAtMs;
    assert.equal(status.code, 1, status.output);
    assert.match(status.output, /the run's status is read from its worker, so it cannot be read now/);
    assert.match(
      status.output,
      new RegExp(
        `What Temporal knows: breakGlassRestore break-glass-restore-${incident}, RUNNING since \\S+Z\\.`,
      ),
    );
    // Before, the status query waited on the absent worker (about 30 s) and failed with the server's words.
    assert.ok(tookMs < 10_000, `status took ${tookMs} ms`);
    const json = await cli('status', '--incident', incident, '--json');
    assert.deepEqual(
      { ...(JSON.parse(json.output) as Record<string, unknown>), startedAt: 'x' },
      {
        workflowId: `break-glass-restore-${incident}`,
        runbook: 'breakGlassRestore',
        state: 'RUNNING',
        startedAt: 'x',
        taskQueue: unserved,
        workerPolling: false,
      },
    );
    await suite.env.client.workflow.getHandle(`break-glass-restore-${incident}`).terminate('test over');

    // Where a worker serves the queue: no warning, and the status is the run's own.
    await suite.withWorker(activityDeps(defaultPolicy(), suite.db.pool), async (taskQueue) => {
      const served = uniqueId('INC');
      const ok = await start(taskQueue, served, '--json');
      assert.equal(ok.code, 0, ok.output);
      assert.equal((JSON.parse(ok.output) as { workerPolling: boolean }).workerPolling, true);
      const handle = suite.env.client.workflow.getHandle(`break-glass-restore-${served}`);
      await waitForStatus<BreakGlassRestoreStatus>(handle, atStep('awaiting_approval'), 'the gate', 60_000);
      const shown = await cli('status', '--incident', served);
      assert.equal(shown.code, 0, shown.output);
      assert.doesNotMatch(shown.output, /no worker/);
      // A machine whose clock runs 10 min ahead of the server's sees the worker's last poll as old:
      // the short query still finds the worker, and the status is the run's own.
      const library = findLibfaketime();
      assert.ok(library, 'libfaketime (scripts/test.mjs checks it is installed)');
      const clockAhead = { LD_PRELOAD: library, FAKETIME: '+10m', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
      const ahead = await cliWith(clockAhead, 'status', '--incident', served);
      assert.equal(ahead.code, 0, ahead.output);
      assert.doesNotMatch(ahead.output, /no worker/);
      assert.match(ahead.output, /awaiting_approval/);
      // And a decision from that machine is the Update it would be, answered, not a signal.
      const abort = await cliWith(
        clockAhead,
        'abort',
        '--incident',
        served,
        '--by',
        '@alice',
        '--reason',
        'over',
      );
      assert.equal(abort.code, 0, abort.output);
      assert.match(abort.output, /^accepted: abort/m);
      assert.equal(((await handle.result()) as BreakGlassRestoreResult).outcome, 'aborted');
      // A start from that machine is not told that no worker serves the queue either.
      const second = uniqueId('INC');
      const startedAhead = await startRestoreWith(
        { ...clockAhead, RUNBOOKS_TASK_QUEUE: taskQueue },
        second,
        '--json',
      );
      assert.equal(startedAhead.code, 0, startedAhead.output);
      assert.equal((JSON.parse(startedAhead.output) as { workerPolling: boolean }).workerPolling, true);
      await suite.env.client.workflow.getHandle(`break-glass-restore-${second}`).terminate('test over');
    });
  });

  test('decisions are Updates: a refusal exits 1 with the reason, the right approval is accepted; no worker: not confirmed', async () => {
    const incident = uniqueId('INC');
    await suite.withWorker(activityDeps(defaultPolicy(), suite.db.pool), async (taskQueue) => {
      const { handle, gate } = await restoreAtTheGate(taskQueue, incident);
      const planHash = gate.detail.plan!.planHash;
      // `--by`, as every other decision names its person, is the approver too.
      const approve = (hash: string, flag = '--approver') =>
        cli('approve', '--incident', incident, flag, '@dococeven', '--plan-hash', hash);
      const wrong = await approve(planHash.replace(/^./, (c) => (c === '0' ? '1' : '0')));
      assert.equal(wrong.code, 1, wrong.output);
      assert.match(wrong.output, /REFUSED \(plan_hash_mismatch\)/);
      const right = await approve(planHash, '--by');
      assert.equal(right.code, 0, right.output);
      // Where the approval took the run, not the gate it was answered at.
      assert.match(
        right.output,
        /accepted: approve on break-glass-restore-\S+ \(step now: pause_and_think\)/,
      );
      const abort = await cli(
        'abort',
        '--incident',
        incident,
        '--by',
        '@alice',
        '--reason',
        'test over',
        '--json',
      );
      assert.equal(abort.code, 0, abort.output);
      assert.equal((JSON.parse(abort.output) as { accepted: boolean }).accepted, true);
      assert.equal((await handle.result()).outcome, 'aborted');
    });
    // A run nobody serves: the CLI says at once that the decision is not confirmed, exits 3, and
    // keeps it as a signal in the run's history (an Update nobody takes lives only in the
    // server's memory). Before, it waited the 30 s of --wait for an answer that could not come.
    const orphan = await suite.env.client.workflow.start('breakGlassRestore', {
      taskQueue: uniqueId('no-worker'),
      workflowId: `break-glass-restore-${uniqueId('INC')}`,
      args: [{}],
    });
    const sentAtMs = Date.now();
    const unanswered = await cli(
      'abort',
      '--workflow-id',
      orphan.workflowId,
      '--by',
      '@sre',
      '--reason',
      'x',
    );
    const tookMs = Date.now() - sentAtMs;
    assert.equal(unanswered.code, 3, unanswered.output);
    assert.match(
      unanswered.output,
      /NOT CONFIRMED: no worker has polled task queue no-worker-\S+ \(namespace default\)/,
    );
    assert.match(unanswered.output, /Sent it as a signal instead/);
    assert.ok(tookMs < 10_000, `took ${tookMs} ms`);
    assert.deepEqual(
      signals(await historyEvents(orphan)).map((s) => s.name),
      ['abort'],
      'kept once in the run history',
    );
    await orphan.terminate('test over');
    // An ended run no worker serves: what Temporal knows, without "makes no progress".
    const ended = await cli('status', '--workflow-id', orphan.workflowId);
    assert.equal(ended.code, 1, ended.output);
    assert.match(ended.output, /, TERMINATED since \S+Z\./);
    assert.match(ended.output, /The run has ended/);
    assert.doesNotMatch(ended.output, /makes no progress/);
  });
  test('approve --sign-key signs with ssh-keygen: a signed approval counts where the policy requires one', async () => {
    const key = sshKeyPair(scratchDir('runbooks-cli-sign'), 'dococeven');
    const base = withRestorePolicy(defaultPolicy(), { requireSignedApprovals: true });
    const policy = {
      ...base,
      policy: { ...base.policy, signers: { '@dococeven': [sshPublicKey(key)] } },
    };
    const incident = uniqueId('INC');
    await suite.withWorker(activityDeps(policy, suite.db.pool), async (taskQueue) => {
      const { handle, gate } = await restoreAtTheGate(taskQueue, incident);
      const approve = (...extra: string[]) =>
        approveAs('@dococeven', incident, gate.detail.plan!.planHash, ...extra);
      const unsigned = await approve();
      assert.equal(unsigned.code, 1, unsigned.output);
      assert.match(unsigned.output, /REFUSED \(signature_required\)/);
      const signedApproval = await approve('--sign-key', key);
      assert.equal(signedApproval.code, 0, signedApproval.output);
      assert.match(signedApproval.output, /accepted: approve/);
      const shown = await handle.query<BreakGlassRestoreStatus>('status');
      assert.match(shown.detail.approval!.line, /approver_keys=SHA256:/);
      await cli('abort', '--incident', incident, '--by', '@alice', '--reason', 'test over');
      assert.equal((await handle.result()).outcome, 'aborted');
    });
  });
  test('a forged signed approval stays refused: nobody can complete the signature check by id with a verdict of their own', async () => {
    const key = sshKeyPair(scratchDir('runbooks-forge'), 'dococeven');
    const base = withRestorePolicy(defaultPolicy(), { requireSignedApprovals: true });
    const policy = { ...base, policy: { ...base.policy, signers: { '@dococeven': [sshPublicKey(key)] } } };
    const incident = uniqueId('INC');
    // The check takes 5 s here (a busy or restarting worker): the window an attacker needs.
    const slowCheck: ActivityInterceptorsFactory = (ctx) => ({
      inbound: {
        execute: async (input, next) => {
          if (ctx.info.activityType === 'verifyDecisionSignature') await sleep(5_000);
          return next(input);
        },
      },
    });
    await suite.withWorker(
      activityDeps(policy, suite.db.pool),
      async (taskQueue) => {
        const { handle, gate } = await restoreAtTheGate(taskQueue, incident);
        // Someone who can call Temporal's API, without the payload keys: a signature that is not
        // one, then the check's completion by id with a verdict of their own, in plain JSON (the
        // check is a local activity since 0.20.0: nothing is pending to complete).
        await rogueClient(suite.env).workflow.getHandle(handle.workflowId).signal(approveSignal, {
          approver: '@dococeven',
          planHash: gate.detail.plan!.planHash,
          signature: '-----BEGIN SSH SIGNATURE-----\nZm9yZ2Vk\n-----END SSH SIGNATURE-----',
          signedAt: new Date().toISOString(),
        });
        await completeAsRogue(
          suite.env,
          handle,
          'verifyDecisionSignature',
          { ok: true, fingerprint: 'SHA256:forged' },
          3_000,
        );
        const refused = await waitForStatus<BreakGlassRestoreStatus>(
          handle,
          (status) => status.refusedAttempts.length > 0 || status.step !== 'awaiting_approval',
          'the forged approval decided',
          30_000,
        );
        assert.equal(refused.step, 'awaiting_approval', 'the gate stays shut');
        assert.deepEqual(
          refused.refusedAttempts.map((attempt) => attempt.reason),
          ['signature_invalid'],
        );
        await handle.terminate('test over');
      },
      { activity: [slowCheck] },
    );
  });
  test('an activity completed by id through the API with no payload at all is not taken either: the step waits for a human', async () => {
    const incident = uniqueId('INC');
    await suite.withWorker(
      activityDeps(shortTestPolicy(), suite.db.pool),
      async (taskQueue) => {
        const handle = await approvedRestore(taskQueue, incident);
        // Every result a runbooks worker writes is a sealed payload, an empty one included: a
        // completion without any payload was written by someone else.
        const waiting = await restoreCompletedByRogue(handle, NO_PAYLOAD, 'the empty completion handled');
        assert.equal(waiting.step, 'needs_human', 'the empty completion is not taken');
        assert.match(waiting.needsHuman!.error, /executeRestore came with no payload/);
        await assertReplays(handle, 'empty');
        await handle.terminate('test over');
      },
      { activity: [slowFirstRestore()] },
    );
  });
  test("an activity's result completed by id through the API, unsealed, is not taken: the step waits for a human, and its retry commits once", async () => {
    const incident = uniqueId('INC');
    await suite.withWorker(
      activityDeps(shortTestPolicy(), suite.db.pool),
      async (taskQueue) => {
        const handle = await approvedRestore(taskQueue, incident);
        // Someone who can call Temporal's API, without the payload keys: the restore's completion
        // by id with an answer of their own (the target is gone: the run would end, nothing
        // restored), in plain JSON.
        const waiting = await restoreCompletedByRogue(
          handle,
          { status: 'target_not_found', message: 'history id 5 does not exist' },
          'the forged answer handled',
        );
        assert.equal(waiting.step, 'needs_human', 'the forged answer is not taken');
        assert.match(waiting.needsHuman!.error, /executeRestore is not sealed under the payload keys/);
        // The worker's own attempt commits meanwhile (the server refuses its completion: the
        // activity was completed). A retry finds that commit in the ledger: one row, not two.
        await handle.signal('stepDecision', {
          by: '@oncall-lead',
          decision: 'retry',
          reason: 'forged completion',
        });
        const verified = await waitForStatus<BreakGlassRestoreStatus>(
          handle,
          (status) => status.detail.verification !== undefined,
          'the verification',
          30_000,
        );
        assert.equal(verified.detail.verification!.ok, true);
        const rows = await suite.db.pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM ftf_config_history WHERE changed_by = $1',
          [`break-glass-${incident}`],
        );
        assert.equal(rows.rows[0]!.n, 1, 'one restore row');
        // The run's history, forged completion and refusal included, replays.
        await assertReplays(handle, 'forged');
        await handle.terminate('test over');
      },
      { activity: [slowFirstRestore()] },
    );
  });
  test("a sealed result copied from another run's completion is not taken: the step waits for a human, naming whose it was", async () => {
    const [verifiedIncident, incident] = [uniqueId('INC'), uniqueId('INC')];
    await suite.withWorker(
      activityDeps(shortTestPolicy(), suite.db.pool),
      async (taskQueue) => {
        // A restore that went well: its completion, sealed by the worker, is in its history for
        // anyone who can read histories (no keys needed to copy it).
        const done = await approvedRestore(taskQueue, verifiedIncident);
        await waitForStatus<BreakGlassRestoreStatus>(
          done,
          (status) => status.detail.verification?.ok === true,
          'the first restore verified',
          30_000,
        );
        const history = await rogueClient(suite.env).workflow.getHandle(done.workflowId).fetchHistory();
        const events = history.events ?? [];
        const restoreScheduled = events.find(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'executeRestore',
        );
        const sealed = events.find(
          (e) =>
            e.activityTaskCompletedEventAttributes?.scheduledEventId?.toString() ===
            restoreScheduled?.eventId?.toString(),
        )?.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
        assert.ok(sealed, "the first restore's sealed result");
        // Another incident's restore, pending: completed by id with that sealed answer ("restored,
        // verified"), which opens under the payload keys.
        const handle = await approvedRestore(taskQueue, incident);
        const waiting = await restoreCompletedByRogue(
          handle,
          new RawPayload(sealed),
          'the copied answer handled',
        );
        assert.equal(waiting.step, 'needs_human', 'the copied answer is not taken');
        assert.match(
          waiting.needsHuman!.error,
          new RegExp(
            `executeRestore was sealed by a runbooks worker for another activity \\(activity ${restoreScheduled!.activityTaskScheduledEventAttributes!.activityId} of ${done.workflowId}\\)`,
          ),
        );
        assert.equal(waiting.detail.verification, undefined, 'nothing verified here');
        await assertReplays(handle, 'copied');
        // Both for the replay gate: results sealed for their activities, and one refused.
        await recordHistory(done, 'break-glass-restore-results-sealed-for-their-activities');
        await recordHistory(handle, 'break-glass-restore-copied-result-refused');
        await Promise.all([
          handle.terminate('test over'),
          done.terminate('test over').catch(() => undefined),
        ]);
      },
      { activity: [slowFirstRestore(`break-glass-restore-${incident}`)] },
    );
  });
  test('an activity scheduled by something answering a workflow task without the keys does not run: its unsealed input is refused', async () => {
    const incident = uniqueId('INC');
    await setChangeFreeze(suite.db.pool, {
      incidentId: incident,
      environment: 'production',
      workflowId: incidentWorkflowId(incident),
      by: '@sre-lead',
      reason: 'P1 in progress',
      at: new Date().toISOString(),
    });
    await suite.withWorker(activityDeps(defaultPolicy(), suite.db.pool), async (taskQueue) => {
      // Someone who can call Temporal's API, without the payload keys, takes the workflow task of a
      // run on a queue no worker serves and answers it with an activity of their own on our
      // worker's queue: lift the incident's freeze.
      const decoy = await scheduleAsRogue(suite.env, {
        type: 'liftChangeFreeze',
        taskQueue,
        input: {
          incidentId: incident,
          environment: 'production',
          by: '@mallory',
          at: new Date().toISOString(),
        },
      });
      const events = await readUntil(
        () => historyEvents(decoy),
        (history) =>
          history.some((e) => e.activityTaskFailedEventAttributes || e.activityTaskCompletedEventAttributes),
        'the rogue activity run or refused',
        30_000,
      );
      const failed = events.find(
        (e) => e.activityTaskFailedEventAttributes,
      )?.activityTaskFailedEventAttributes;
      assert.ok(failed, 'the activity failed');
      assert.equal(failed.failure?.applicationFailureInfo?.type, 'UnsealedActivityInput');
      assert.equal(failed.failure?.applicationFailureInfo?.nonRetryable, true);
      const freezes = await readIncidentFreezes(suite.db.pool, { incidentId: incident });
      assert.equal(freezes.length, 1);
      assert.equal(freezes[0]!.liftedAt, undefined, 'the freeze is still in force');
      await decoy.terminate('test over');
    });
  });
  test('lift-freeze: a P1 declared and cancelled leaves production frozen; the CLI lifts it and status shows who and why', async () => {
    const incident = uniqueId('INC');
    await suite.withWorker(activityDeps(defaultPolicy(), suite.db.pool), async (taskQueue) => {
      const declared = await cliOn(
        taskQueue,
        'declare-incident',
        '--incident',
        incident,
        '--severity',
        'P1',
        '--symptoms',
        'orchestrator 5xx storm',
        '--impact',
        'rule generation down',
        '--ic',
        '@sre-lead',
        '--requested-by',
        '@dococeven',
      );
      assert.equal(declared.code, 0, declared.output);
      const run = suite.env.client.workflow.getHandle(incidentWorkflowId(incident));
      await waitForStatus<IncidentStatus>(
        run,
        (status) => status.detail.freeze?.state === 'frozen',
        'the freeze',
        60_000,
      );
      await run.cancel();
      await waitForStatus<IncidentStatus>(
        run,
        (status) => status.outcome === 'cancelled',
        'the cancel',
        60_000,
      );

      const lift = await liftFreeze(taskQueue, incident, '@sre-lead', 'incident run cancelled by mistake');
      assert.equal(lift.code, 0, lift.output);
      assert.match(lift.output, new RegExp(`started freeze-lift-${incident}`));
      const result = (await suite.env.client.workflow
        .getHandle(freezeLiftWorkflowId(incident))
        .result()) as FreezeLiftResult;
      assert.equal(result.outcome, 'lifted', result.message);
      const shown = await cli('status', '--incident', incident, '--procedure', 'freeze-lift');
      assert.equal(shown.code, 0, shown.output);
      assert.match(shown.output, /production no longer frozen by incident .* lifted by @sre-lead/);
      const { rows } = await suite.db.pool.query<{ lifted_by: string; lift_reason: string }>(
        'SELECT lifted_by, lift_reason FROM change_freezes WHERE incident_id = $1',
        [incident],
      );
      assert.deepEqual(rows, [{ lifted_by: '@sre-lead', lift_reason: 'incident run cancelled by mistake' }]);
    });
  });
  test('lift-freeze under requireSignedFreezeLifts: nothing lifted until approve --sign-key, as the README says; the signer is recorded; lift-freeze --sign-key does both, or says at --wait that no worker answered', async () => {
    const key = sshKeyPair(scratchDir('runbooks-cli-sign'), 'dococeven');
    const base = defaultPolicy();
    const policy = {
      ...base,
      policy: {
        ...base.policy,
        signers: { '@dococeven': [sshPublicKey(key)], '@sre-lead': [sshPublicKey(key)] },
        runbooks: {
          ...base.policy.runbooks,
          incident: { ...base.policy.runbooks.incident!, requireSignedFreezeLifts: true },
        },
      },
    };
    const incident = uniqueId('INC');
    for (const environment of ['production', 'staging'])
      await setChangeFreeze(suite.db.pool, {
        incidentId: incident,
        environment,
        workflowId: incidentWorkflowId(incident),
        by: '@sre-lead',
        reason: 'P1 whose run is gone',
        at: new Date().toISOString(),
      });
    const liftedBy = async () =>
      (
        await suite.db.pool.query<{ environment: string; lifted_by: string | null }>(
          'SELECT environment, lifted_by FROM change_freezes WHERE incident_id = $1 ORDER BY environment',
          [incident],
        )
      ).rows;
    await suite.withWorker(activityDeps(policy, suite.db.pool), async (taskQueue) => {
      const lift = await liftFreeze(
        taskQueue,
        incident,
        '@dococeven',
        'incident history gone; production green',
        '--environment',
        'production',
      );
      assert.equal(lift.code, 0, lift.output);
      const handle = suite.env.client.workflow.getHandle(freezeLiftWorkflowId(incident));
      const gate = await waitForStatus<FreezeLiftStatus>(
        handle,
        atStep('awaiting_approval'),
        'the gate',
        60_000,
      );
      const shown = await cli('status', '--incident', incident, '--procedure', 'freeze-lift');
      assert.match(shown.output, new RegExp(gate.approval!.planHash));
      const approve = (...extra: string[]) =>
        approveAs('@dococeven', incident, gate.approval!.planHash, '--procedure', 'freeze-lift', ...extra);
      const unsigned = await approve();
      assert.equal(unsigned.code, 1, unsigned.output);
      assert.match(unsigned.output, /REFUSED \(signature_required\)/);
      const signed = await approve('--sign-key', key);
      assert.equal(signed.code, 0, signed.output);
      const result = (await handle.result()) as FreezeLiftResult;
      assert.equal(result.outcome, 'lifted', result.message);
      assert.match(result.message, /lifted by @dococeven \(signed approval, key SHA256:/);
      assert.deepEqual(await liftedBy(), [
        { environment: 'production', lifted_by: '@dococeven' },
        { environment: 'staging', lifted_by: null },
      ]);

      // One command: start the lift, wait for its gate, approve it signed as --by.
      const oneShot = await liftFreeze(
        taskQueue,
        incident,
        '@dococeven',
        'staging too',
        '--environment',
        'staging',
        '--sign-key',
        key,
      );
      assert.equal(oneShot.code, 0, oneShot.output);
      assert.match(oneShot.output, /accepted: approve on freeze-lift-/);
      assert.equal(((await handle.result()) as FreezeLiftResult).outcome, 'lifted');
      assert.deepEqual(await liftedBy(), [
        { environment: 'production', lifted_by: '@dococeven' },
        { environment: 'staging', lifted_by: '@dococeven' },
      ]);
    });

    // No worker serves the lift: the command gives up at --wait and says how to approve later.
    const unserved = uniqueId('INC');
    const waited = await liftFreeze(
      uniqueId('no-worker'),
      unserved,
      '@dococeven',
      'x',
      '--sign-key',
      key,
      '--wait',
      '2',
    );
    assert.equal(waited.code, 3, waited.output);
    assert.match(waited.output, /did not ask for a signed approval within 2 s \(is its worker running\?\)/);
    await suite.env.client.workflow.getHandle(freezeLiftWorkflowId(unserved)).terminate('test over');
  });

  test('a trace collector that is down or does not answer: the command did its work, says so and exits 0 within 2 s of the collector', async () => {
    const hanging = await HttpSink.start(() => ({ status: 200, body: {} }));
    hanging.down('hang');
    const closed = await HttpSink.start(() => ({ status: 200, body: {} }));
    const closedUrl = `${closed.url}/v1/traces`;
    await closed.stop();
    try {
      for (const [collector, tracesUrl] of [
        ['refuses connections', closedUrl],
        ['never answers', `${hanging.url}/v1/traces`],
      ] as const) {
        const incident = uniqueId('INC');
        const started = performance.now();
        const run = spawnNode(
          'dist/src/cli/main.js',
          [
            'start-restore',
            '--incident',
            incident,
            '--target',
            '42',
            '--requested-by',
            '@sre',
            '--rationale',
            'restore the last good config',
          ],
          suite.processEnv({
            RUNBOOKS_TASK_QUEUE: uniqueId('no-worker'),
            RUNBOOKS_OTLP_TRACES_URL: tracesUrl,
          }),
        );
        const code = await run.exited();
        const tookMs = performance.now() - started;
        // Before: exit 1 with "runbooks: fetch failed" (or, 10 s later, "The operation was aborted
        // due to timeout") and no "started" line, although the run had started.
        assert.equal(code, 0, `${collector}: ${run.output()}`);
        assert.match(run.output(), new RegExp(`started break-glass-restore-${incident}`), collector);
        assert.match(run.output(), /traces not exported/, collector);
        const described = await suite.env.client.workflow
          .getHandle(`break-glass-restore-${incident}`)
          .describe();
        assert.equal(described.status.name, 'RUNNING', collector);
        if (collector === 'never answers')
          assert.ok(
            tookMs >= CLI_EXPORT_TIMEOUT_MS && tookMs < CLI_EXPORT_TIMEOUT_MS + 8_000,
            `${collector}: the command took ${Math.round(tookMs)} ms`,
          );
        await suite.env.client.workflow.getHandle(`break-glass-restore-${incident}`).terminate('test over');
      }
    } finally {
      hanging.restore();
      await hanging.stop();
    }
  });
});
