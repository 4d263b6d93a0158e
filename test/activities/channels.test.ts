import assert from 'node:assert/strict';
import { freePort } from '../../src/local/servers';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities, type RunbookActivities } from '../../src/activities';
import { resolveChannels } from '../../src/activities/channels';
import type { Notice } from '../../src/common/notice';
import { scratchDir } from '../../src/local/servers';
import { ConfigurationError } from '../../src/common/errors';
import {
  channelSecrets,
  policyWithChannels,
  secretValues,
  startSinks,
  type Sinks,
} from '../fixtures/channels';
import { createTestDatabase, type TestDatabase } from '../fixtures/database';
import { activityDeps, declareStory } from '../fixtures/policy';
import type { LoadedPolicy } from '../../src/worker/policy';
import {
  GITHUB_REPOSITORY,
  PAGERDUTY_ROUTING_KEY,
  SLACK_WEBHOOK_PATH,
  STATUSPAGE_API_KEY,
} from '../fixtures/sinks/apis';
import { SMTP_USER } from '../fixtures/sinks/smtp';
import { deliveryMarker } from '../../src/activities/trackers/github';

/**
 * Every channel against its local stand-in over the real protocol: the payload the API expects,
 * the classification of 5xx / 429 (retryable, Retry-After honoured) versus other 4xx
 * (non-retryable, named), timeouts, and at-most-once delivery per delivery key.
 */

const tmp = scratchDir('runbooks-channels');
let db: TestDatabase;
let sinks: Sinks;
let channelPolicy: LoadedPolicy;
let activities: RunbookActivities;
let secrets: string[];
const quiet = new DefaultLogger('WARN');

before(async () => {
  [db, sinks] = await Promise.all([createTestDatabase(), startSinks(tmp)]);
  channelPolicy = policyWithChannels(tmp, sinks);
  activities = createActivities(activityDeps(channelPolicy, db.pool, channelSecrets(sinks)));
  secrets = secretValues(sinks);
});

after(async () => {
  await sinks?.stop();
  await db?.drop();
});

beforeEach(async () => {
  sinks.reset();
  await db.reset();
  await db.pool.query('TRUNCATE runbook_deliveries');
});

function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment({}, { logger: quiet }).run(fn, ...args);
}

let sequence = 0;
function notice(overrides: Partial<Notice> = {}): Notice {
  sequence += 1;
  return {
    deliveryKey: `break-glass-restore-INC-9/run-1/notice-${sequence}-approval_request`,
    runbook: 'breakGlassRestore',
    incidentId: 'INC-9',
    workflowId: 'break-glass-restore-INC-9',
    kind: 'approval_request',
    severity: 'warning',
    audience: 'approvers',
    subject: '[break-glass A INC-9] approval requested by @alice',
    body: "Plan: restore history id 5; it's urgent -- the sweep restarts",
    details: [
      { label: 'Target', value: 'history id 5 (version 2026.10.30-1)' },
      { label: 'Changed keys', value: '1' },
    ],
    code: [
      { label: 'planHash', text: 'a'.repeat(64) },
      {
        label: 'Approval line',
        text: "event=break_glass_approval incident_id=INC-9 story=CVN-N001-EE-S17 rationale='x' approver=@<approver>",
      },
    ],
    recipients: ['@dococeven', '@oncall-lead'],
    ...overrides,
  };
}

/** Asserts a Temporal ApplicationFailure of `type`, and that no secret leaked into its message. */
function failure(type: string, check: (error: ApplicationFailure) => void = () => undefined) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    assert.equal(error.type, type, error.message);
    for (const secret of secrets)
      assert.ok(!error.message.includes(secret), `secret leaked into: ${error.message}`);
    check(error);
    return true;
  };
}

describe('Slack incoming webhook', () => {
  test('posts text plus blocks: plan summary fields, the approval line and planHash as code', async () => {
    const n = notice();
    const receipt = await run(activities.notifySlack, { channel: 'slack-incidents', notice: n });
    assert.equal(receipt.duplicate, false);
    assert.equal(sinks.slack.requests.length, 1);
    const request = sinks.slack.requests[0]!;
    assert.equal(request.path, SLACK_WEBHOOK_PATH);
    assert.equal(request.headers['content-type'], 'application/json');
    const body = request.json as {
      text: string;
      blocks: { type: string; text?: { text: string }; fields?: { text: string }[] }[];
    };
    assert.match(body.text, /approval requested/);
    assert.deepEqual(
      body.blocks.map((b) => b.type),
      ['header', 'section', 'section', 'section', 'section', 'context'],
    );
    assert.match(body.blocks[2]!.fields!.map((f) => f.text).join('\n'), /\*Changed keys\*\n1/);
    assert.match(body.blocks[3]!.text!.text, /```a{64}```/);
    assert.match(body.blocks[4]!.text!.text, /event=break_glass_approval incident_id=INC-9/);
  });

  test('a retry after a successful send does not post again', async () => {
    const n = notice();
    await run(activities.notifySlack, { channel: 'slack-incidents', notice: n });
    const again = await run(activities.notifySlack, { channel: 'slack-incidents', notice: n });
    assert.equal(again.duplicate, true);
    assert.equal(sinks.slack.requests.length, 1);
  });

  test('500 and 429 are retryable (Retry-After becomes the next retry delay); 400 is not, and is named', async () => {
    sinks.slack.respondNext({ status: 500, body: 'internal_error' });
    await assert.rejects(
      run(activities.notifySlack, { channel: 'slack-incidents', notice: notice() }),
      failure('ChannelUnavailable', (e) => {
        assert.equal(e.nonRetryable, false);
        assert.match(e.message, /^slack-incidents: post Slack message: HTTP 500/);
      }),
    );
    sinks.slack.respondNext({ status: 429, headers: { 'Retry-After': '7' }, body: 'rate_limited' });
    await assert.rejects(
      run(activities.notifySlack, { channel: 'slack-incidents', notice: notice() }),
      failure('ChannelUnavailable', (e) => assert.equal(e.nextRetryDelay, 7_000)),
    );
    sinks.slack.respondNext({ status: 400, body: 'invalid_blocks' });
    await assert.rejects(
      run(activities.notifySlack, { channel: 'slack-incidents', notice: notice() }),
      failure('ChannelRejected', (e) => {
        assert.equal(e.nonRetryable, true);
        assert.equal(e.message, 'slack-incidents: post Slack message: HTTP 400 Bad Request: invalid_blocks');
      }),
    );
  });

  test('a hanging endpoint times out (retryable) without leaking the webhook URL', async () => {
    sinks.slack.respondNext('hang');
    const started = Date.now();
    await assert.rejects(
      run(activities.notifySlack, { channel: 'slack-incidents', notice: notice() }),
      failure('ChannelUnavailable', (e) => assert.match(e.message, /no response within 2000 ms/)),
    );
    assert.ok(Date.now() - started < 5_000);
  });
});

describe('PagerDuty Events API v2', () => {
  test('trigger carries routing_key, a workflow/step dedup_key, summary, severity and source', async () => {
    const n = notice({
      kind: 'reconciliation_missed',
      severity: 'critical',
      audience: 'escalation',
      subject: '[break-glass A INC-9] ESCALATION: reconciling Console write missed',
      page: { action: 'trigger', dedupKey: 'break-glass-restore-INC-9/reconciliation' },
    });
    const receipt = await run(activities.notifyPagerDuty, { channel: 'pagerduty', notice: n });
    assert.equal(receipt.reference, 'break-glass-restore-INC-9/reconciliation');
    const event = sinks.pagerDuty.requests[0]!.json as {
      routing_key: string;
      event_action: string;
      payload: { severity: string; source: string; summary: string };
    };
    assert.equal(event.routing_key, PAGERDUTY_ROUTING_KEY);
    assert.equal(event.event_action, 'trigger');
    assert.equal(event.payload.severity, 'critical');
    assert.equal(event.payload.source, 'durable-runbooks');
    assert.match(event.payload.summary, /ESCALATION/);
  });

  test('a retried trigger does not page twice (dedup_key), and resolve closes the alert', async () => {
    const page = { action: 'trigger' as const, dedupKey: 'wf-1/post-mortem' };
    const n = notice({ kind: 'post_mortem_missed', severity: 'critical', page });
    await run(activities.notifyPagerDuty, { channel: 'pagerduty', notice: n });
    await run(activities.notifyPagerDuty, { channel: 'pagerduty', notice: n });
    assert.equal(sinks.pagerDuty.alerts.size, 1);
    assert.equal(sinks.pagerDuty.alerts.get('wf-1/post-mortem')!.status, 'triggered');
    await run(activities.notifyPagerDuty, {
      channel: 'pagerduty',
      notice: notice({ page: { action: 'resolve', dedupKey: 'wf-1/post-mortem' } }),
    });
    assert.equal(sinks.pagerDuty.alerts.get('wf-1/post-mortem')!.status, 'resolved');
    assert.equal(
      sinks.pagerDuty.requests.at(-1)!.json &&
        (sinks.pagerDuty.requests.at(-1)!.json as Record<string, unknown>).payload,
      undefined,
    );
  });

  test("an invalid event is rejected non-retryably with PagerDuty's reason; 429 is retried", async () => {
    sinks.pagerDuty.respondNext({
      status: 400,
      body: {
        status: 'invalid event',
        message: 'Event object is invalid',
        errors: ["'routing_key' does not match an integration"],
      },
    });
    await assert.rejects(
      run(activities.notifyPagerDuty, { channel: 'pagerduty', notice: notice() }),
      failure('ChannelRejected', (e) =>
        assert.match(e.message, /pagerduty: trigger PagerDuty event: HTTP 400 .*routing_key/),
      ),
    );
    sinks.pagerDuty.respondNext({ status: 429, headers: { 'Retry-After': '3' } });
    await assert.rejects(
      run(activities.notifyPagerDuty, { channel: 'pagerduty', notice: notice() }),
      failure('ChannelUnavailable', (e) => assert.equal(e.nextRetryDelay, 3_000)),
    );
  });
});

describe('email over SMTP', () => {
  test('STARTTLS + AUTH; an approval request goes to the roster (directory), once per delivery key', async () => {
    const n = notice();
    const receipt = await run(activities.notifyEmail, { channel: 'email-oncall', notice: n });
    await run(activities.notifyEmail, { channel: 'email-oncall', notice: n });
    assert.equal(sinks.smtp.messages.length, 1);
    const mail = sinks.smtp.messages[0]!;
    assert.equal(mail.secure, true, 'upgraded with STARTTLS');
    assert.equal(mail.authenticatedAs, SMTP_USER);
    assert.deepEqual(mail.to.sort(), ['dococeven@example.com', 'oncall-lead@example.com']);
    assert.match(mail.subject, /approval requested/);
    assert.equal(mail.messageId, receipt.reference);
    assert.match(mail.text, /event=break_glass_approval incident_id=INC-9 story=CVN-N001-EE-S17/);
    assert.match(mail.text, /it's urgent -- the sweep restarts/);
  });

  test('notices not addressed to people go to the channel recipients', async () => {
    await run(activities.notifyEmail, {
      channel: 'email-oncall',
      notice: notice({ recipients: undefined, audience: 'escalation' }),
    });
    assert.deepEqual(sinks.smtp.messages[0]!.to, ['oncall@example.com']);
  });

  test('451 is retryable, 550 is not', async () => {
    sinks.smtp.rejectNext(451);
    await assert.rejects(
      run(activities.notifyEmail, { channel: 'email-oncall', notice: notice() }),
      failure('ChannelUnavailable', (e) => assert.match(e.message, /SMTP 451/)),
    );
    sinks.smtp.rejectNext(550);
    await assert.rejects(
      run(activities.notifyEmail, { channel: 'email-oncall', notice: notice() }),
      failure('ChannelRejected', (e) => {
        assert.equal(e.nonRetryable, true);
        assert.match(e.message, /email-oncall: send email to .*: SMTP 550/);
      }),
    );
  });
});

describe('generic webhook', () => {
  test('POSTs the notice as JSON with an Idempotency-Key, once', async () => {
    const n = notice();
    await run(activities.notifyWebhook, { channel: 'webhook', notice: n });
    await run(activities.notifyWebhook, { channel: 'webhook', notice: n });
    assert.equal(sinks.webhook.requests.length, 1);
    const request = sinks.webhook.requests[0]!;
    assert.equal(request.headers['idempotency-key'], n.deliveryKey);
    assert.equal((request.json as { notice: Notice }).notice.deliveryKey, n.deliveryKey);
  });
});

describe('status page', () => {
  test('create, update, resolve one incident; a repeated create returns the first answer and posts nothing', async () => {
    const key = 'rollback-to-pilot-INC-9/status-page';
    const created = await run(activities.updateStatusPage, {
      channel: 'statuspage',
      incidentKey: key,
      action: 'create',
      name: 'Degraded code reviews',
      status: 'investigating',
      body: 'We are rolling back to the pilot scope.',
    });
    const again = await run(activities.updateStatusPage, {
      channel: 'statuspage',
      incidentKey: key,
      action: 'create',
      name: 'Degraded code reviews',
      status: 'investigating',
      body: 'We are rolling back to the pilot scope.',
    });
    assert.equal(created.created, true);
    // A retry after the commit: the first answer, and no second post (create or update).
    assert.deepEqual(again, created);
    assert.equal(sinks.statusPage.incidents.size, 1);
    assert.equal([...sinks.statusPage.incidents.values()][0]!.updates, 1);
    // An update is posted once per update key, however often it is retried.
    const update = {
      channel: 'statuspage',
      incidentKey: key,
      action: 'update' as const,
      name: 'x',
      status: 'identified' as const,
      body: 'Cause found.',
      updateKey: `${key}/update-1`,
    };
    assert.deepEqual(
      await run(activities.updateStatusPage, update),
      await run(activities.updateStatusPage, update),
    );
    assert.equal([...sinks.statusPage.incidents.values()][0]!.updates, 2);
    await run(activities.updateStatusPage, {
      channel: 'statuspage',
      incidentKey: key,
      action: 'resolve',
      name: 'x',
      status: 'resolved',
      body: 'Recovered.',
    });
    const incident = [...sinks.statusPage.incidents.values()][0]!;
    assert.equal(incident.status, 'resolved');
    assert.equal(sinks.statusPage.requests[0]!.headers.authorization, `OAuth ${STATUSPAGE_API_KEY}`);
  });
});

describe('GitHub', () => {
  test('creates an issue with labels once, even if the local record of it is lost', async () => {
    const input = {
      channel: 'github',
      title: '[gate-failure] CVN-N001-EE-S17 not shipped at T+90',
      body: 'Decide: waiver, revert or park.',
      labels: ['gate-failure'],
      deliveryKey: 'backstop-S17/t90/gate-failure',
    };
    const first = await run(activities.createGitHubIssue, input);
    await db.pool.query('TRUNCATE runbook_deliveries'); // as if the activity died after GitHub answered
    const second = await run(activities.createGitHubIssue, input);
    assert.equal(first.created, true);
    assert.equal(second.created, false);
    assert.equal(second.number, first.number);
    assert.equal(sinks.gitHub.issues.length, 1);
    assert.deepEqual(sinks.gitHub.issues[0]!.labels, ['gate-failure']);
    const request = sinks.gitHub.requests.find((r) => r.method === 'POST')!;
    assert.equal(request.path, `/repos/${GITHUB_REPOSITORY}/issues`);
    assert.equal(request.headers['x-github-api-version'], '2022-11-28');
  });

  test('searches by label and text; comments once', async () => {
    await run(activities.createGitHubIssue, {
      channel: 'github',
      title: '[gate-failure] S17',
      body: 'story CVN-N001-EE-S17',
      labels: ['gate-failure'],
      deliveryKey: 'k1',
    });
    await run(activities.createGitHubIssue, {
      channel: 'github',
      title: 'unrelated',
      body: 'story CVN-N001-EE-S18',
      labels: ['bug'],
      deliveryKey: 'k2',
    });
    const found = await run(activities.searchGitHubIssues, {
      channel: 'github',
      labels: ['gate-failure'],
      text: 'CVN-N001-EE-S17',
    });
    assert.deepEqual(
      found.map((i) => i.title),
      ['[gate-failure] S17'],
    );
    const comment = {
      channel: 'github',
      issueNumber: found[0]!.number,
      body: 'post-mortem draft',
      deliveryKey: 'k3',
    };
    await run(activities.commentOnGitHubIssue, comment);
    await db.pool.query('TRUNCATE runbook_deliveries');
    await run(activities.commentOnGitHubIssue, comment);
    assert.equal(sinks.gitHub.issues[0]!.comments.length, 1);
  });

  test("422 is non-retryable and names the channel, status and GitHub's message; 502 is retried", async () => {
    sinks.gitHub.respondNext({
      status: 422,
      body: { message: 'Validation Failed', errors: [{ code: 'invalid' }] },
    });
    await assert.rejects(
      run(activities.searchGitHubIssues, { channel: 'github', labels: ['gate-failure'] }),
      failure('ChannelRejected', (e) =>
        assert.match(e.message, /^github: search issues: HTTP 422 .*Validation Failed/),
      ),
    );
    sinks.gitHub.respondNext({ status: 502, body: 'Bad Gateway' });
    await assert.rejects(
      run(activities.searchGitHubIssues, { channel: 'github', labels: ['x'] }),
      failure('ChannelUnavailable'),
    );
  });
});

describe('OpenProject API v3', () => {
  test('reads a work package status, lists children by the parent filter, comments once', async () => {
    const wp = await run(activities.getWorkPackage, { channel: 'openproject', id: 153 });
    assert.equal(wp.status, 'Closed');
    const children = await run(activities.listChildWorkPackages, { channel: 'openproject', parentId: 149 });
    assert.deepEqual(
      children.map((c) => [c.id, c.status]),
      [
        [153, 'Closed'],
        [160, 'In progress'],
      ],
    );
    const filters = sinks.openProject.requests.find((r) => r.query.has('filters'))!.query.get('filters');
    assert.deepEqual(JSON.parse(filters!), [{ parent: { operator: '=', values: ['149'] } }]);

    const comment = {
      channel: 'openproject',
      workPackageId: 153,
      markdown: '## Break-glass post-mortem',
      deliveryKey: 'wf/run/post-mortem-draft',
    };
    await run(activities.commentOnWorkPackage, comment);
    await db.pool.query('TRUNCATE runbook_deliveries');
    await run(activities.commentOnWorkPackage, comment);
    const comments = sinks.openProject.workPackages.get(153)!.comments;
    assert.equal(comments.length, 1);
    assert.match(comments[0]!, /^## Break-glass post-mortem/);
    const post = sinks.openProject.requests.find((r) => r.method === 'POST')!;
    assert.deepEqual(Object.keys(post.json as object), ['comment']);
  });

  test('a wrong API key is a clear non-retryable error; an unknown work package too', async () => {
    const wrong = createActivities(
      activityDeps(policyWithChannels(tmp, sinks), db.pool, {
        ...channelSecrets(sinks),
        OPENPROJECT_API_KEY: 'wrong-key-123',
      }),
    );
    await assert.rejects(
      run(wrong.getWorkPackage, { channel: 'openproject', id: 153 }),
      failure('ChannelRejected', (e) => assert.match(e.message, /HTTP 401 .*correct credentials/)),
    );
    await assert.rejects(
      run(activities.getWorkPackage, { channel: 'openproject', id: 999 }),
      failure('ChannelRejected', (e) => assert.match(e.message, /HTTP 404/)),
    );
  });
});

describe('tracker responses: read whole across pages, checked for shape', () => {
  test('250 issues, 250 children and 250 comments are read whole (pages of 100)', async () => {
    const { issues } = sinks.gitHub;
    for (let n = 1; n <= 250; n++)
      issues.push({
        number: issues.length + 1,
        title: `[gate-failure] S250 #${n}`,
        body: n === 1 ? `oldest ${deliveryMarker('old-issue-key')}` : 'story CVN-S250',
        labels: ['gate-failure'],
        state: 'open',
        comments: [],
      });
    const found = await run(activities.searchGitHubIssues, {
      channel: 'github',
      labels: ['gate-failure'],
      text: 'S250',
    });
    assert.equal(found.length, 250);
    assert.deepEqual(
      sinks.gitHub.requests.filter((r) => r.path === '/search/issues').map((r) => r.query.get('page')),
      ['1', '2', '3'],
    );
    // The oldest issue (the last of three pages, newest first) carries a delivery's marker: found, not opened again.
    const receipt = await run(activities.createGitHubIssue, {
      channel: 'github',
      title: 'again',
      body: 'x',
      labels: ['gate-failure'],
      deliveryKey: 'old-issue-key',
    });
    assert.deepEqual([receipt.number, receipt.created], [1, false]);
    assert.equal(issues.length, 250);

    const target = issues[0]!;
    for (let n = 1; n <= 250; n++)
      target.comments.push({ id: 10_000 + n, body: n === 1 ? deliveryMarker('old-comment') : `c${n}` });
    const comment = await run(activities.commentOnGitHubIssue, {
      channel: 'github',
      issueNumber: target.number,
      body: 'again',
      deliveryKey: 'old-comment',
    });
    assert.equal(comment.created, false);
    assert.equal(target.comments.length, 250);

    for (let n = 0; n < 250; n++)
      sinks.openProject.workPackages.set(5_000 + n, {
        id: 5_000 + n,
        subject: `child ${n}`,
        status: 'New',
        parentId: 149,
        comments: [],
      });
    const children = await run(activities.listChildWorkPackages, { channel: 'openproject', parentId: 149 });
    assert.equal(children.filter((c) => c.id >= 5_000).length, 250);
    assert.equal(new Set(children.map((c) => c.id)).size, children.length, 'no page read twice');
  });

  test('a response of another shape fails naming the API, the operation and the field', async () => {
    sinks.gitHub.respondNext({
      status: 200,
      body: { total_count: 1, items: [{ number: 'seven', title: 't' }] },
    });
    await assert.rejects(
      run(activities.searchGitHubIssues, { channel: 'github', labels: ['gate-failure'] }),
      failure('ChannelRejected', (e) => {
        assert.match(
          e.message,
          /^github: search issues: HTTP 200 but the response does not have the expected shape: /,
        );
        assert.match(e.message, /items\.0\.number: /);
        assert.match(e.message, /items\.0\.state: /);
      }),
    );
    sinks.openProject.respondNext({ status: 200, body: { _type: 'WorkPackage', id: 153 } });
    await assert.rejects(
      run(activities.getWorkPackage, { channel: 'openproject', id: 153 }),
      failure('ChannelRejected', (e) =>
        assert.match(e.message, /openproject: read work package 153: .*subject: /),
      ),
    );
  });
});

describe('backstop reads (seed 001 §6.bis)', () => {
  test('OpenProject 503 on the children query is retryable; the gate-failure search honours the repository', async () => {
    sinks.openProject.respondNext({ status: 503, body: 'Service Unavailable' });
    await assert.rejects(
      run(activities.listChildWorkPackages, { channel: 'openproject', parentId: 149 }),
      failure('ChannelUnavailable', (e) =>
        assert.match(e.message, /list children of work package 149: HTTP 503/),
      ),
    );
    const found = await run(activities.searchGitHubIssues, {
      channel: 'github',
      repository: GITHUB_REPOSITORY,
      labels: ['gate-failure'],
      text: 'CVN-N001-EE-S17',
      state: 'all',
    });
    assert.deepEqual(found, []);
    const q = sinks.gitHub.requests.at(-1)!.query.get('q')!;
    assert.match(q, new RegExp(`repo:${GITHUB_REPOSITORY} is:issue label:"gate-failure" "CVN-N001-EE-S17"`));
    await assert.rejects(
      run(activities.searchGitHubIssues, { channel: 'github', repository: 'not a repo', labels: ['x'] }),
      failure('InvalidInput', (e) => assert.match(e.message, /repository/)),
    );
  });

  test('the Console restore probe: live on a 2xx; a redirect, 401, 5xx, refused connection and a hang are "not live", never thrown', async () => {
    const closedPort = await freePort(); // nothing listens there
    // Only URLs the policy declares are probed (a run's input never chooses one).
    for (const [story, url] of [
      ['CVN-PROBE-1', `${sinks.webhook.url}/config`],
      ['CVN-PROBE-2', `http://127.0.0.1:${closedPort}/config`],
    ] as const)
      declareStory(channelPolicy, story, {
        dri: '@dococeven',
        openProject: { epicId: 149, storyWorkPackageId: 153 },
        github: { repository: GITHUB_REPOSITORY },
        consoleRestoreProbeUrl: url,
      });
    await assert.rejects(
      run(activities.probeUrl, { url: `${sinks.webhook.url}/anything-else`, timeoutMs: 2_000 }),
      failure('UrlNotInPolicy', (e) => assert.match(e.message, /is not a URL this worker's policy declares/)),
    );
    assert.equal(sinks.webhook.requests.length, 0, 'an undeclared URL is never called');
    sinks.webhook.respondNext({ status: 200, body: 'ok' });
    const live = await run(activities.probeUrl, { url: `${sinks.webhook.url}/config`, timeoutMs: 2_000 });
    assert.equal(live.up, true);
    sinks.webhook.respondNext({ status: 502, body: 'Bad Gateway' });
    const down = await run(activities.probeUrl, { url: `${sinks.webhook.url}/config`, timeoutMs: 2_000 });
    assert.deepEqual([down.up, down.status], [false, 502]);
    const refused = await run(activities.probeUrl, {
      url: `http://127.0.0.1:${closedPort}/config`,
      timeoutMs: 2_000,
    });
    assert.equal(refused.up, false);
    assert.equal(refused.error, 'ECONNREFUSED');
    sinks.webhook.respondNext('hang');
    const hung = await run(activities.probeUrl, { url: `${sinks.webhook.url}/config`, timeoutMs: 300 });
    assert.equal(hung.up, false);
    assert.match(hung.error!, /no response within 300 ms/);
    assert.match(hung.checkedAt, /Z$/);
    // Issue "fail safe and loud", point 11: a redirect to an SSO login page is not live (it used to
    // count as up, like anything below 400), nor is an auth failure; the redirect is not followed.
    const before = sinks.webhook.requests.length;
    sinks.webhook.respondNext({ status: 302, headers: { location: `${sinks.webhook.url}/sso/login` } });
    const redirected = await run(activities.probeUrl, {
      url: `${sinks.webhook.url}/config`,
      timeoutMs: 2_000,
    });
    assert.deepEqual([redirected.up, redirected.status], [false, 302]);
    assert.equal(sinks.webhook.requests.length, before + 1, 'the login page was not fetched');
    sinks.webhook.respondNext({ status: 401, body: 'Unauthorized' });
    const unauthorised = await run(activities.probeUrl, {
      url: `${sinks.webhook.url}/config`,
      timeoutMs: 2_000,
    });
    assert.deepEqual([unauthorised.up, unauthorised.status], [false, 401]);
    sinks.webhook.respondNext({ status: 204 });
    const noContent = await run(activities.probeUrl, {
      url: `${sinks.webhook.url}/config`,
      timeoutMs: 2_000,
    });
    assert.deepEqual([noContent.up, noContent.status], [true, 204]);
    await assert.rejects(
      run(activities.probeUrl, { url: 'file:///etc/passwd', timeoutMs: 1_000 }),
      failure('InvalidInput'),
    );
  });
});

describe('channel configuration', () => {
  test('missing secrets are all reported at worker start, by variable and channel', () => {
    const policy = policyWithChannels(tmp, sinks);
    assert.throws(
      () =>
        resolveChannels(policy.policy.notifications, {
          SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/x',
        }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        for (const variable of [
          'PAGERDUTY_ROUTING_KEY',
          'SMTP_PASSWORD',
          'GITHUB_TOKEN',
          'OPENPROJECT_API_KEY',
          'STATUSPAGE_API_KEY',
        ]) {
          assert.match(error.message, new RegExp(variable));
        }
        assert.doesNotMatch(error.message, /SLACK_WEBHOOK_URL/);
        return true;
      },
    );
  });

  test('a secret in the policy instead of a variable name, or a route to an unknown channel, is refused', () => {
    assert.throws(
      () =>
        policyWithChannels(tmp, sinks, {
          overrides: (p) => {
            p.notifications!.channels['slack-incidents'] = {
              type: 'slack',
              webhookUrlEnv: 'https://hooks.slack.com/services/T/B/x',
            };
            p.notifications!.routes.approval_request = ['log', 'teams'];
          },
        }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        assert.match(error.message, /webhookUrlEnv: must be the NAME of an environment variable/);
        assert.match(error.message, /routes\.approval_request\.1: channel "teams" is not defined/);
        return true;
      },
    );
  });
});
