import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { scratchDir } from '../../src/local/servers';
import type { LoadedPolicy } from '../../src/worker/policy';
import { breakGlassRestore } from '../../src/workflows';
import {
  approveSignal,
  checkReconciliationSignal,
  postMortemFiledSignal,
  type BreakGlassRestoreResult,
} from '../../src/workflows/break-glass-restore/definitions';
import {
  channelSecrets,
  policyWithChannels,
  secretValues,
  startSinks,
  type Sinks,
} from '../fixtures/channels';
import { historyText, recordHistory } from '../fixtures/history';
import { activityDeps } from '../fixtures/policy';
import { workflowSuite } from '../fixtures/suite';
import { capturedLogs, uniqueId } from '../fixtures/temporal';
import { acknowledgeConflict, atStep, waitForStatus } from '../fixtures/wait';

/**
 * Procedure A with every channel wired (default policy durations, time-skipping server, channels
 * pointed at local Slack / PagerDuty / SMTP / OpenProject stand-ins).
 */

const MINUTE = 60_000;
const tmp = scratchDir('runbooks-notify-wf');
const suite = workflowSuite({ server: 'time-skipping', queuePrefix: 'tq-notify' });
let sinks: Sinks;

before(async () => {
  sinks = await startSinks(tmp);
});

after(async () => {
  await sinks?.stop();
});

beforeEach(() => {
  sinks.reset();
});

function withWorker<T>(policy: LoadedPolicy, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  return suite.withWorker(activityDeps(policy, suite.db.pool, channelSecrets(sinks)), fn);
}

async function startAndApprove(
  taskQueue: string,
  incidentId: string,
): Promise<WorkflowHandle<typeof breakGlassRestore>> {
  const handle = await suite.env.client.workflow.start(breakGlassRestore, {
    taskQueue,
    workflowId: `break-glass-restore-${incidentId}`,
    args: [
      { incidentId, targetHistoryId: 5, requestedBy: '@alice', rationale: 'LGB 5M learning rate 0.0 typo' },
    ],
  });
  const gate = await waitForStatus(handle, atStep('awaiting_approval'), 'the approval gate');
  await handle.signal(approveSignal, { approver: '@dococeven', planHash: gate.detail.plan!.planHash });
  return handle;
}

function slackTexts(): string[] {
  return sinks.slack.requests.map((r) => (r.json as { text: string }).text);
}

describe('Procedure A notifications over real protocols', () => {
  test('approval request, approval with SQL time, restore counts, missed reconciliation page, draft comment, post-mortem page', async () => {
    const policy = policyWithChannels(tmp, sinks);
    await withWorker(policy, async (taskQueue) => {
      const incidentId = uniqueId('INC');
      const handle = await startAndApprove(taskQueue, incidentId);
      await suite.env.sleep(3 * MINUTE);
      await waitForStatus(handle, atStep('awaiting_reconciliation'), 'the reconciliation wait');
      await acknowledgeConflict(handle);
      await suite.env.sleep(61 * MINUTE); // no reconciling write: escalation
      await waitForStatus(
        handle,
        (s) => s.detail.postMortem?.comment?.state === 'posted',
        'the post-mortem draft comment',
      );
      await suite.db.pool.query(
        `INSERT INTO ftf_config_history (base_env, version, changed_by, change_reason) SELECT base_env, 'late', 'console:alice', $1 FROM ftf_config WHERE id = 1`,
        [`break-glass-${incidentId}`],
      );
      await handle.signal(checkReconciliationSignal, {});
      await waitForStatus(handle, (s) => s.detail.reconciliation?.state === 'late', 'the late write');
      const result: BreakGlassRestoreResult = await handle.result(); // post-mortem never filed: 24 h → missed

      assert.equal(result.outcome, 'restored_non_conforming');
      assert.deepEqual(
        result.nonConformities.map((n) => n.code),
        ['reconciliation_missed', 'post_mortem_missed'],
      );

      // Slack: approval request with plan summary, the approval line, planHash and how to approve.
      const approvalRequest = sinks.slack.requests.find((r) =>
        (r.json as { text: string }).text.includes('approval requested'),
      )!;
      const blocks = JSON.stringify((approvalRequest.json as { blocks: unknown }).blocks);
      assert.ok(blocks.includes(result.plan!.planHash));
      assert.ok(blocks.includes('event=break_glass_approval'));
      assert.ok(blocks.includes('history id 5 (version 2026.10.30-1)'));
      assert.ok(blocks.includes('\\"approver\\":\\"@you\\"'));
      // Email to the roster (directory), not to the generic list.
      const mail = sinks.smtp.messages.find((m) => m.subject.includes('approval requested'))!;
      assert.deepEqual(mail.to, ['dococeven@example.com']);
      // Approval + pause notice with the exact SQL execution time; restore done with the counts.
      assert.ok(
        slackTexts().some((t) =>
          t.includes(
            `SQL executes at ${result.approval ? new Date(Date.parse(result.approval.approvedAt) + 2 * MINUTE).toISOString() : ''}`,
          ),
        ),
      );
      const counts = `NEW ${result.verification!.canonical.new} / EQUAL ${result.verification!.canonical.equal} / CONFLICT ${result.verification!.canonical.conflict}`;
      assert.ok(slackTexts().some((t) => t.includes('restore done') && t.includes(counts)));
      // PagerDuty: the reconciliation page, resolved by the late write; the post-mortem page.
      const reconciliationPage = sinks.pagerDuty.alerts.get(
        `break-glass-restore-${incidentId}/reconciliation`,
      )!;
      assert.equal(reconciliationPage.status, 'resolved');
      assert.equal(reconciliationPage.severity, 'critical');
      assert.equal(
        sinks.pagerDuty.alerts.get(`break-glass-restore-${incidentId}/post-mortem`)!.status,
        'triggered',
      );
      assert.ok(slackTexts().some((t) => t.includes('ESCALATION: reconciling Console write missed')));
      assert.ok(slackTexts().some((t) => t.includes('ESCALATION: post-mortem missed')));
      // The post-mortem draft as a comment on OP wp#153, once.
      const comments = sinks.openProject.workPackages.get(153)!.comments;
      assert.equal(comments.length, 1);
      assert.match(comments[0]!, new RegExp(`## Break-glass post-mortem — incident ${incidentId}`));
      assert.match(comments[0]!, /MISSED/);
      assert.equal(result.postMortem?.comment?.state, 'posted');
      // Every notice delivered on every routed channel.
      for (const notice of result.notices) {
        assert.equal(notice.state, 'delivered', `${notice.kind}: ${JSON.stringify(notice.deliveries)}`);
      }
      await recordHistory(handle, 'break-glass-restore-with-channels');
    });
  });

  test('Slack down: the run completes, the failed deliveries are in the result, the fallback email got them', async () => {
    const policy = policyWithChannels(tmp, sinks);
    sinks.slack.down({ status: 503, body: 'service unavailable' });
    await withWorker(policy, async (taskQueue) => {
      const incidentId = uniqueId('INC');
      const handle = await startAndApprove(taskQueue, incidentId);
      await suite.env.sleep(3 * MINUTE);
      await waitForStatus(handle, atStep('awaiting_reconciliation'), 'the reconciliation wait');
      await acknowledgeConflict(handle);
      await suite.db.pool.query(
        `INSERT INTO ftf_config_history (base_env, version, changed_by, change_reason) SELECT base_env, 'c', 'console:alice', $1 FROM ftf_config WHERE id = 1`,
        [`break-glass-${incidentId}`],
      );
      await handle.signal(checkReconciliationSignal, {});
      await handle.signal(postMortemFiledSignal, { by: '@alice', link: 'https://op.example/wp/153#c1' });
      const result = await handle.result();

      assert.equal(result.outcome, 'restored', 'a channel outage does not change the runbook');
      const slackDeliveries = result.notices.flatMap((n) =>
        n.deliveries.filter((d) => d.channel === 'slack-incidents'),
      );
      assert.ok(slackDeliveries.length >= 4);
      for (const delivery of slackDeliveries) {
        assert.equal(delivery.state, 'failed');
        assert.match(delivery.error!, /slack-incidents: post Slack message: HTTP 503/);
      }
      assert.ok(
        sinks.slack.requests.length >= slackDeliveries.length * 5,
        'each delivery was retried (5 attempts)',
      );
      for (const notice of result.notices) {
        assert.equal(notice.state, 'partial', `${notice.kind}: log delivered, Slack failed, email delivered`);
        const email = notice.deliveries.find((d) => d.channel === 'email-oncall');
        assert.equal(email?.state, 'delivered', `${notice.kind} reached email`);
        assert.equal(
          email?.fallback,
          notice.kind !== 'approval_request',
          'email is the fallback unless already routed',
        );
      }
      const mailed = sinks.smtp.messages.map((m) => m.subject);
      for (const notice of result.notices)
        assert.ok(mailed.includes(notice.subject), `fallback email for ${notice.kind}`);
      assert.ok(result.notices.some((n) => n.kind === 'restore_done'));
    });
  });

  test('no configured secret appears in the exported history or in any log line', async () => {
    sinks.gitHub.down({ status: 500, body: 'boom' });
    const secrets = secretValues(sinks);
    await withWorker(
      policyWithChannels(tmp, sinks, {
        overrides: (p) => {
          p.postMortemComment = { channel: 'github', issueNumber: 905 }; // GitHub down: failure messages in history
          p.notifications!.routes.default = ['log', 'slack-incidents', 'webhook', 'email-oncall'];
        },
      }),
      async (taskQueue) => {
        const incidentId = uniqueId('INC');
        const handle = await startAndApprove(taskQueue, incidentId);
        await suite.env.sleep(3 * MINUTE);
        await acknowledgeConflict(handle);
        const result = await handle.result();
        assert.equal(result.outcome, 'restored_non_conforming');
        assert.equal(result.postMortem?.comment?.state, 'failed');
        const text = await historyText(handle);
        assert.ok(text.includes('HTTP 500'), 'the failures are in the history');
        assert.ok(text.includes('approval requested'), 'activity inputs are decoded and searched too');
        for (const secret of secrets) {
          assert.ok(!text.includes(secret), `secret found in history: ${secret.slice(0, 6)}…`);
        }
      },
    );
    assert.ok(capturedLogs.length > 0);
    for (const line of capturedLogs) {
      for (const secret of secrets)
        assert.ok(!line.includes(secret), `secret found in a log line: ${line.slice(0, 200)}`);
    }
  });
});
