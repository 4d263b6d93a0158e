import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { unservedRunbooks, type PolicyFile } from '../../src/common/policy';
import { resolveChannels } from '../../src/activities/channels';
import { scratchDir } from '../../src/local/servers';
import {
  DEFAULT_EAGER_ACTIVITIES,
  DEFAULT_WORKER_HEAP_MIB,
  defaultWorkflowCacheSize,
  loadWorkerConfig,
  redactUrl,
  tracesExportFrom,
} from '../../src/worker/config';
import { checkWorkerHeap, MIN_WORKER_HEAP_MIB } from '../../src/worker/heap-preflight';
import { ConfigurationError } from '../../src/common/errors';
import { REPO_ROOT } from '../../src/local/paths';
import { loadPolicyFile } from '../../src/worker/policy';
import { noticeRouting } from '../../src/activities/policy';
import { PAGING_NOTICE_KINDS } from '../../src/common/notice';
import { spawnNode } from '../fixtures/processes';
import { workerSizingOptions } from '../../src/worker/worker';
import { noopMetricMeter } from '@temporalio/common';
import { compileWorkerOptions, toNativeWorkerOptions } from '@temporalio/worker/lib/worker-options';
import { quietLogger } from '../fixtures/logger';

/** The worker refuses to start on a bad environment or policy, saying exactly what is wrong. */

const tmp = scratchDir('runbooks-config');
const shipped = JSON.parse(
  readFileSync(path.join(REPO_ROOT, 'policy', 'default-policy.json'), 'utf8'),
) as PolicyFile;

function policyWith(mutate: (policy: PolicyFile) => void): string {
  const policy = structuredClone(shipped);
  policy.canonicalPayloadPath = path.join(REPO_ROOT, 'policy', 'canonical-base-env.json');
  mutate(policy);
  const file = path.join(tmp, `policy-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(policy));
  return file;
}

describe('policy file', () => {
  test('the shipped policy has the seed values', () => {
    const { policy, canonicalPayload } = loadPolicyFile(
      path.join(REPO_ROOT, 'policy', 'default-policy.json'),
    );
    const restore = policy.runbooks.breakGlassRestore;
    assert.equal(restore.pause, 2 * 60_000);
    assert.equal(restore.reconciliationDeadline, 60 * 60_000);
    assert.equal(restore.postMortemDeadline, 24 * 3_600_000);
    assert.equal(policy.testOnlyShortDurations, false);
    assert.equal(Object.keys(canonicalPayload).length, 455);
  });

  test('a policy that loosens the seed is refused unless marked test-only, naming each field', () => {
    const file = policyWith((p) => {
      p.runbooks.breakGlassRestore.pause = '30s';
      p.runbooks.breakGlassRestore.reconciliationDeadline = '2h';
      p.runbooks.breakGlassRestore.postMortemDeadline = '3d';
    });
    assert.throws(
      () => loadPolicyFile(file),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        assert.match(error.message, /runbooks\.breakGlassRestore\.pause: must be at least 2m/);
        assert.match(
          error.message,
          /runbooks\.breakGlassRestore\.reconciliationDeadline: must be at most 60m/,
        );
        assert.match(error.message, /runbooks\.breakGlassRestore\.postMortemDeadline: must be at most 24h/);
        return true;
      },
    );
    const testOnly = policyWith((p) => {
      p.testOnlyShortDurations = true;
      p.runbooks.breakGlassRestore.pause = '3s';
    });
    assert.equal(loadPolicyFile(testOnly).policy.runbooks.breakGlassRestore.pause, 3_000);
  });

  test('typos, bad durations, empty rosters and bad handles are reported together', () => {
    const file = policyWith((p) => {
      p.runbooks.breakGlassRestore.approvers = [];
      p.runbooks.breakGlassRestore.pause = 'two minutes';
      (p.runbooks.breakGlassRestore as Record<string, unknown>).soleOperater = true;
      p.story = '';
    });
    assert.throws(
      () => loadPolicyFile(file),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        for (const expected of [
          /approvers: needs at least one approver/,
          /pause: must be a positive duration/,
          /soleOperater/,
          /story/,
        ]) {
          assert.match(error.message, expected);
        }
        return true;
      },
    );
  });

  test('a quorum larger than the roster, or a sole operator with a quorum, is refused', () => {
    const file = policyWith((p) => {
      p.runbooks.breakGlassRestore.quorum = 2; // one approver, sole operator
      p.runbooks.phasedReenablement.quorum = 3; // two approvers
    });
    assert.throws(
      () => loadPolicyFile(file),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        assert.match(
          error.message,
          /breakGlassRestore\.quorum: needs 2 distinct approvers but the roster has 1/,
        );
        assert.match(error.message, /breakGlassRestore\.soleOperator: cannot be true with quorum 2/);
        assert.match(
          error.message,
          /phasedReenablement\.quorum: needs 3 distinct approvers but the roster has 2/,
        );
        return true;
      },
    );
    const fine = policyWith((p) => {
      p.runbooks.phasedReenablement.quorum = 2;
    });
    assert.equal(loadPolicyFile(fine).policy.runbooks.phasedReenablement.quorum, 2);
  });

  test('signed approvals need a public key for every approver; keys must be OpenSSH lines', () => {
    const file = policyWith((p) => {
      p.runbooks.phasedReenablement.requireSignedApprovals = true;
      p.signers = {
        '@sre-lead': ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvJ sre-lead'],
        '@eng-tl': ['BEGIN PRIVATE KEY'],
      };
    });
    assert.throws(
      () => loadPolicyFile(file),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        assert.match(error.message, /signers\.@eng-tl\.0: must be an OpenSSH public key line/);
        return true;
      },
    );
    const unsigned = policyWith((p) => {
      p.runbooks.phasedReenablement.requireSignedApprovals = true;
      p.signers = { '@sre-lead': ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvJ sre-lead'] };
    });
    assert.throws(
      () => loadPolicyFile(unsigned),
      /requireSignedApprovals: needs a public key in "signers" for @eng-tl/,
    );
  });

  test('signed freeze lifts need a public key for every incident responder', () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvJ sre-lead';
    const signedLifts = (signers: Record<string, string[]>) =>
      policyWith((p) => {
        p.runbooks.incident = { ...p.runbooks.incident!, requireSignedFreezeLifts: true };
        p.signers = signers;
      });
    assert.throws(
      () => loadPolicyFile(signedLifts({ '@sre-lead': [key] })),
      /runbooks\.incident\.requireSignedFreezeLifts: needs a public key in "signers" for @dococeven/,
    );
    const { policy } = loadPolicyFile(signedLifts({ '@sre-lead': [key], '@dococeven': [key] }));
    assert.equal(policy.runbooks.incident?.requireSignedFreezeLifts, true);
    assert.equal(policy.runbooks.incident?.freezeLiftApprovalTimeout, 15 * 60_000);
  });

  test('what a policy cannot serve is named: the shipped default has no tracker channels for the backstop', () => {
    const { policy } = loadPolicyFile(path.join(REPO_ROOT, 'policy', 'default-policy.json'));
    const unserved = unservedRunbooks(policy);
    assert.deepEqual(
      unserved.map((entry) => entry.runbook),
      ['releaseRollback', 'backstop', 'backstop'],
    );
    assert.match(unserved[0]!.reason, /no runbooks\.releaseRollback section/);
    assert.match(
      unserved[1]!.reason,
      /runbooks\.backstop\.openProjectChannel names "openproject", which notifications\.channels does not define/,
    );
    assert.match(unserved[2]!.reason, /gitHubChannel names "github"/);
    const withTrackers = loadPolicyFile(
      policyWith((file) => {
        file.notifications = {
          channels: {
            log: { type: 'log' },
            openproject: { type: 'openproject', baseUrl: 'https://op.example', apiKeyEnv: 'OP_KEY' },
            github: { type: 'log' },
          },
          routes: { default: ['log'] },
        };
      }),
    );
    assert.deepEqual(
      unservedRunbooks(withTrackers.policy).map((entry) => entry.reason),
      [
        'the policy has no runbooks.releaseRollback section (the helm release, the repository and the code check)',
        'runbooks.backstop.gitHubChannel names "github", a log channel; the gate-failure search and issues needs a channel of type "github"',
      ],
    );
    assert.deepEqual(
      unservedRunbooks(
        loadPolicyFile(path.join(REPO_ROOT, 'policy', 'example-production-policy.json')).policy,
      ),
      [],
    );
  });

  test('a missing or malformed canonical payload is refused', () => {
    const missing = policyWith((p) => {
      p.canonicalPayloadPath = './nope.json';
    });
    assert.throws(() => loadPolicyFile(missing), /Cannot read the canonical payload/);
    const bad = path.join(tmp, 'bad-payload.json');
    writeFileSync(bad, JSON.stringify({ 'lower-case': 1, OK_KEY: { nested: true } }));
    const badPayload = policyWith((p) => {
      p.canonicalPayloadPath = bad;
    });
    assert.throws(() => loadPolicyFile(badPayload), /Canonical payload .* is invalid/);
  });
});

describe('example production policy', () => {
  test('validates, and names every secret it needs from the environment', () => {
    const loaded = loadPolicyFile(path.join(REPO_ROOT, 'policy', 'example-production-policy.json'));
    // Production approvals are signed: every approver of those runbooks has a public key listed.
    for (const runbook of [
      'breakGlassRestore',
      'breakGlassConsoleEdit',
      'breakGlassRebootstrap',
      'phasedReenablement',
    ] as const)
      assert.equal(loaded.policy.runbooks[runbook].requireSignedApprovals, true, runbook);
    assert.throws(
      () => resolveChannels(loaded.policy.notifications, {}),
      /SLACK_OPS_CVN_WEBHOOK_URL[\s\S]*PAGERDUTY_ROUTING_KEY[\s\S]*SMTP_PASSWORD/,
    );
    const env = Object.fromEntries(
      [
        'SLACK_OPS_CVN_WEBHOOK_URL',
        'PAGERDUTY_ROUTING_KEY',
        'SMTP_USER',
        'SMTP_PASSWORD',
        'STATUSPAGE_API_KEY',
        'GITHUB_TOKEN',
        'OPENPROJECT_API_KEY',
      ].map((name) => [name, `value-of-${name}`]),
    );
    const channels = resolveChannels(loaded.policy.notifications, env);
    assert.deepEqual(channels.names().sort(), [
      'email-oncall',
      'github',
      'log',
      'openproject',
      'pagerduty',
      'slack-ops-cvn',
      'statuspage',
    ]);
  });

  const LOG_ONLY = { channels: { log: { type: 'log' as const } }, routes: { default: ['log'] } };
  test('notice deliveries in flight: at most 500 by default, a policy may lower it, never past the ceiling', () => {
    const shippedRouting = noticeRouting(loadPolicyFile(policyWith(() => undefined)).policy);
    assert.equal(shippedRouting.maxDeliveriesInFlight, undefined, 'unset: the workflow applies 500');
    const lowered = policyWith((file) => {
      file.notifications = { ...LOG_ONLY, maxDeliveriesInFlight: 50 };
    });
    assert.equal(noticeRouting(loadPolicyFile(lowered).policy).maxDeliveriesInFlight, 50);
    for (const bad of [0, 2.5, 5_000])
      assert.throws(
        () =>
          loadPolicyFile(
            policyWith((file) => {
              file.notifications = { ...LOG_ONLY, maxDeliveriesInFlight: bad };
            }),
          ),
        /notifications\.maxDeliveriesInFlight/,
        `${bad} refused`,
      );
  });

  // Issue "fail safe and loud", point 9: its escalations are routed to log + Slack, yet each one
  // that pages reaches PagerDuty, and a policy whose pager some escalation cannot reach is refused.
  test('every escalation that pages reaches the pager, whatever its route', () => {
    const file = path.join(REPO_ROOT, 'policy', 'example-production-policy.json');
    const routing = noticeRouting(loadPolicyFile(file).policy);
    assert.deepEqual(routing.paging, ['pagerduty']);
    const routedAway = PAGING_NOTICE_KINDS.filter(
      (kind) => !(routing.routes[kind] ?? routing.routes.default ?? []).includes('pagerduty'),
    );
    assert.ok(routedAway.includes('rollback_page') && routedAway.includes('backstop_mandatory_revert'));

    const production = JSON.parse(readFileSync(file, 'utf8')) as PolicyFile;
    production.canonicalPayloadPath = path.join(REPO_ROOT, 'policy', 'canonical-base-env.json');
    production.notifications!.paging = ['slack-ops-cvn'];
    const slackOnly = path.join(tmp, 'paging-slack-only.json');
    writeFileSync(slackOnly, JSON.stringify(production));
    assert.throws(
      () => loadPolicyFile(slackOnly),
      (error: unknown) => {
        assert.match(String(error), /notifications\.paging/);
        assert.match(
          String(error),
          /a pager \(pagerduty\) that these escalations cannot reach: .*rollback_page/,
        );
        assert.match(String(error), /backstop_mandatory_revert/);
        return true;
      },
    );
  });
});

describe('worker environment', () => {
  test('DATABASE_URL is required and must be a postgres URL', () => {
    assert.throws(() => loadWorkerConfig({}), /DATABASE_URL: /);
    assert.throws(() => loadWorkerConfig({ DATABASE_URL: 'mysql://x' }), /DATABASE_URL: must be a postgres/);
    const config = loadWorkerConfig({ DATABASE_URL: 'postgres://u:p@h/db' });
    assert.equal(config.taskQueue, 'runbooks');
    assert.equal(
      redactUrl('postgres://user:s3cret@db.internal:5432/champollion'),
      'postgres://user:***@db.internal:5432/champollion',
    );
  });

  test('sizing: the cache follows the heap unless set; bad values are named', () => {
    const db = { DATABASE_URL: 'postgres://u:p@h/db' };
    assert.equal(defaultWorkflowCacheSize(4_144), 200, 'capped at 200');
    assert.equal(defaultWorkflowCacheSize(448), 99, 'a small pod: (448 - 250) / 2 MiB');
    assert.equal(defaultWorkflowCacheSize(256), 10, 'never below 10');
    const sized = loadWorkerConfig({
      ...db,
      RUNBOOKS_WORKFLOW_CACHE_SIZE: '150',
      RUNBOOKS_STICKY_QUEUE_TIMEOUT: '5s',
    });
    assert.deepEqual(sized.sizing, {
      maxCachedWorkflows: 150,
      maxConcurrentWorkflowTaskExecutions: 20,
      maxConcurrentActivityTaskExecutions: 50,
      maxEagerActivitiesPerWorkflowTask: 10,
      stickyQueueScheduleToStartTimeoutMs: 5_000,
      maxConcurrentWorkflowTaskPolls: 10,
      nonStickyToStickyPollRatio: 0.8,
    });
    assert.equal(loadWorkerConfig(db).sizing.maxCachedWorkflows, defaultWorkflowCacheSize());
    assert.throws(
      () =>
        loadWorkerConfig({
          ...db,
          RUNBOOKS_WORKFLOW_CACHE_SIZE: 'lots',
          RUNBOOKS_STICKY_QUEUE_TIMEOUT: '0s',
          RUNBOOKS_NON_STICKY_POLL_RATIO: '0',
          RUNBOOKS_MAX_EAGER_ACTIVITIES: '-1',
        }),
      (error: Error) =>
        /RUNBOOKS_MAX_EAGER_ACTIVITIES: /.test(error.message) &&
        /RUNBOOKS_WORKFLOW_CACHE_SIZE: /.test(error.message) &&
        /RUNBOOKS_STICKY_QUEUE_TIMEOUT: /.test(error.message) &&
        /RUNBOOKS_NON_STICKY_POLL_RATIO: /.test(error.message),
    );
  });

  test('sizing reaches the worker core: polls and their share on the task queue, cache, slots', () => {
    // Through the SDK's own option compilation to what its core receives: an option the SDK
    // documents but does not read (maxConcurrentWorkflowTaskPolls in 1.24) fails here.
    const { sizing } = loadWorkerConfig({
      DATABASE_URL: 'postgres://u:p@h/db',
      RUNBOOKS_WORKFLOW_CACHE_SIZE: '150',
      RUNBOOKS_WORKFLOW_TASK_POLLERS: '12',
      RUNBOOKS_NON_STICKY_POLL_RATIO: '0.75',
      RUNBOOKS_MAX_EAGER_ACTIVITIES: '6',
    });
    const native = toNativeWorkerOptions({
      ...compileWorkerOptions(
        { taskQueue: 'sizing', workflowsPath: __filename, ...workerSizingOptions(sizing) },
        quietLogger,
        noopMetricMeter,
      ),
      buildId: 'sizing-test',
    });
    assert.deepEqual(native.workflowTaskPollerBehavior, { type: 'simple-maximum', maximum: 12 });
    assert.equal(native.nonStickyToStickyPollRatio, 0.75);
    assert.equal(native.maxCachedWorkflows, 150);
    assert.equal(native.stickyQueueScheduleToStartTimeout, 10_000);
    assert.equal(native.maxEagerActivityReservationsPerWorkflowTask, 6);
    assert.deepEqual(
      [native.tuner.workflowTaskSlotSupplier, native.tuner.activityTaskSlotSupplier],
      [
        { type: 'fixed-size', numSlots: 20 },
        { type: 'fixed-size', numSlots: 50 },
      ],
    );
    assert.deepEqual(loadWorkerConfig({ DATABASE_URL: 'postgres://u:p@h/db' }).sizing, {
      ...sizing,
      maxCachedWorkflows: defaultWorkflowCacheSize(),
      maxConcurrentWorkflowTaskPolls: 10,
      nonStickyToStickyPollRatio: 0.8,
      maxEagerActivitiesPerWorkflowTask: DEFAULT_EAGER_ACTIVITIES,
    });
  });

  test('`npm run worker` gives the heap the sizing assumes (DEFAULT_WORKER_HEAP_MIB)', () => {
    // The heap is set where the process starts (package.json) and the benches and sizing read the
    // constant: one number written twice, so this keeps the two equal.
    const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const heap = /--max-old-space-size=\$\{RUNBOOKS_WORKER_HEAP_MIB:-(\d+)\}/.exec(
      manifest.scripts.worker ?? '',
    );
    assert.ok(heap, `npm run worker sets the heap from RUNBOOKS_WORKER_HEAP_MIB: ${manifest.scripts.worker}`);
    assert.equal(Number(heap[1]), DEFAULT_WORKER_HEAP_MIB);
  });

  test('observability settings: metrics address, log format and traces URL are checked and named', () => {
    const db = { DATABASE_URL: 'postgres://u@127.0.0.1:5432/db' };
    const defaults = loadWorkerConfig(db);
    assert.equal(defaults.metrics, undefined, 'no metrics endpoint unless asked');
    assert.deepEqual(defaults.log, { level: 'INFO', format: 'json' });
    assert.equal(tracesExportFrom(db), undefined, 'no tracing unless asked');
    const on = loadWorkerConfig({
      ...db,
      RUNBOOKS_METRICS_ADDRESS: '0.0.0.0:9464',
      RUNBOOKS_LOG_FORMAT: 'text',
    });
    assert.deepEqual(on.metrics, {
      address: '0.0.0.0:9464',
      visibilityIntervalMs: 30_000,
      fullListingIntervalMs: 300_000,
    });
    assert.equal(on.log.format, 'text');
    assert.throws(
      () =>
        loadWorkerConfig({
          ...db,
          RUNBOOKS_METRICS_ADDRESS: 'http://0.0.0.0:9464/metrics',
          RUNBOOKS_LOG_FORMAT: 'xml',
        }),
      (error: Error) =>
        /RUNBOOKS_METRICS_ADDRESS: host:port/.test(error.message) &&
        /RUNBOOKS_LOG_FORMAT/.test(error.message),
    );
    // The SDK core binds a socket address: a name it cannot resolve, a port out of range, and port
    // 0 (a port nobody could scrape) were taken here and failed only at start, or not at all.
    for (const address of ['localhost:9464', '0.0.0.0:99999', '0.0.0.0:0', '300.1.1.1:9464'])
      assert.throws(
        () => loadWorkerConfig({ ...db, RUNBOOKS_METRICS_ADDRESS: address }),
        /RUNBOOKS_METRICS_ADDRESS: host:port, like 0\.0\.0\.0:9464 or 127\.0\.0\.1:9464: an IP address/,
        address,
      );
    for (const address of ['127.0.0.1:9464', '[::]:9464', '[::1]:9464'])
      assert.equal(loadWorkerConfig({ ...db, RUNBOOKS_METRICS_ADDRESS: address }).metrics?.address, address);
    assert.deepEqual(tracesExportFrom({ RUNBOOKS_OTLP_TRACES_URL: 'http://127.0.0.1:4318/v1/traces' }), {
      url: 'http://127.0.0.1:4318/v1/traces',
      headers: {},
      logUrl: 'http://127.0.0.1:4318/v1/traces',
    });
    assert.throws(
      () => tracesExportFrom({ RUNBOOKS_OTLP_TRACES_URL: 'ftp://collector/v1/traces' }),
      /RUNBOOKS_OTLP_TRACES_URL: an http\(s\) URL/,
    );
  });

  test('traces: the collector is authenticated by OpenTelemetry header variables, never by the URL', () => {
    const url = 'https://collector.example:4318/v1/traces';
    // A token in the URL never worked (fetch refuses it, so every export failed) and was named in
    // every failed export's log line: refused, and the message does not repeat it.
    for (const withCredentials of [
      'https://otel:s3cret-token@collector.example:4318/v1/traces',
      'https://s3cret-token@collector.example:4318/v1/traces',
    ])
      assert.throws(
        () => tracesExportFrom({ RUNBOOKS_OTLP_TRACES_URL: withCredentials }),
        (error: Error) =>
          error instanceof ConfigurationError &&
          /RUNBOOKS_OTLP_TRACES_URL: credentials in the URL are refused/.test(error.message) &&
          /OTEL_EXPORTER_OTLP_TRACES_HEADERS=authorization=Bearer%20<token>/.test(error.message) &&
          !error.message.includes('s3cret'),
      );
    // Both variables, the traces one winning per key; values URL-decoded; names lower-cased.
    const exportTo = tracesExportFrom({
      RUNBOOKS_OTLP_TRACES_URL: `${url}?tenant=a`,
      OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20general,x-scope-orgid=ops',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=Bearer%20traces-only',
    });
    assert.deepEqual(exportTo, {
      url: `${url}?tenant=a`,
      headers: { authorization: 'Bearer traces-only', 'x-scope-orgid': 'ops' },
      logUrl: `${url} (query not shown)`,
    });
    // Each bad entry is named by its position and key, never by its value.
    assert.throws(
      () =>
        tracesExportFrom({
          RUNBOOKS_OTLP_TRACES_URL: url,
          OTEL_EXPORTER_OTLP_TRACES_HEADERS:
            'authorization=Bearer%20s3cret%,justtext,content-type=text/plain,x-empty=,bad name=s3cret',
        }),
      (error: Error) =>
        error instanceof ConfigurationError &&
        error.message ===
          'OTEL_EXPORTER_OTLP_TRACES_HEADERS: entry 1 (authorization): its value is not URL-encoded text; ' +
            'entry 2: not key=value with a header name as key; entry 3 (content-type): set by the exporter itself; ' +
            'entry 4 (x-empty): an empty value or a line break; entry 5: not key=value with a header name as key',
    );
  });

  test('Worker Versioning: deployment name and build id come together, or not at all', () => {
    const db = { DATABASE_URL: 'postgres://u@h/db' };
    assert.equal(loadWorkerConfig(db).deployment, undefined, 'unversioned by default');
    assert.deepEqual(
      loadWorkerConfig({
        ...db,
        RUNBOOKS_DEPLOYMENT_NAME: 'durable-runbooks',
        RUNBOOKS_BUILD_ID: '2026.12.02-a1b2c3d',
      }).deployment,
      { deploymentName: 'durable-runbooks', buildId: '2026.12.02-a1b2c3d' },
    );
    assert.throws(
      () => loadWorkerConfig({ ...db, RUNBOOKS_DEPLOYMENT_NAME: 'durable-runbooks' }),
      /RUNBOOKS_BUILD_ID: is required with RUNBOOKS_DEPLOYMENT_NAME/,
    );
    assert.throws(
      () => loadWorkerConfig({ ...db, RUNBOOKS_DEPLOYMENT_NAME: 'x', RUNBOOKS_BUILD_ID: 'has spaces' }),
      /RUNBOOKS_BUILD_ID: letters, digits/,
    );
  });

  test("the heap: RUNBOOKS_WORKER_HEAP_MIB is checked and named; a heap below the worker's floor is refused, one the variable did not reach is a warning", () => {
    const db = { DATABASE_URL: 'postgres://u@127.0.0.1:5432/db' };
    for (const [value, message] of [
      ['abc', /RUNBOOKS_WORKER_HEAP_MIB: Invalid input: expected number/],
      ['2.5', /RUNBOOKS_WORKER_HEAP_MIB: a whole number of MiB/],
      ['16', /RUNBOOKS_WORKER_HEAP_MIB: at least 128 MiB \(with 96/],
      ['100000', /RUNBOOKS_WORKER_HEAP_MIB: at most 65536 MiB/],
    ] as const)
      assert.throws(() => loadWorkerConfig({ ...db, RUNBOOKS_WORKER_HEAP_MIB: value }), message, value);
    assert.doesNotThrow(() => loadWorkerConfig({ ...db, RUNBOOKS_WORKER_HEAP_MIB: '384' }));
    // Node's heap limit is the old space and 48 MiB of young generation.
    assert.match(
      checkWorkerHeap({}, 64 + 48).error ?? '',
      /heap is 64 MiB .* at least 128\. Set RUNBOOKS_WORKER_HEAP_MIB/,
    );
    assert.deepEqual(checkWorkerHeap({}, 128 + 48), {});
    assert.deepEqual(checkWorkerHeap({ RUNBOOKS_WORKER_HEAP_MIB: '384' }, 384 + 48), {});
    assert.match(
      checkWorkerHeap({ RUNBOOKS_WORKER_HEAP_MIB: '384' }, 4096 + 48).warning ?? '',
      /^RUNBOOKS_WORKER_HEAP_MIB=384 did not reach this process, whose heap is 4096 MiB/,
    );
    assert.equal(MIN_WORKER_HEAP_MIB, 128);
  });

  test('the worker process exits 1 with a readable message and no stack trace', async () => {
    // A heap meant as GiB (16): refused before the SDK is loaded, where Node died out of memory.
    const tinyHeap = spawnNode('dist/src/worker/main.js', [], {
      DATABASE_URL: 'postgres://u@127.0.0.1:1/db',
      NODE_OPTIONS: '--max-old-space-size=16',
    });
    assert.equal(await tinyHeap.exited(), 1);
    assert.match(
      tinyHeap.output(),
      /^runbooks worker: the worker's heap is 16 MiB \(--max-old-space-size\); it needs at least 128/m,
    );
    assert.doesNotMatch(tinyHeap.output(), /out of memory|\n\s+at /);

    const noDb = spawnNode('dist/src/worker/main.js', [], { DATABASE_URL: undefined });
    assert.equal(await noDb.exited(), 1);
    assert.match(noDb.output(), /runbooks worker: Worker environment is invalid:\n\s+DATABASE_URL:/);
    assert.doesNotMatch(noDb.output(), /\n\s+at /, 'no stack trace');

    const badPolicy = policyWith((p) => {
      p.runbooks.breakGlassRestore.pause = '1s';
    });
    const withBadPolicy = spawnNode('dist/src/worker/main.js', [], {
      DATABASE_URL: 'postgres://u:secret-password@127.0.0.1:1/db',
      RUNBOOKS_POLICY_FILE: badPolicy,
    });
    assert.equal(await withBadPolicy.exited(), 1);
    assert.match(withBadPolicy.output(), /pause: must be at least 2m/);
    assert.doesNotMatch(withBadPolicy.output(), /\n\s+at /);

    // A bad traces URL is said before anything is connected (the database here is unreachable).
    const badTraces = spawnNode('dist/src/worker/main.js', [], {
      DATABASE_URL: 'postgres://u:secret-password@127.0.0.1:1/db',
      RUNBOOKS_OTLP_TRACES_URL: 'collector:4318',
    });
    assert.equal(await badTraces.exited(), 1);
    assert.match(badTraces.output(), /runbooks worker: RUNBOOKS_OTLP_TRACES_URL: an http\(s\) URL/);

    const unreachable = spawnNode('dist/src/worker/main.js', [], {
      DATABASE_URL: 'postgres://u:secret-password@127.0.0.1:1/db',
    });
    assert.equal(await unreachable.exited(), 1);
    assert.match(
      unreachable.output(),
      /Cannot reach the target database postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db/,
    );
    assert.doesNotMatch(unreachable.output(), /secret-password/, 'the password is never printed');

    // A metrics port another process holds is said as the setting that named it.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const taken = `127.0.0.1:${(holder.address() as AddressInfo).port}`;
      const portTaken = spawnNode('dist/src/worker/main.js', [], {
        DATABASE_URL: 'postgres://u:secret-password@127.0.0.1:1/db',
        RUNBOOKS_METRICS_ADDRESS: taken,
      });
      assert.equal(await portTaken.exited(), 1);
      assert.match(
        portTaken.output(),
        new RegExp(
          `runbooks worker: RUNBOOKS_METRICS_ADDRESS ${taken}: the metrics endpoint cannot listen there \\(.*Address already in use`,
        ),
      );
      assert.doesNotMatch(portTaken.output(), /\n\s+at /, 'no stack trace');
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});
