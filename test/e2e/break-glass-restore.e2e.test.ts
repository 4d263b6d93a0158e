import { ENCRYPTED_ENCODING } from '../../src/codec/aes-gcm';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import {
  IncidentIdKey,
  RunbookNameKey,
  RunbookOutcomeKey,
  RunbookStepKey,
} from '../../src/common/search-attributes';
import { freePort } from '../../src/local/processes';
import { scratchDir } from '../../src/local/servers';
import { createRunbookWorker } from '../../src/worker/worker';
import { breakGlassRestore } from '../../src/workflows';
import {
  abortSignal,
  approveSignal,
  checkReconciliationSignal,
  postMortemFiledSignal,
  type BreakGlassRestoreInput,
} from '../../src/workflows/break-glass-restore/definitions';
import { channelSecrets, policyWithChannels, startSinks } from '../fixtures/channels';
import {
  historyEvents,
  localActivities,
  localActivityAfter,
  noticeAt,
  recordHistory,
  scheduledActivities,
} from '../fixtures/history';
import { activityDeps, shortTestPolicy, TEST_POLICY_FILE } from '../fixtures/policy';
import { spawnNode, writePolicy } from '../fixtures/processes';
import { workflowSuite } from '../fixtures/suite';
import { uniqueId } from '../fixtures/temporal';
import { acknowledgeConflict, atStep, waitForStatus } from '../fixtures/wait';
import { waitForLockWaiter } from '../fixtures/database';
import { testDataConverter } from '../fixtures/payload-keys';
import { metricValue, samples, scrape, scrapeUntil } from '../fixtures/metrics';
import { completeAsRogue, scheduleAsRogue } from '../fixtures/rogue';
import { renderStatus } from '../../src/cli/status';
import { HttpSink, type Scripted } from '../fixtures/sinks/http-sink';
import { Client } from '@temporalio/client';
import { startTracing } from '../../src/worker/tracing';

/**
 * End to end on the Temporal CLI dev server against real Postgres, with the short test policy
 * (3 s pause, 20 s reconciliation, 40 s post-mortem; flagged test-only).
 */

const suite = workflowSuite({ server: 'dev', resetDatabase: false });
const tmp = scratchDir('runbooks-e2e');

type Handle = WorkflowHandle<typeof breakGlassRestore>;

function input(requestedBy = '@alice'): BreakGlassRestoreInput {
  return {
    incidentId: uniqueId('INC'),
    targetHistoryId: 5,
    requestedBy,
    rationale: "LGB 5M learning rate 0.0 (typo); restoring v5 -- it's urgent; sweep 14 restarts",
  };
}

/** The environment of a worker process on the suite's database and dev server. */
function workerEnv(taskQueue: string, policyFile: string): Record<string, string> {
  return suite.processEnv({ RUNBOOKS_TASK_QUEUE: taskQueue, RUNBOOKS_POLICY_FILE: policyFile });
}

async function breakGlassRows(incidentId: string): Promise<number> {
  const rows = await suite.db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM ftf_config_history WHERE changed_by = $1',
    [`break-glass-${incidentId}`],
  );
  return rows.rows[0]!.n;
}

/**
 * A worker process serving /metrics whose policy sends the approval request only to the webhook,
 * which is also the fallback, and a webhook that answers every request with `webhookAnswer`.
 */
async function approvalRequestOnlyToWebhook(webhookAnswer: Scripted, env: Record<string, string> = {}) {
  await suite.db.reset();
  const sinks = await startSinks(tmp);
  const address = `127.0.0.1:${await freePort()}`;
  const taskQueue = uniqueId('runbooks-metrics');
  const policy = policyWithChannels(tmp, sinks, {
    base: 'short',
    overrides: (file) => {
      file.notifications!.routes.approval_request = ['webhook'];
      file.notifications!.fallback = 'webhook';
    },
  });
  sinks.webhook.down(webhookAnswer);
  const worker = spawnNode('dist/src/worker/main.js', [], {
    ...channelSecrets(sinks),
    ...workerEnv(taskQueue, policy.file),
    RUNBOOKS_METRICS_ADDRESS: address,
    ...env,
  });
  return { sinks, address, taskQueue, worker };
}

/** A Procedure A run on `taskQueue` with a fresh incident: its input and handle. */
async function startRestore(taskQueue: string, client = suite.env.client) {
  const args = input();
  const handle = await client.workflow.start(breakGlassRestore, {
    taskQueue,
    workflowId: `break-glass-restore-${args.incidentId}`,
    args: [args],
  });
  return { args, handle };
}

async function approve(handle: Handle): Promise<void> {
  const gate = await waitForStatus(handle, atStep('awaiting_approval'), 'the approval gate');
  await handle.signal(approveSignal, { approver: '@oncall-lead', planHash: gate.detail.plan!.planHash });
}

/** Reconcile and file the post-mortem the way the humans would, then return the result. */
async function completeObligations(handle: Handle, incidentId: string) {
  await waitForStatus(handle, atStep('awaiting_reconciliation'), 'the reconciliation wait', 60_000);
  // v5 carries Console edits: CONFLICT > 0 against the canonical payload, which the IC acknowledges.
  await acknowledgeConflict(handle);
  await suite.db.pool.query(
    `INSERT INTO ftf_config_history (base_env, version, locked_by, changed_by, change_reason, tags)
     SELECT base_env, version || '-console', locked_by, 'console:alice', $1, '["console"]'::jsonb FROM ftf_config WHERE id = 1`,
    [`break-glass-${incidentId}`],
  );
  await handle.signal(checkReconciliationSignal, {});
  await waitForStatus(
    handle,
    (s) => s.detail.reconciliation?.state === 'found_in_time',
    'the reconciliation',
  );
  await handle.signal(postMortemFiledSignal, { by: '@alice', link: 'https://op.example/wp/153#c1' });
  return handle.result();
}

describe('breakGlassRestore end to end on the dev server', () => {
  test('started through the client, approved by signal, runs to completion against Postgres', async () => {
    await suite.db.reset();
    const policy = shortTestPolicy();
    const taskQueue = uniqueId('runbooks-e2e');
    const worker = await createRunbookWorker({
      dataConverter: testDataConverter(),
      connection: suite.env.nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: suite.bundle,
      deps: activityDeps(policy, suite.db.pool),
    });
    await worker.runUntil(async () => {
      const { args, handle } = await startRestore(taskQueue);
      await approve(handle);
      const result = await completeObligations(handle, args.incidentId);

      assert.equal(result.outcome, 'restored');
      assert.equal(result.conforming, true);
      assert.equal(await breakGlassRows(args.incidentId), 1);
      const live = await suite.db.pool.query<{ version: string; updated_by: string }>(
        'SELECT version, updated_by FROM ftf_config WHERE id = 1',
      );
      assert.equal(live.rows[0]!.version, `2026.10.30-1_restored_${args.incidentId}`);
      assert.equal(live.rows[0]!.updated_by, `break-glass-${args.incidentId}`);
      const ledger = await suite.db.pool.query<{ rationale: string; approval_line: string }>(
        'SELECT rationale, approval_line FROM runbook_ledger WHERE incident_id = $1',
        [args.incidentId],
      );
      assert.equal(ledger.rowCount, 1);
      assert.equal(ledger.rows[0]!.rationale, args.rationale);
      assert.equal(ledger.rows[0]!.approval_line, result.approval!.line);

      // Visible in the UI: search attributes and the memo summary.
      const description = await handle.describe();
      assert.equal(description.typedSearchAttributes.get(RunbookNameKey), 'breakGlassRestore');
      assert.equal(description.typedSearchAttributes.get(IncidentIdKey), args.incidentId);
      assert.equal(description.typedSearchAttributes.get(RunbookStepKey), 'done');
      assert.equal(description.typedSearchAttributes.get(RunbookOutcomeKey), 'restored');
      assert.match(String(description.memo?.summary), /restored history id 5/);

      // …and findable by them (visibility is eventually consistent).
      let listed: string[] = [];
      for (let attempt = 0; attempt < 50 && listed.length === 0; attempt += 1) {
        listed = [];
        for await (const execution of suite.env.client.workflow.list({
          query: `RunbookName = 'breakGlassRestore' AND IncidentId = '${args.incidentId}' AND RunbookOutcome = 'restored'`,
        })) {
          listed.push(execution.workflowId);
        }
        if (listed.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.deepEqual(listed, [`break-glass-restore-${args.incidentId}`]);

      await recordHistory(handle, 'break-glass-restore-dev-server');
    });
  });

  test('channels in real time: a Slack 429 is retried after its Retry-After, a 451 from the mail relay after the backoff', async () => {
    await suite.db.reset();
    const sinks = await startSinks(tmp);
    try {
      const policy = policyWithChannels(tmp, sinks, { base: 'short' });
      const taskQueue = uniqueId('runbooks-channels');
      const worker = await createRunbookWorker({
        dataConverter: testDataConverter(),
        connection: suite.env.nativeConnection,
        namespace: 'default',
        taskQueue,
        workflowBundle: suite.bundle,
        deps: activityDeps(policy, suite.db.pool, channelSecrets(sinks)),
      });
      // Approval request: Slack says 429 (retry after 2 s); the email relay fails once with 451.
      sinks.slack.respondNext({ status: 429, headers: { 'Retry-After': '2' }, body: 'rate_limited' });
      sinks.smtp.rejectNext(451);
      await worker.runUntil(async () => {
        const { handle } = await startRestore(taskQueue);
        const gate = await waitForStatus(
          handle,
          (s) => s.notices.some((n) => n.kind === 'approval_request' && n.state === 'delivered'),
          'the approval request delivered',
          60_000,
        );
        const slackAttempts = sinks.slack.requests.filter((r) =>
          (r.json as { text: string }).text.includes('approval requested'),
        );
        assert.equal(slackAttempts.length, 2);
        const waited = slackAttempts[1]!.at - slackAttempts[0]!.at;
        assert.ok(waited >= 2_000, `Slack retried after ${waited} ms (Retry-After: 2)`);
        assert.equal(
          sinks.smtp.messages.filter((m) => m.subject.includes('approval requested')).length,
          1,
          'email delivered once after the 451',
        );
        await handle.signal(approveSignal, {
          approver: '@oncall-lead',
          planHash: gate.detail.plan!.planHash,
        });
        await handle.terminate('test over');
      });
    } finally {
      await sinks.stop();
    }
  });

  test('durability: kill -9 the worker process during the pause; a new worker finishes with exactly one restore', async () => {
    await suite.db.reset();
    const policyFile = writePolicy(
      path.join(tmp, 'durability-policy.json'),
      JSON.parse(readFileSync(TEST_POLICY_FILE, 'utf8')),
      {
        pause: '15s',
      },
    );
    const taskQueue = uniqueId('runbooks-kill');
    const env = workerEnv(taskQueue, policyFile);
    const first = spawnNode('dist/src/worker/main.js', [], env);
    await first.waitFor(/runbooks worker started/);

    const { args, handle } = await startRestore(taskQueue);
    await approve(handle);
    await waitForStatus(handle, atStep('pause_and_think'), 'the pause');

    first.child.kill('SIGKILL');
    assert.equal(await first.exited(), null, 'killed by a signal, not a clean exit');
    // The test policy defines no tracker channels and there is no staging database: it said so.
    assert.match(first.output(), /this worker cannot serve backstop[^]*?openProjectChannel/);
    assert.match(first.output(), /this worker cannot serve breakGlassDrill[^]*?STAGING_DATABASE_URL/);
    assert.equal(await breakGlassRows(args.incidentId), 0, 'nothing executed before the kill');

    const second = spawnNode('dist/src/worker/main.js', [], env);
    try {
      await second.waitFor(/runbooks worker started/);
      const result = await completeObligations(handle, args.incidentId);
      assert.equal(result.outcome, 'restored');
      assert.equal(await breakGlassRows(args.incidentId), 1, 'exactly one restore');
      const ledger = await suite.db.pool.query('SELECT 1 FROM runbook_ledger WHERE incident_id = $1', [
        args.incidentId,
      ]);
      assert.equal(ledger.rowCount, 1);
      const executeSteps = result.steps.filter((s) => s.name === 'execute');
      assert.equal(executeSteps.length, 1);
      assert.ok(
        Date.parse(executeSteps[0]!.startedAt) >= Date.parse(result.approval!.approvedAt) + 15_000,
        'the pause survived the kill',
      );
    } finally {
      second.child.kill('SIGINT');
      await second.exited();
    }
  });

  test('durability: kill -9 the worker while the opening (a local activity) waits on Postgres; a new worker opens the run again, which reaches its gate once', async () => {
    await suite.db.reset();
    const taskQueue = uniqueId('runbooks-kill-opening');
    const env = workerEnv(taskQueue, TEST_POLICY_FILE);
    const first = spawnNode('dist/src/worker/main.js', [], env);
    const workers = [first];
    // The live config table, held so the opening's plan waits inside the run's first workflow task
    // (break-glass-open-local-v1: the worker runs the opening there).
    const holder = await suite.db.pool.connect();
    let holding = false;
    try {
      await first.waitFor(/runbooks worker started/);
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE ftf_config IN ACCESS EXCLUSIVE MODE');
      holding = true;
      const { args, handle } = await startRestore(taskQueue);
      // Killed as soon as the plan waits (the opening gives each inline read 3 s).
      await waitForLockWaiter(suite.db.pool, 'relation', 'the opening waiting on ftf_config');
      first.child.kill('SIGKILL');
      assert.equal(await first.exited(), null, 'killed by a signal');
      await holder.query('COMMIT');
      holding = false;

      const second = spawnNode('dist/src/worker/main.js', [], env);
      workers.push(second);
      await second.waitFor(/runbooks worker started/);
      const gate = await waitForStatus(handle, atStep('awaiting_approval'), 'the approval gate', 120_000);
      assert.ok(gate.detail.plan?.planHash, 'planned');
      assert.ok(
        !gate.events.some((e) => e.kind === 'read_again'),
        gate.events.map((e) => `${e.kind}: ${e.message}`).join('\n'),
      );
      const events = await historyEvents(handle);
      assert.ok(
        localActivityAfter(events, (e) => !!e.workflowTaskTimedOutEventAttributes),
        'the first task was lost with the worker; the opening recorded after',
      );
      assert.deepEqual(
        localActivities(events).map((a) => a.type),
        ['openBreakGlassProcedure'],
      );
      assert.ok(
        !scheduledActivities(events).some((a) => a.type === 'openBreakGlassProcedure'),
        'no activity task for the opening',
      );
      noticeAt(events, 'approval_request'); // exactly one
      await handle.signal(abortSignal, { by: '@alice', reason: 'test over' });
      assert.equal((await handle.result()).outcome, 'aborted');
      assert.equal(await breakGlassRows(args.incidentId), 0, 'nothing written');
    } finally {
      if (holding) await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
      for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGINT');
      await Promise.all(workers.map((worker) => worker.exited()));
    }
  });

  test('metrics: the worker process serves the SDK and runbook metrics on one /metrics endpoint', async () => {
    // The approval request goes only to a webhook that refuses it (403: not retried), which is also
    // the fallback: it reaches no channel, and the run goes on.
    const { sinks, address, taskQueue, worker } = await approvalRequestOnlyToWebhook(
      { status: 403, body: { error: 'hook disabled' } },
      { RUNBOOKS_METRICS_VISIBILITY_INTERVAL: '1s' },
    );
    const undelivered = { runbook: 'breakGlassRestore', audience: 'approvers' };
    const undeliveredSeries = (text: string) =>
      samples(text).filter(
        (sample) =>
          sample.name === 'runbooks_notices_undelivered_total' &&
          sample.labels.runbook === undelivered.runbook &&
          sample.labels.audience === undelivered.audience,
      );
    try {
      await worker.waitFor(/runbooks worker started/);
      assert.match(worker.output(), new RegExp(`metrics.*http://${address}/metrics`));
      // Exported at 0 from the start (RunbookNoticeUndelivered takes its increase()).
      assert.deepEqual(
        undeliveredSeries(await scrape(address)).map((sample) => sample.value),
        [0],
      );
      const { args, handle } = await startRestore(taskQueue);
      const gate = await waitForStatus(handle, atStep('awaiting_approval'), 'the approval gate');
      const request = await waitForStatus(
        handle,
        (status) => status.notices.some((n) => n.kind === 'approval_request' && n.state === 'failed'),
        'the approval request failed on every channel',
      );
      assert.deepEqual(
        request.notices
          .find((n) => n.kind === 'approval_request')!
          .deliveries.map((d) => [d.channel, d.state]),
        [['webhook', 'failed']],
      );
      // What `status` prints: the on-call reads what was not said, and why.
      assert.match(
        renderStatus(request as unknown as Parameters<typeof renderStatus>[0]),
        /^NOT SENT: .* approval_request .*no channel delivered it \(webhook: .*403/m,
      );
      const counted = await scrapeUntil(
        address,
        (text) => metricValue(text, 'runbooks_notices_undelivered_total', undelivered) === 1,
        'the approval request in runbooks_notices_undelivered_total',
      );
      assert.equal(undeliveredSeries(counted).length, 1, 'the series that was at 0, not a second one');
      assert.equal(metricValue(counted, 'runbooks_notices_undelivered_total'), 1, 'no other notice');
      // A refusal: the plan hash does not match.
      await handle.signal(approveSignal, { approver: '@oncall-lead', planHash: 'f'.repeat(64) });
      await waitForStatus(handle, (s) => s.refusedAttempts.length === 1, 'the refusal');
      // The visibility gauges see the run waiting at its gate.
      const atGate = { runbook: 'breakGlassRestore', step: 'awaiting_approval' };
      const waiting = await scrapeUntil(
        address,
        (text) => metricValue(text, 'runbooks_open_runs', atGate) === 1,
        'the open-run gauge at the approval gate',
      );
      assert.ok(
        metricValue(waiting, 'runbooks_oldest_human_wait_seconds', { runbook: 'breakGlassRestore' })! >= 0,
      );
      // Within its approval deadline the wait is not overdue (read from the run's own deadline: were
      // it not found, the wait would be due from its start and count its seconds here).
      assert.equal(
        metricValue(waiting, 'runbooks_oldest_overdue_human_wait_seconds', { runbook: 'breakGlassRestore' }),
        0,
      );
      // When the gauges were last read (RunbookGaugesStale reads it): this second, not the start's.
      const lastRead = metricValue(waiting, 'runbooks_open_run_gauges_last_read_timestamp_seconds')!;
      const scrapedS = Date.now() / 1000;
      assert.ok(lastRead > scrapedS - 5 && lastRead <= scrapedS, `last read ${scrapedS - lastRead} s ago`);
      await handle.signal(approveSignal, { approver: '@oncall-lead', planHash: gate.detail.plan!.planHash });
      const result = await completeObligations(handle, args.incidentId);
      assert.equal(result.outcome, 'restored');

      const text = await scrapeUntil(
        address,
        (scraped) =>
          metricValue(scraped, 'runbooks_open_runs', atGate) === 0 &&
          metricValue(scraped, 'runbooks_runs_finished_total', { runbook: 'breakGlassRestore' }) === 1 &&
          // The SDK core counts the completion once the server has taken it, a moment later.
          /^temporal_workflow_completed\{/m.test(scraped),
        'the open-run gauge back to 0 and the finished run counted (by us and by the SDK)',
      );
      const runbook = { runbook: 'breakGlassRestore' };
      const gateWait = metricValue(text, 'runbooks_gate_wait_seconds_count', {
        ...runbook,
        gate: 'awaiting_approval',
      });
      assert.equal(gateWait, 1, 'one wait at the approval gate');
      const approvalWait = metricValue(text, 'runbooks_gate_wait_seconds_sum', {
        ...runbook,
        gate: 'awaiting_approval',
      })!;
      assert.ok(approvalWait > 0 && approvalWait < 120, `approval gate wait ${approvalWait} s`);
      assert.equal(metricValue(text, 'runbooks_approval_to_execution_seconds_count', runbook), 1);
      // The safety pause (3 s in the short policy) lies between the approval and the execution.
      assert.ok(metricValue(text, 'runbooks_approval_to_execution_seconds_sum', runbook)! >= 3);
      assert.equal(metricValue(text, 'runbooks_step_seconds_count', { ...runbook, step: 'execute' }), 1);
      // The plan is one step in the metric, the change-freeze read inside it one of its own (the
      // plan was recorded twice per run, in two parts, before 0.20.0).
      for (const step of ['inspect_and_plan', 'check_change_freeze'])
        assert.equal(metricValue(text, 'runbooks_step_seconds_count', { ...runbook, step }), 1, step);
      assert.equal(
        metricValue(text, 'runbooks_refused_attempts_total', {
          ...runbook,
          message: 'approve',
          reason: 'plan_hash_mismatch',
        }),
        1,
      );
      assert.equal(metricValue(text, 'runbooks_runs_finished_total', { ...runbook, outcome: 'restored' }), 1);
      // Counted once for the run, whatever the notices after it did.
      assert.equal(metricValue(text, 'runbooks_notices_undelivered_total'), 1);
      assert.ok(
        metricValue(text, 'runbooks_notices_total', { channel: 'slack-incidents', result: 'delivered' })! >=
          1,
      );
      assert.match(text, /^temporal_workflow_completed\{/m, 'the SDK core metrics on the same endpoint');

      // A run whose workflow tasks fail (here a type this worker does not know) is counted by the
      // SDK core under the name and labels RunbookWorkflowTasksFailing reads.
      const unknown = await suite.env.client.workflow.start('noSuchRunbook', {
        taskQueue,
        workflowId: uniqueId('no-such-runbook'),
        args: [],
      });
      try {
        await scrapeUntil(
          address,
          (scraped) =>
            (metricValue(scraped, 'temporal_workflow_task_execution_failed', {
              workflow_type: 'noSuchRunbook',
            }) ?? 0) >= 1 &&
            samples(scraped).some(
              (sample) =>
                sample.name === 'temporal_workflow_task_execution_failed' &&
                sample.labels.workflow_type === 'noSuchRunbook' &&
                sample.labels.failure_reason !== undefined,
            ),
          'the failed workflow task counted with its workflow_type and failure_reason',
        );
      } finally {
        await unknown.terminate('test over');
      }
      // The core forwards its log lines in batches (up to 100 ms) while the counter is read at once:
      // the warning may reach the output just after the counter did (CI146 read the output first).
      await worker.waitFor(/Failing workflow task/, 10_000);

      // Logs: one JSON object per line; the run's events carry its ids, runbook, step and incident.
      const lines = worker
        .output()
        .split('\n')
        .filter((line) => line.trim() !== '');
      const parsed = lines.map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          return assert.fail(`a log line that is not JSON: ${line.slice(0, 300)}`);
        }
      });
      const approved = parsed.find(
        (line) => line.event === 'approved' && line.incidentId === args.incidentId,
      );
      assert.ok(approved, 'the approval is a log line of its own');
      assert.equal(approved.workflowId, handle.workflowId);
      assert.equal(approved.runId, (await handle.describe()).runId);
      assert.equal(approved.runbook, 'breakGlassRestore');
      assert.equal(approved.step, 'awaiting_approval');
      assert.equal(approved.by, '@oncall-lead');
      assert.ok(parsed.some((line) => line.event === 'step' && line.step === 'execute'));
      // Back in the plan after the change-freeze read, the plan's own words (they were the read's).
      const planLines = parsed.filter(
        (line) =>
          line.event === 'step' && line.step === 'inspect_and_plan' && line.workflowId === handle.workflowId,
      );
      assert.equal(planLines.length, 2, 'the plan, and the plan again after the freeze read');
      assert.equal(planLines[1]!.message, planLines[0]!.message);
      // The activities' lines too (ours and the SDK's): the run's runbook, incident and step when it
      // scheduled the activity, and its run id as `runId` (before: the workflow's id and type only).
      const activityLines = parsed.filter(
        (line) => line.sdkComponent === 'activity' && line.workflowId === handle.workflowId,
      );
      assert.ok(activityLines.length >= 2, `${activityLines.length} activity lines`);
      for (const line of activityLines)
        assert.deepEqual(
          [line.runbook, line.incidentId, line.runId, typeof line.step],
          ['breakGlassRestore', args.incidentId, approved.runId, 'string'],
          `${String(line.message)}: ${JSON.stringify(line).slice(0, 400)}`,
        );
      // In the history the header is in clear (the codec does not seal headers; the input beside it
      // is sealed): it holds what the search attributes show, nothing else.
      const scheduled = (await handle.fetchHistory()).events!.find(
        (e) => e.activityTaskScheduledEventAttributes,
      )!.activityTaskScheduledEventAttributes!;
      const header = scheduled.header!.fields!['runbook-log-context']!;
      assert.equal(
        Buffer.from(scheduled.input!.payloads![0]!.metadata!.encoding!).toString(),
        ENCRYPTED_ENCODING,
      );
      assert.equal(Buffer.from(header.metadata!.encoding!).toString(), 'json/plain');
      assert.deepEqual(Object.keys(JSON.parse(Buffer.from(header.data!).toString()) as object).sort(), [
        'incidentId',
        'runbook',
        'step',
      ]);
      const stepOf = (kind: string): unknown =>
        activityLines.find((line) => line.message === 'notice delivered' && line.kind === kind)?.step;
      assert.equal(stepOf('pause_started'), 'pause_and_think');
      assert.equal(stepOf('restore_done'), 'verify');
      // The SDK core's own warning about the unknown type's failing task, as a JSON line too (it
      // printed coloured text of its own between the JSON lines).
      assert.ok(
        parsed.some((line) => /Failing workflow task/.test(String(line.message))),
        'the SDK core warning forwarded to the JSON log',
      );
      for (const secret of Object.values(channelSecrets(sinks)))
        assert.ok(!worker.output().includes(secret), 'no channel secret in the log');
    } finally {
      worker.child.kill('SIGINT');
      await worker.exited();
      await sinks.stop();
    }
  });

  test('metrics: an activity result or input refused as not sealed is counted (RunbookForgedActivityPayload reads it)', async () => {
    // The approval request goes only to a webhook that does not answer: its activity stays pending
    // (30 s an attempt), long enough for someone to complete it by id.
    const { sinks, address, taskQueue, worker } = await approvalRequestOnlyToWebhook('hang');
    const refused = (activity: string, payload: string) => ({
      runbook: 'breakGlassRestore',
      activity,
      payload,
    });
    try {
      await worker.waitFor(/runbooks worker started/);
      const { handle } = await startRestore(taskQueue);
      assert.ok(
        await completeAsRogue(suite.env, handle, 'notifyWebhook', { delivered: true }, 30_000),
        'the approval request was pending',
      );
      await scrapeUntil(
        address,
        (text) =>
          metricValue(
            text,
            'runbooks_unsealed_activity_payloads_total',
            refused('notifyWebhook', 'result'),
          ) === 1,
        'the refused result counted',
      );
      // An activity scheduled by someone else, on this worker's queue, with an unsealed input.
      const decoy = await scheduleAsRogue(suite.env, {
        type: 'notifyLog',
        taskQueue,
        input: { text: 'scheduled by mallory' },
      });
      const text = await scrapeUntil(
        address,
        (scraped) =>
          metricValue(scraped, 'runbooks_unsealed_activity_payloads_total', {
            runbook: 'rogueRun',
            activity: 'notifyLog',
            payload: 'input',
          }) === 1,
        'the refused input counted',
      );
      assert.equal(metricValue(text, 'runbooks_unsealed_activity_payloads_total'), 2, 'nothing else');
      await decoy.terminate('test over');
      await handle.terminate('test over');
    } finally {
      worker.child.kill('SIGINT');
      await worker.exited();
      await sinks.stop();
    }
  });

  test('traces: one Procedure A run is one trace across the client, the workflow and its activities (OTLP/HTTP)', async () => {
    await suite.db.reset();
    // The collector takes spans only with its token, sent as OpenTelemetry's header variable says.
    const token = `otlp-token-${uniqueId('t')}`;
    const receiver = await HttpSink.start((request) =>
      request.headers.authorization === `Bearer ${token}`
        ? { status: 200, body: {} }
        : { status: 401, body: {} },
    );
    const tracesUrl = `${receiver.url}/v1/traces`;
    const taskQueue = uniqueId('runbooks-traces');
    const worker = spawnNode('dist/src/worker/main.js', [], {
      ...workerEnv(taskQueue, TEST_POLICY_FILE),
      RUNBOOKS_OTLP_TRACES_URL: tracesUrl,
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: `authorization=Bearer%20${token}`,
    });
    const tracing = startTracing(
      { url: tracesUrl, headers: { authorization: `Bearer ${token}` }, logUrl: tracesUrl },
      'test-client',
      { warn: () => undefined, info: () => undefined },
    );
    try {
      await worker.waitFor(/runbooks worker started/);
      const client = new Client({
        connection: suite.env.client.connection,
        dataConverter: testDataConverter(),
        interceptors: { workflow: [tracing.clientInterceptor] },
      });
      const { args, handle } = await startRestore(taskQueue, client);
      await approve(handle);
      // The workflow's own span ends (and is exported) when the run does.
      assert.equal((await completeObligations(handle, args.incidentId)).outcome, 'restored');
      await tracing.shutdown();
      worker.child.kill('SIGINT'); // flushes the worker's spans
      await worker.exited();

      interface OtlpSpan {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
      }
      const spans: (OtlpSpan & { service: string })[] = [];
      assert.ok(receiver.requests.length > 0, 'spans were exported');
      assert.doesNotMatch(worker.output(), /traces not exported/, 'every export was taken');
      assert.ok(!worker.output().includes(token), "the collector's token is in no log line");
      assert.match(
        worker.output(),
        /"traces":"http:\/\/127\.0\.0\.1:\d+\/v1\/traces, headers authorization"/,
      );
      for (const request of receiver.requests) {
        assert.equal(request.path, '/v1/traces');
        assert.equal(request.headers.authorization, `Bearer ${token}`);
        assert.match(String(request.headers['content-type']), /application\/json/);
        const body = request.json as {
          resourceSpans: {
            resource: { attributes: { key: string; value: { stringValue?: string } }[] };
            scopeSpans: { spans: OtlpSpan[] }[];
          }[];
        };
        for (const resource of body.resourceSpans) {
          const service =
            resource.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const scope of resource.scopeSpans)
            for (const span of scope.spans) spans.push({ ...span, service });
        }
      }
      const named = (name: string): OtlpSpan & { service: string } => {
        const found = spans.find((span) => span.name === name);
        assert.ok(found, `a span ${name} among ${[...new Set(spans.map((span) => span.name))].join(', ')}`);
        return found;
      };
      const start = named('StartWorkflow:breakGlassRestore');
      const run = named('RunWorkflow:breakGlassRestore');
      const scheduled = named('StartActivity:executeRestore');
      const executed = named('RunActivity:executeRestore');
      assert.equal(start.service, 'test-client');
      assert.equal(run.service, 'durable-runbooks-worker');
      assert.equal(executed.service, 'durable-runbooks-worker');
      assert.equal(run.parentSpanId, start.spanId, 'the workflow span is the client start span’s child');
      assert.equal(
        executed.parentSpanId,
        scheduled.spanId,
        'the activity runs under the span that scheduled it',
      );
      for (const span of [run, scheduled, executed]) assert.equal(span.traceId, start.traceId, span.name);
      const sameTrace = spans.filter((span) => span.traceId === start.traceId).map((span) => span.name);
      // Since 0.8.0 the plan rides on the opening's activity and the verification on the restore's.
      for (const name of ['RunActivity:openBreakGlassProcedure', 'RunActivity:notifyLog'])
        assert.ok(sameTrace.includes(name), `${name} in the run's trace`);
    } finally {
      await tracing.shutdown();
      if (worker.child.exitCode === null) worker.child.kill('SIGINT');
      await worker.exited();
      await receiver.stop();
    }
  });
});
