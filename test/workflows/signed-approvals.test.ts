import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { decide } from '../../src/client/decide';
import { signDecision } from '../../src/cli/sign';
import { scratchDir } from '../../src/local/servers';
import type { LoadedPolicy } from '../../src/worker/policy';
import { breakGlassRestore } from '../../src/workflows';
import type { BreakGlassRestoreStatus } from '../../src/workflows/break-glass-restore/definitions';
import { abortUpdate, approveUpdate, type ApprovePayload } from '../../src/workflows/shared/messages';
import { activityDeps, defaultPolicy, withRestorePolicy } from '../fixtures/policy';
import { workflowSuite } from '../fixtures/suite';
import { sshFingerprint, sshKeyPair, sshPublicKey } from '../fixtures/signing';
import { closeRun, uniqueId } from '../fixtures/temporal';
import { atStep, readUntil, waitForStatus } from '../fixtures/wait';

/**
 * Signed approvals with keys made by ssh-keygen for the test: the policy lists public keys per
 * approver; an approval counts only with a signature by that approver's key over this namespace,
 * run, decision and planHash, recent and used once.
 */

const MINUTE = 60_000;
const tmp = scratchDir('runbooks-signed');
const suite = workflowSuite({ server: 'time-skipping', queuePrefix: 'tq-signed' });
const keys: Record<'doc' | 'lead' | 'stranger', string> = { doc: '', lead: '', stranger: '' };
let policy: LoadedPolicy;

before(() => {
  keys.doc = sshKeyPair(tmp, 'dococeven');
  keys.lead = sshKeyPair(tmp, 'oncall-lead');
  keys.stranger = sshKeyPair(tmp, 'stranger');
  const base = withRestorePolicy(defaultPolicy(), {
    approvers: ['@dococeven', '@oncall-lead'],
    soleOperator: false,
    requireSignedApprovals: true,
    signatureMaxAge: 15 * MINUTE,
  });
  policy = {
    ...base,
    policy: {
      ...base.policy,
      signers: { '@dococeven': [sshPublicKey(keys.doc)], '@oncall-lead': [sshPublicKey(keys.lead)] },
    },
  };
});

type Handle = WorkflowHandle<typeof breakGlassRestore>;

async function atTheGate(taskQueue: string, workflowId = `break-glass-restore-${uniqueId('INC')}`) {
  const handle = await suite.env.client.workflow.start(breakGlassRestore, {
    taskQueue,
    workflowId,
    args: [
      {
        incidentId: workflowId.replace('break-glass-restore-', ''),
        targetHistoryId: 5,
        requestedBy: '@alice',
        rationale: 'typo 0.0 in LGB 5M',
      },
    ],
  });
  const gate = await waitForStatus<BreakGlassRestoreStatus>(handle, atStep('awaiting_approval'), 'the gate');
  return { handle, planHash: gate.detail.plan!.planHash, gate };
}

async function signed(
  keyFile: string,
  handle: Handle,
  planHash: string,
  approver: string,
  overrides: { namespace?: string; workflowId?: string; decision?: string; planHash?: string } = {},
): Promise<ApprovePayload> {
  const signature = await signDecision(
    keyFile,
    {
      namespace: overrides.namespace ?? 'default',
      workflowId: overrides.workflowId ?? handle.workflowId,
      decision: overrides.decision ?? 'approve',
      planHash: overrides.planHash ?? planHash,
    },
    new Date(await suite.env.currentTimeMs()),
  ); // the test server's clock runs ahead of the wall clock
  return { approver, planHash, ...signature };
}

describe('signed approvals (time-skipping, ssh-keygen keys)', () => {
  test('each forgery is refused with its reason; the approver’s own signature counts, its key in the approval line', async () => {
    await suite.withWorker(activityDeps(policy, suite.db.pool), async (taskQueue) => {
      const { handle, planHash, gate } = await atTheGate(taskQueue);
      assert.match(gate.approval!.signText!, /^durable-runbooks decision v1\nnamespace=default\n/);
      assert.equal(gate.approval!.argument.signature, '<armored signature>');
      const other = planHash.replace(/^./, (c) => (c === '0' ? '1' : '0'));
      const attempts: [string, ApprovePayload, string][] = [
        ['unsigned', { approver: '@dococeven', planHash }, 'signature_required'],
        [
          'a key nobody listed',
          await signed(keys.stranger, handle, planHash, '@dococeven'),
          'signature_invalid',
        ],
        [
          "another approver's key",
          await signed(keys.lead, handle, planHash, '@dococeven'),
          'signature_invalid',
        ],
        [
          'another namespace',
          await signed(keys.doc, handle, planHash, '@dococeven', { namespace: 'prod' }),
          'signature_invalid',
        ],
        [
          'another run',
          await signed(keys.doc, handle, planHash, '@dococeven', { workflowId: 'break-glass-restore-X' }),
          'signature_invalid',
        ],
        [
          'another decision',
          await signed(keys.doc, handle, planHash, '@dococeven', { decision: 'reject' }),
          'signature_invalid',
        ],
        [
          'another plan',
          await signed(keys.doc, handle, planHash, '@dococeven', { planHash: other }),
          'signature_invalid',
        ],
      ];
      for (const [what, payload, reason] of attempts) {
        const answer = await decide(handle, approveUpdate, payload);
        assert.deepEqual([answer.accepted, answer.reason], [false, reason], what);
      }
      const good = await signed(keys.doc, handle, planHash, '@dococeven');
      const answer = await decide(handle, approveUpdate, good);
      assert.equal(answer.accepted, true, answer.detail);
      const status = await handle.query<BreakGlassRestoreStatus>('status');
      const fingerprint = sshFingerprint(keys.doc);
      assert.match(
        status.detail.approval!.line,
        new RegExp(`approver=@dococeven .* approver_keys=${fingerprint.replace(/[+/]/g, '\\$&')}$`),
      );
      assert.ok(
        status.events.some((event) => event.kind === 'approved' && event.message.includes(fingerprint)),
      );
      await decide(handle, abortUpdate, { by: '@alice', reason: 'test over' });
      assert.equal((await handle.result()).outcome, 'aborted');
    });
  });

  test('the approval request says how to sign: the CLI line with --sign-key, the argument with signedAt and signature', async () => {
    await suite.withWorker(activityDeps(policy, suite.db.pool), async (taskQueue) => {
      const { handle, planHash } = await atTheGate(taskQueue);
      const request = await readUntil(
        () =>
          suite.db.pool.query<{ body: string }>(
            "SELECT body FROM runbook_notices WHERE workflow_id = $1 AND kind = 'approval_request'",
            [handle.workflowId],
          ),
        (answer) => answer.rows.length > 0,
        'the approval request notice',
      );
      const body = request.rows[0]!.body;
      assert.ok(
        body.includes(
          `CLI: npm run cli -- approve --workflow-id ${handle.workflowId} --approver @you --plan-hash ${planHash} --sign-key `,
        ),
        body,
      );
      assert.ok(
        body.includes(
          `{"approver":"@you","planHash":"${planHash}","signedAt":"<UTC instant you sign>","signature":"<armored signature>"}`,
        ),
        body,
      );
      await closeRun(handle, 'test done');
    });
  });

  test('a signature older than the policy allows is refused; one used by an earlier run is refused', async () => {
    await suite.withWorker(activityDeps(policy, suite.db.pool), async (taskQueue) => {
      const workflowId = `break-glass-restore-${uniqueId('INC')}`;
      const first = await atTheGate(taskQueue, workflowId);
      const payload = await signed(keys.doc, first.handle, first.planHash, '@dococeven');
      const accepted = await decide(first.handle, approveUpdate, payload);
      assert.equal(accepted.accepted, true, accepted.detail);
      await decide(first.handle, abortUpdate, { by: '@alice', reason: 'start again' });
      await first.handle.result();

      // The same incident again, the same plan: the first run's signature is spent.
      const second = await atTheGate(taskQueue, workflowId);
      assert.equal(second.planHash, first.planHash, 'same plan');
      const reused = await decide(second.handle, approveUpdate, payload);
      assert.deepEqual([reused.accepted, reused.reason], [false, 'signature_reused']);

      const stale = await signed(keys.lead, second.handle, second.planHash, '@oncall-lead');
      await suite.env.sleep(20 * MINUTE);
      const late = await decide(second.handle, approveUpdate, stale);
      assert.deepEqual([late.accepted, late.reason], [false, 'signature_expired']);
      await decide(second.handle, abortUpdate, { by: '@alice', reason: 'test over' });
      await second.handle.result();
    });
  });
  test('a check that fails for good (ssh-keygen missing, Postgres down) refuses the approval as unverifiable; the gate stays shut and a later approval counts', async () => {
    let failing = true;
    const broken: ActivityInterceptorsFactory = (ctx) => ({
      inbound: {
        execute: async (input, next) => {
          if (failing && ctx.info.activityType === 'verifyDecisionSignature')
            throw ApplicationFailure.retryable('ssh-keygen: not found', 'SignatureCheckFailed');
          return next(input);
        },
      },
    });
    await suite.withWorker(
      activityDeps(policy, suite.db.pool),
      async (taskQueue) => {
        const { handle, planHash } = await atTheGate(taskQueue);
        const refused = await decide(
          handle,
          approveUpdate,
          await signed(keys.doc, handle, planHash, '@dococeven'),
        );
        assert.deepEqual([refused.accepted, refused.reason], [false, 'signature_unverifiable']);
        const status = await handle.query<BreakGlassRestoreStatus>('status');
        assert.equal(status.step, 'awaiting_approval', 'nothing goes on without a verified signature');
        failing = false;
        const approved = await decide(
          handle,
          approveUpdate,
          await signed(keys.doc, handle, planHash, '@dococeven'),
        );
        assert.equal(approved.accepted, true, approved.detail);
        await decide(handle, abortUpdate, { by: '@alice', reason: 'test over' });
        await handle.result();
      },
      { activity: [broken] },
    );
  });

  test('a refusal that arrives while a signature is being checked does not become the signed approval’s answer', async () => {
    await suite.withWorker(activityDeps(policy, suite.db.pool), async (taskQueue) => {
      const { handle, planHash } = await atTheGate(taskQueue);
      const good = await signed(keys.doc, handle, planHash, '@dococeven');
      const [approved, unsigned] = await Promise.all([
        decide(handle, approveUpdate, good),
        decide(handle, approveUpdate, { approver: '@oncall-lead', planHash }),
      ]);
      assert.equal(approved.accepted, true, approved.detail);
      // The check is a local activity (signature-check-local-v1): the unsigned one is refused as
      // unsigned when it arrives in the same task as the signed one, or as already decided when it
      // arrives after the check; the signed approval's answer is its own either way.
      assert.equal(unsigned.accepted, false);
      assert.ok(['signature_required', 'already_decided'].includes(unsigned.reason!), unsigned.reason);
      await decide(handle, abortUpdate, { by: '@alice', reason: 'test over' });
      await handle.result();
    });
  });
});
