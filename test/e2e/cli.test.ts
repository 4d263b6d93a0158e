import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { scratchDir } from '../../src/local/servers';
import { renderStatus } from '../../src/cli/status';
import { findCommand } from '../../src/cli/registry';
import { RUNBOOK_NAMES } from '../../src/client/runbooks';
import * as workflows from '../../src/workflows';
import { spawnNode } from '../fixtures/processes';

/**
 * The CLI refuses bad options before connecting to Temporal: the address below has nothing
 * listening, so any answer other than the validation message would be a connection error.
 */
const env = { TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_NAMESPACE: 'default' };

async function cli(...args: string[]): Promise<{ code: number | null; output: string }> {
  const run = spawnNode('dist/src/cli/main.js', args, env);
  const code = await run.exited();
  return { code, output: run.output() };
}

describe('CLI validation (no server needed)', () => {
  test('every start command is known and names each bad field', async () => {
    const cases: [string[], RegExp[]][] = [
      [
        ['start-console-edit', '--incident', 'INC-1', '--model', 'BAD'],
        [/--model \(model\): must be one of XGB/, /--value \(newValue\)/],
      ],
      [
        ['start-overwrite-recovery', '--incident', 'INC-1'],
        [/--requested-by \(requestedBy\)/, /--rationale \(rationale\)/],
      ],
      [['start-rebootstrap', '--incident', 'bad id!'], [/--incident \(incidentId\)/]],
      [
        [
          'start-rollback',
          '--incident',
          'INC-1',
          '--severity',
          'P9',
          '--ic',
          'no body',
          '--facts',
          '{"crashLoopMinutes":"x"}',
        ],
        [
          /--severity \(severity\)/,
          /--reason \(reason\)/,
          /--ic \(incidentCommander\)/,
          /--facts crashLoopMinutes \(facts\.crashLoopMinutes\)/,
        ],
      ],
      [['start-rollback', '--incident', 'INC-1', '--facts', '{not json'], [/--facts: not valid JSON/]],
      [
        [
          'start-reenablement',
          '--incident',
          'INC-1',
          '--requested-by',
          '@a',
          '--pilot',
          'p',
          '--canary',
          'Bad_Repo',
          '--canary-hold',
          'soon',
        ],
        [
          /--canary \(canaryRepo\)/,
          /--phase2 \(phase2Repos\)/,
          /--canary-hold \(holdOverrides\.canaryHold\): must be a duration/,
        ],
      ],
      [
        ['lift-freeze', '--incident', 'INC-1', '--by', 'no body', '--environment', 'Prod'],
        [
          /--by \(requestedBy\)/,
          /--reason \(reason\): must say why the freeze is lifted by hand/,
          /--environment \(environment\): must be a lower-case environment name/,
        ],
      ],
    ];
    for (const [args, patterns] of cases) {
      const { code, output } = await cli(...args);
      assert.equal(code, 1, output);
      assert.doesNotMatch(output, /unknown command|ECONNREFUSED|connect/i, output);
      for (const pattern of patterns) assert.match(output, pattern, `${args[0]}: ${output}`);
    }
  });

  test('with no server named and no local stack running, a missing key says so and how to start one', async () => {
    // As after the stack was stopped: no address, no keys, a state folder without a live stack.
    const run = spawnNode('dist/src/cli/main.js', ['status', '--incident', 'INC-1'], {
      TEMPORAL_ADDRESS: undefined,
      TEMPORAL_PROFILE: undefined,
      TEMPORAL_CONFIG_FILE: undefined,
      RUNBOOKS_PAYLOAD_KEYS: undefined,
      RUNBOOKS_PAYLOAD_KEYS_FILE: undefined,
      RUNBOOKS_STACK_DIR: scratchDir('runbooks-no-stack'),
    });
    assert.equal(await run.exited(), 1, run.output());
    // What to do first; the missing key it explains after.
    assert.match(
      run.output(),
      /no local stack is running here: "npm run stack" starts one[^]*\npayload encryption has no key/,
    );
  });

  test('signals: each missing or bad option is named; the runbook is picked by the command', async () => {
    assert.match((await cli('pause', '--incident', 'INC-1')).output, /--by is required/);
    assert.match(
      (await cli('confirm-rollback', '--incident', 'INC-1', '--by', '@ic', '--decision', 'maybe')).output,
      /--decision is invalid/,
    );
    assert.match((await cli('rca-filed', '--incident', 'INC-1', '--by', '@ic')).output, /--link is required/);
    assert.match(
      (await cli('acknowledge-conflict', '--incident', 'INC-1', '--by', '@ic')).output,
      /--note is required/,
    );
    assert.match((await cli('retry', '--incident', 'INC-1')).output, /--by is required/);
    const hash = 'a'.repeat(64);
    assert.match(
      (await cli('approve', '--incident', 'INC-1', '--plan-hash', hash)).output,
      /--approver is required/,
    );
    assert.match(
      (await cli('approve', '--incident', 'INC-1', '--by', '@a', '--approver', '@b', '--plan-hash', hash))
        .output,
      /--approver @b and --by @a name two people/,
    );
    assert.match(
      (await cli('reject', '--incident', 'INC-1', '--by', 'not a handle')).output,
      /--by is invalid/,
    );
    assert.match((await cli('skip', '--incident', 'INC-1', '--by', 'not a handle')).output, /--by/);
    assert.match(
      (await cli('status', '--incident', 'INC-1', '--procedure', 'Z')).output,
      /--procedure must be A, B, C, D, rollback, reenablement, incident or freeze-lift/,
    );
    const file = path.join(scratchDir('runbooks-cli'), 'program.json');
    writeFileSync(
      file,
      JSON.stringify({ storyId: 'CVN-N001-EE-S17', mergeSha: 'xyz', mergedAt: '2026-05-12 00:00' }),
    );
    const backstop = await cli('backstop', 'start', file);
    assert.equal(backstop.code, 1);
    for (const field of ['mergeSha', 'mergedAt'])
      assert.match(backstop.output, new RegExp(field), backstop.output);
    assert.match(
      (await cli('backstop', 'decide', '--story', 'S17', '--by', '@a', '--decision', 'extend')).output,
      /--decision is invalid/,
    );
    const unknown = await cli('start-everything');
    assert.equal(unknown.code, 1);
    assert.match(unknown.output, /unknown command "start-everything"/);
    const help = await cli('--help');
    assert.equal(help.code, 0);
    for (const command of [
      'start-rollback',
      'confirm-rollback',
      'rca-filed',
      'start-reenablement',
      'pause',
      'retry',
      'skip',
      'acknowledge-conflict',
    ])
      assert.match(help.output, new RegExp(command));
  });
});

describe('CLI list: every runbook by its name', () => {
  test('list --runbook takes every workflow the task queue serves (the alerts name them; incident was refused)', async () => {
    assert.deepEqual([...RUNBOOK_NAMES].sort(), Object.keys(workflows).sort());
    const list = findCommand('list')!;
    for (const runbook of RUNBOOK_NAMES) assert.doesNotThrow(() => list.prepare({ runbook }, []), runbook);
    assert.throws(() => list.prepare({ runbook: 'incidents' }, []), /--runbook is invalid/);
    const refused = await cli('list', '--runbook', 'incidnet');
    assert.equal(refused.code, 1);
    assert.match(refused.output, /--runbook is invalid: .*"incident"\|"releaseRollback"\|"freezeLift"/);
  });
});

describe('CLI status: notices a channel did not deliver (no server needed)', () => {
  test('a notice no channel delivered is NOT SENT with each error; one the fallback took names both; delivered ones are not listed', () => {
    const notice = (kind: string, state: string, deliveries: unknown[]) => ({
      kind,
      subject: `[INC-9] ${kind}`,
      deliveryKey: `k-${kind}`,
      requestedAt: '2026-12-05T03:00:00.000Z',
      state,
      deliveries,
    });
    const text = renderStatus({
      runbook: 'breakGlassRestore',
      workflowId: 'break-glass-restore-INC-9',
      incidentId: 'INC-9',
      step: 'awaiting_approval',
      currentDetails: 'waiting for approval',
      deadlines: [],
      refusedAttempts: [],
      nonConformities: [],
      flags: [],
      detail: {},
      notices: [
        notice('run_started', 'delivered', [{ channel: 'log', state: 'delivered', fallback: false }]),
        notice('approval_request', 'failed', [
          { channel: 'webhook', state: 'failed', fallback: false, error: 'HTTP 403 Forbidden' },
          { channel: 'email-oncall', state: 'failed', fallback: true, error: '535 auth failed' },
        ]),
        notice('rca_overdue', 'failed', []),
        notice('plan_ready', 'partial', [
          { channel: 'slack-incidents', state: 'failed', fallback: false, error: 'HTTP 404' },
          { channel: 'email-oncall', state: 'delivered', fallback: true },
        ]),
      ],
    } as unknown as Parameters<typeof renderStatus>[0]);
    assert.match(
      text,
      /^NOT SENT: {2}2026-12-05T03:00:00\.000Z approval_request "\[INC-9\] approval_request": no channel delivered it \(webhook: HTTP 403 Forbidden; email-oncall: 535 auth failed\)$/m,
    );
    assert.match(
      text,
      /^notice: {4}2026-12-05T03:00:00\.000Z plan_ready delivered on email-oncall only; failed on slack-incidents: HTTP 404$/m,
    );
    assert.match(
      text,
      /^NOT SENT: {2}2026-12-05T03:00:00\.000Z rca_overdue "\[INC-9\] rca_overdue": no channel is routed for it in the policy$/m,
    );
    assert.doesNotMatch(text, /run_started/);
  });
});

describe('CLI status of a backstop program (no server needed)', () => {
  test('shows the next checkpoint and its UTC instant, each checkpoint, and the evidence so far', () => {
    const text = renderStatus({
      runbook: 'backstopProgram',
      workflowId: 'backstop-S17',
      incidentId: 'S17',
      step: 'waiting_T+60',
      currentDetails: 'next checkpoint T+60 at 2026-07-11T00:00:00.000Z',
      deadlines: [],
      refusedAttempts: [],
      nonConformities: [],
      flags: [],
      detail: {
        next: { checkpoint: 'T+60', at: '2026-07-11T00:00:00.000Z' },
        checkpoints: [
          {
            name: 'T+30',
            at: '2026-06-11T00:00:00.000Z',
            state: 'evaluated',
            verdict: 'action: epic New, 0 children',
            evaluatedLateAt: '2026-06-20T08:00:00.000Z',
          },
          { name: 'T+60', at: '2026-07-11T00:00:00.000Z', state: 'pending' },
        ],
        evidence: [
          {
            checkpoint: 'T+30',
            evaluatedAt: '2026-06-20T08:00:01.000Z',
            epic: { status: 'New' },
            children: [],
            gateFailureIssues: [],
            probe: { up: false, status: 503 },
          },
        ],
      },
    } as unknown as Parameters<typeof renderStatus>[0]);
    assert.match(text, /^next: {6}T\+60 at 2026-07-11T00:00:00\.000Z$/m);
    assert.match(
      text,
      /^T\+30 {7}2026-06-11T00:00:00\.000Z evaluated: action: epic New, 0 children \(evaluated late at 2026-06-20T08:00:00\.000Z\)$/m,
    );
    assert.match(text, /^T\+60 {7}2026-07-11T00:00:00\.000Z pending$/m);
    assert.match(
      text,
      /^evidence: {2}T\+30 read 2026-06-20T08:00:01\.000Z: epic New, 0 children, 0 gate-failure issues, restore probe down \(503\)$/m,
    );
  });
});
