import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { unconfirmableValue } from '../../src/common/break-glass';
import type { PolicyFile } from '../../src/common/policy';
import { scratchDir } from '../../src/local/servers';
import type { LoadedPolicy } from '../../src/worker/policy';
import { breakGlassConsoleEdit } from '../../src/workflows';
import {
  abortSignal,
  approveSignal,
  checkReconciliationSignal,
  postMortemFiledSignal,
  statusQuery,
  type BreakGlassConsoleEditInput,
  type BreakGlassConsoleEditStatus,
} from '../../src/workflows/break-glass-console-edit/definitions';
import { stepDecisionSignal } from '../../src/workflows/shared/messages';
import {
  completedActivities,
  historyEvents,
  localActivities,
  recordHistory,
  scheduledActivities,
} from '../fixtures/history';
import { consoleCluster, FakeCluster } from '../fixtures/kubectl';
import { activityDeps, writeTestPolicy } from '../fixtures/policy';
import { HttpSink } from '../fixtures/sinks/http-sink';
import { workflowSuite } from '../fixtures/suite';
import { closeRun, uniqueId } from '../fixtures/temporal';
import { atStep, waitForStatus } from '../fixtures/wait';

/**
 * Procedure B on the time-skipping server with the shipped durations (2 min pause, 60 min
 * reconciliation, 12 h Console recovery bound, 24 h post-mortem), the fake kubectl on PATH and a
 * local HTTP server standing in for the Console.
 */

const MINUTE = 60_000;
const tmp = scratchDir('runbooks-console-edit');
const suite = workflowSuite({ server: 'time-skipping', queuePrefix: 'tq-b' });
let consoleSite: HttpSink;
let policy: LoadedPolicy;

before(async () => {
  consoleSite = await HttpSink.start(() => ({ status: 200, body: '<html>Console</html>' }));
  policy = writeTestPolicy(tmp, useConsoleSite);
});

/** The policy's Console is the local stand-in (pods through the fake kubectl). */
function useConsoleSite(p: PolicyFile): void {
  p.console = {
    url: `${consoleSite.url}/`,
    kubeContext: 'test-cluster',
    namespace: 'cvntrade',
    podSelector: 'app=console',
    probeTimeout: '2s',
  };
}

after(async () => {
  await consoleSite?.stop();
});

let cluster: FakeCluster;
beforeEach(() => {
  consoleSite.reset();
  cluster = FakeCluster.create(tmp, consoleCluster(0));
  cluster.install();
});

type Handle = WorkflowHandle<typeof breakGlassConsoleEdit>;

function withWorker<T>(fn: (taskQueue: string) => Promise<T>): Promise<T> {
  return suite.withWorker(activityDeps(policy, suite.db.pool), fn);
}

function input(overrides: Partial<BreakGlassConsoleEditInput> = {}): BreakGlassConsoleEditInput {
  return {
    incidentId: uniqueId('INC'),
    model: 'LGB',
    timeframe: '5M',
    param: 'LEARNING_RATE',
    newValue: '0.07',
    requestedBy: '@alice',
    rationale: 'Console down, LGB 5M sweep restarts within the hour with learning rate 0.0',
    urgency: 'the sweep restarts within the hour; the Console will not be back before it',
    ...overrides,
  };
}

function start(taskQueue: string, args: BreakGlassConsoleEditInput): Promise<Handle> {
  return suite.env.client.workflow.start(breakGlassConsoleEdit, {
    taskQueue,
    workflowId: `break-glass-console-edit-${args.incidentId}`,
    args: [args],
  });
}

async function breakGlassRows(incidentId: string): Promise<number> {
  const rows = await suite.db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM ftf_config_history WHERE changed_by = $1',
    [`break-glass-${incidentId}`],
  );
  return rows.rows[0]!.n;
}

describe('seed 000 rule 5: values that cannot be confirmed by eye', () => {
  test('numbers and plain words pass; quotes, statement and comment marks, control characters, spaces and long values do not', () => {
    for (const plain of ['0.07', '-3', '150', 'binary:logistic', 'hist', 'reg:squarederror'])
      assert.equal(unconfirmableValue(plain), undefined, plain);
    const cases: [string, RegExp][] = [
      ["O'Reilly", /"'"/],
      ['a;b', /";"/],
      ['x -- y', /"--"/],
      ['/* c */', /"\/\*"/],
      ['a\\b', /backslash|"\\\\"/],
      ['line\nbreak', /control characters/],
      [' padded', /spaces/],
      ['x'.repeat(201), /201 characters/],
    ];
    for (const [value, why] of cases) assert.match(unconfirmableValue(value) ?? 'confirmable', why, value);
  });
});

describe('breakGlassConsoleEdit (time-skipping, default policy)', () => {
  test('no Console pod Ready and HTTP down: justified; edit, wait for the Console, reconcile, post-mortem', async () => {
    consoleSite.down({ status: 503, body: 'upstream connect error' });
    await withWorker(async (taskQueue) => {
      const args = input({ newValue: '0.07' });
      const handle = await start(taskQueue, args);
      const gate = await waitForStatus<BreakGlassConsoleEditStatus>(
        handle,
        atStep('awaiting_approval'),
        'the approval gate',
      );
      assert.equal(gate.detail.justification?.verdict, 'justified');
      assert.deepEqual(
        gate.detail.plan && [gate.detail.plan.key, gate.detail.plan.currentValue, gate.detail.plan.newValue],
        ['CVN_HPO_LGB_5M_LEARNING_RATE', '0.0', '0.07'],
      );
      await handle.signal(approveSignal, { approver: '@dococeven', planHash: gate.detail.plan!.planHash });
      await suite.env.sleep(3 * MINUTE);
      const waiting = await waitForStatus<BreakGlassConsoleEditStatus>(
        handle,
        atStep('awaiting_console_recovery'),
        'the Console wait',
      );
      assert.equal(waiting.detail.consoleRecovery?.state, 'waiting');
      assert.equal(await breakGlassRows(args.incidentId), 1);

      // The Console comes back after 40 minutes; the reconciliation window opens then.
      await suite.env.sleep(40 * MINUTE);
      consoleSite.restore();
      await handle.signal(checkReconciliationSignal, {});
      await waitForStatus<BreakGlassConsoleEditStatus>(
        handle,
        atStep('awaiting_reconciliation'),
        'the reconciliation window',
      );
      await suite.db.pool.query(
        `INSERT INTO ftf_config_history (base_env, version, changed_by, change_reason) SELECT base_env, version || '-c', 'console:alice', $1 FROM ftf_config WHERE id = 1`,
        [`break-glass-${args.incidentId}`],
      );
      await handle.signal(checkReconciliationSignal, {});
      await waitForStatus<BreakGlassConsoleEditStatus>(
        handle,
        (s) => s.detail.reconciliation?.state === 'found_in_time',
        'the reconciling write',
      );
      await handle.signal(postMortemFiledSignal, { by: '@alice', link: 'https://op.example/wp/153#c7' });
      const result = await handle.result();

      assert.equal(result.outcome, 'edited');
      assert.equal(result.conforming, true);
      assert.equal(result.consoleRecovery?.state, 'recovered');
      const recoveredAt = Date.parse(result.consoleRecovery.recoveredAt!);
      assert.ok(
        Date.parse(result.reconciliation!.dueAt) - recoveredAt === 60 * MINUTE,
        'the 60 min window runs from the Console coming back',
      );
      const live = await suite.db.pool.query<{ value: string; version: string }>(
        "SELECT base_env->>'CVN_HPO_LGB_5M_LEARNING_RATE' AS value, version FROM ftf_config WHERE id = 1",
      );
      assert.equal(live.rows[0]!.value, '0.07');
      assert.equal(live.rows[0]!.version, `2026.11.23-1_breakglass_${args.incidentId}`);
      const history = await suite.db.pool.query<{ diff: unknown; tags: unknown; change_reason: string }>(
        'SELECT diff, tags, change_reason FROM ftf_config_history WHERE id = $1',
        [result.idsCreated.historyRowIds[0]],
      );
      assert.deepEqual(history.rows[0]!.diff, { key: 'CVN_HPO_LGB_5M_LEARNING_RATE', to: '0.07' });
      assert.deepEqual(history.rows[0]!.tags, ['break-glass', 'console-outage', 'adr-90', args.incidentId]);
      assert.match(result.postMortem!.draft, /\*\*Procedure\*\* : B/);
      assert.match(result.postMortem!.draft, /Console recovery : back up at/);
      assert.ok(
        cluster.calls().some((argv) => argv.join(' ').includes('get pods -l app=console -o jsonpath=')),
      );
      await recordHistory(handle, 'break-glass-console-edit');
    });
  });

  test('pods Ready but HTTP down: "ingress/DNS issue, escalate to platform", nothing written', async () => {
    cluster.write(consoleCluster(1));
    consoleSite.down({ status: 502, body: 'bad gateway' });
    await withWorker(async (taskQueue) => {
      const args = input();
      const result = await (await start(taskQueue, args)).result();
      assert.equal(result.outcome, 'not_justified_ingress');
      assert.match(result.message, /ingress\/DNS issue, escalate to platform, no break-glass/);
      assert.equal(result.justification?.pods?.anyReady, true);
      assert.equal(result.justification?.http.status, 502);
      assert.equal(await breakGlassRows(args.incidentId), 0);
    });
  });

  test('HTTP up: "Console is up: use the Console", nothing written', async () => {
    await withWorker(async (taskQueue) => {
      const args = input();
      const result = await (await start(taskQueue, args)).result();
      assert.equal(result.outcome, 'not_justified_console_up');
      assert.match(result.message, /Console is up \(HTTP 200\): use the Console/);
      assert.equal(result.justification?.http.up, true);
      assert.equal(await breakGlassRows(args.incidentId), 0);
    });
  });

  test('pod readiness cannot be read (kubectl fails): needs_human, not a verdict; retry once kubectl works', async () => {
    consoleSite.down({ status: 503 });
    cluster.scriptNext({
      verb: 'get',
      stderr: 'error: You must be logged in to the server (Unauthorized)',
      exitCode: 1,
    });
    await withWorker(async (taskQueue) => {
      const args = input();
      const handle = await start(taskQueue, args);
      const stuck = await waitForStatus<BreakGlassConsoleEditStatus>(
        handle,
        atStep('needs_human'),
        'needs_human',
      );
      assert.equal(stuck.needsHuman?.step, 'inspect_and_plan');
      assert.match(stuck.needsHuman.error, /Unauthorized/);
      assert.equal(await breakGlassRows(args.incidentId), 0);
      // The human takes a while: the change freezes read at the opening are too old by then.
      await suite.env.sleep(5 * 60_000);
      await handle.signal(stepDecisionSignal, {
        by: '@alice',
        decision: 'retry',
        reason: 'kubeconfig renewed',
      });
      const gate = await waitForStatus<BreakGlassConsoleEditStatus>(
        handle,
        atStep('awaiting_approval'),
        'the gate after the retry',
      );
      assert.equal(gate.detail.justification?.verdict, 'justified');
      assert.ok(
        gate.events.some(
          (e) =>
            e.kind === 'read_again' &&
            /^the change freeze check with the policy read is \d+ s old/.test(e.message),
        ),
        'the freezes read again after the wait',
      );
      const history = await historyEvents(handle);
      const reads = completedActivities(history).map((a) => a.type);
      // The opening is a local activity (break-glass-open-local-v1); the freeze read again is an activity.
      assert.deepEqual(
        localActivities(history).map((a) => a.type),
        ['openBreakGlassProcedure'],
      );
      assert.deepEqual(
        reads.filter((type) => type === 'openBreakGlassProcedure' || type === 'checkChangeFreeze'),
        ['checkChangeFreeze'],
      );
      // End it as an operator would (a run terminated mid-flight can hold the test server's clock).
      await handle.signal(abortSignal, { by: '@alice', reason: 'drill over' });
      assert.equal((await handle.result()).outcome, 'aborted');
      await recordHistory(handle, 'break-glass-console-edit-pods-need-human');
    });
  });

  test('without the operator attesting that the edit cannot wait for the Console: not_attested, nothing planned', async () => {
    consoleSite.down({ status: 503 });
    await withWorker(async (taskQueue) => {
      const args = input({ urgency: undefined });
      const handle = await start(taskQueue, args);
      const result = await handle.result();
      assert.equal(result.outcome, 'not_attested');
      assert.match(result.message, /cannot wait for the Console .* prefer waiting/);
      const types = scheduledActivities(await historyEvents(handle)).map((activity) => activity.type);
      assert.ok(!types.includes('planConsoleEdit'), types.join(', '));
      assert.equal(await breakGlassRows(args.incidentId), 0);
      // With the attestation the approvers see it beside the plan.
      const attested = await start(taskQueue, input());
      const gate = await waitForStatus(attested, atStep('awaiting_approval'), 'the gate');
      assert.ok(
        gate.events.some(
          (event) =>
            event.kind === 'urgency_attested' &&
            event.by === '@alice' &&
            /the sweep restarts within the hour/.test(event.message),
        ),
      );
      await attested.signal(abortSignal, { by: '@alice', reason: 'test done' });
      await attested.result();
    });
  });

  test('a key that does not exist: refused before the gate, the key named, no history row', async () => {
    consoleSite.down({ status: 503 });
    await withWorker(async (taskQueue) => {
      const args = input({ param: 'LEARNING_RATE_TYPO' });
      const result = await (await start(taskQueue, args)).result();
      assert.equal(result.outcome, 'key_not_found');
      assert.match(result.message, /CVN_HPO_LGB_5M_LEARNING_RATE_TYPO does not exist/);
      assert.equal(await breakGlassRows(args.incidentId), 0);
    });
  });

  test('a non-numeric value for a numeric key is refused; bad MODEL / TF / PARAM fail the input', async () => {
    consoleSite.down({ status: 503 });
    await withWorker(async (taskQueue) => {
      const result = await (await start(taskQueue, input({ newValue: "0.07'; --" }))).result();
      assert.equal(result.outcome, 'invalid_value');
      const bad = await suite.env.client.workflow.start(breakGlassConsoleEdit, {
        taskQueue,
        workflowId: uniqueId('bad-b'),
        args: [input({ model: 'RF' as never, timeframe: '2H' as never, param: 'learning-rate' })],
      });
      await assert.rejects(bad.result(), (error: Error & { cause?: { message?: string } }) => {
        for (const field of ['model', 'timeframe', 'param'])
          assert.match(error.cause!.message!, new RegExp(field));
        return true;
      });
    });
  });

  test('seed 000 rule 5: a value that cannot be confirmed by eye needs a second operator; the sole operator alone cannot approve it', async () => {
    consoleSite.down({ status: 503 });
    const unconfirmable = {
      model: 'XGB' as const,
      timeframe: '1M' as const,
      param: 'OBJECTIVE',
      newValue: "binary:logistic'; --",
      requestedBy: '@dococeven',
    };
    // The shipped roster is the sole operator: no pair review is possible, nothing is planned past it.
    await withWorker(async (taskQueue) => {
      const args = input(unconfirmable);
      const result = await (await start(taskQueue, args)).result();
      assert.equal(result.outcome, 'pair_review_unavailable', result.message);
      assert.match(result.message, /it contains "'", ";", "--"/);
      assert.equal(await breakGlassRows(args.incidentId), 0);
    });
    // With a second approver: the requester's own approval is refused, the second operator's counts.
    const paired = writeTestPolicy(tmp, (p) => {
      useConsoleSite(p);
      p.runbooks.breakGlassConsoleEdit.approvers = ['@dococeven', '@sre-lead'];
    });
    await suite.withWorker(activityDeps(paired, suite.db.pool), async (taskQueue) => {
      const args = input(unconfirmable);
      const handle = await start(taskQueue, args);
      try {
        const gate = await waitForStatus<BreakGlassConsoleEditStatus>(
          handle,
          atStep('awaiting_approval'),
          'the approval gate',
        );
        assert.deepEqual(gate.detail.pairReview?.reviewers, ['@sre-lead']);
        const planHash = gate.detail.plan!.planHash;
        await handle.signal(approveSignal, { approver: '@dococeven', planHash });
        await handle.signal(approveSignal, { approver: '@sre-lead', planHash });
        await suite.env.sleep(3 * MINUTE);
        await waitForStatus<BreakGlassConsoleEditStatus>(
          handle,
          atStep('awaiting_console_recovery'),
          'the write, then the Console wait',
        );
        const s = (await handle.query(statusQuery)) as BreakGlassConsoleEditStatus;
        assert.ok(
          s.refusedAttempts.some(
            (r) => r.by === '@dococeven' && r.reason === 'self_approval' && /second operator/.test(r.detail),
          ),
          JSON.stringify(s.refusedAttempts),
        );
        assert.equal(s.detail.approval?.approver, '@sre-lead');
        const { rows } = await suite.db.pool.query<{ value: string }>(
          "SELECT base_env->>'CVN_HPO_XGB_1M_OBJECTIVE' AS value FROM ftf_config WHERE id = 1",
        );
        assert.equal(rows[0]?.value, unconfirmable.newValue, 'stored verbatim (bound parameter)');
        await recordHistory(handle, 'break-glass-console-edit-pair-review');
      } finally {
        await closeRun(handle, 'test over');
      }
    });
  });

  test('the Console never comes back within the policy bound: escalation, non-conforming', async () => {
    consoleSite.down({ status: 503 });
    await withWorker(async (taskQueue) => {
      const args = input();
      const handle = await start(taskQueue, args);
      const gate = await waitForStatus<BreakGlassConsoleEditStatus>(
        handle,
        atStep('awaiting_approval'),
        'the approval gate',
      );
      await handle.signal(approveSignal, { approver: '@dococeven', planHash: gate.detail.plan!.planHash });
      await suite.env.sleep(3 * MINUTE);
      await waitForStatus<BreakGlassConsoleEditStatus>(
        handle,
        atStep('awaiting_console_recovery'),
        'the Console wait',
      );
      await handle.signal(postMortemFiledSignal, { by: '@alice', link: 'https://op.example/wp/153#c8' });
      const result = await handle.result();
      assert.equal(result.outcome, 'edited_non_conforming');
      assert.equal(result.consoleRecovery?.state, 'not_recovered');
      assert.deepEqual(
        result.nonConformities.map((n) => n.code),
        ['console_not_recovered'],
      );
      assert.ok(result.notices.some((n) => n.kind === 'console_not_recovered'));
      const due =
        Date.parse(result.consoleRecovery.dueAt) -
        Date.parse(result.steps.find((s) => s.name === 'execute')!.endedAt!);
      assert.ok(Math.abs(due - 12 * 60 * MINUTE) < MINUTE, 'bounded by the policy (12 h)');
    });
  });
});
