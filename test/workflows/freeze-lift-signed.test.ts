import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { signDecision } from '../../src/cli/sign';
import { decide } from '../../src/client/decide';
import { scratchDir } from '../../src/local/servers';
import type { LoadedPolicy } from '../../src/worker/policy';
import type { FreezeLiftStatus } from '../../src/workflows/freeze-lift/definitions';
import { approveUpdate, rejectUpdate, type ApprovePayload } from '../../src/workflows/shared/messages';
import { freezeLifts } from '../fixtures/freeze-lift';
import { eventTimeMs, historyEvents, noticesSent, recordHistory } from '../fixtures/history';
import { incidentWorld } from '../fixtures/incident';
import { sshFingerprint, sshKeyPair, sshPublicKey } from '../fixtures/signing';
import { workflowSuite } from '../fixtures/suite';
import { atStep, waitForStatus } from '../fixtures/wait';

/**
 * Signed freeze lifts (incident policy `requireSignedFreezeLifts`) on the time-skipping server with
 * real Postgres and keys made by ssh-keygen: the requester's name lifts nothing; a responder's
 * signed approval of exactly that lift does, recorded as the signer's. A file of its own (a fresh
 * test server): after the unsigned tests, which terminate incidents left open, the gate's 15 min
 * timer never fired in one CI run, likely a known test-server leak (not proven here): a run that ends with an
 * activity outstanding keeps its time-skipping lock (temporalio/sdk-java#1138, open; #3088 for a
 * terminate with a task and an activity in flight), and the workaround given there is a separate
 * server.
 */

const suite = workflowSuite({
  server: 'time-skipping',
  clockStart: '2026-12-04T09:00:00Z',
  queuePrefix: 'tq-freeze-lift-signed',
});
const { withWorker } = incidentWorld(suite, 'runbooks-freeze-lift-signed');
const { startLift, freezeRows, frozenWithoutRun, frozen, productionFrozen } = freezeLifts(suite);

const IC = '@sre-lead';

/** Keys for two responders and one made by someone the policy does not list. */
const keys = { doc: '', lead: '', stranger: '' };
const signingDir = scratchDir('runbooks-freeze-lift-keys');

/** The world's policy with requireSignedFreezeLifts on and the responders' public keys. */
function signedLifts(loaded: LoadedPolicy): LoadedPolicy {
  keys.doc ||= sshKeyPair(signingDir, 'dococeven');
  keys.lead ||= sshKeyPair(signingDir, 'sre-lead');
  keys.stranger ||= sshKeyPair(signingDir, 'stranger');
  const { policy } = loaded;
  return {
    ...loaded,
    policy: {
      ...policy,
      signers: {
        '@dococeven': [sshPublicKey(keys.doc)],
        '@sre-lead': [sshPublicKey(keys.lead)],
        '@ic-alice': [sshPublicKey(keys.lead)],
      },
      runbooks: {
        ...policy.runbooks,
        incident: { ...policy.runbooks.incident!, requireSignedFreezeLifts: true },
      },
    },
  };
}

/** A lift waiting at its signed-approval gate, and the planHash it shows. */
async function atTheGate(handle: WorkflowHandle): Promise<string> {
  const status = await waitForStatus<FreezeLiftStatus>(
    handle,
    atStep('awaiting_approval'),
    'the signed-lift gate',
  );
  return status.approval!.planHash;
}

/** An approval of `planHash` on this run by `approver`, signed with `keyFile` (the test server's clock). */
async function signedBy(
  keyFile: string,
  handle: WorkflowHandle,
  approver: string,
  planHash: string,
): Promise<ApprovePayload> {
  const signature = await signDecision(
    keyFile,
    { namespace: 'default', workflowId: handle.workflowId, decision: 'approve', planHash },
    new Date(await suite.env.currentTimeMs()),
  );
  return { approver, planHash, ...signature };
}

describe('freezeLift with signed lifts (time-skipping, ssh-keygen keys)', () => {
  test('the requester’s name lifts nothing; unsigned, forged and off-roster approvals are refused; a responder’s own signature lifts, recorded as theirs', async () => {
    await withWorker(async (taskQueue) => {
      const incidentId = await frozenWithoutRun(['production', 'staging'], IC);
      const lift = await startLift(taskQueue, {
        incidentId,
        requestedBy: '@dococeven',
        reason: 'incident history past retention; production green',
        environment: 'production',
      });
      const planHash = await atTheGate(lift);
      assert.equal(await productionFrozen(), true, 'nothing is lifted before the approval');
      const refusals: [string, ApprovePayload, string][] = [
        ['unsigned, in the requester’s name', { approver: '@dococeven', planHash }, 'signature_required'],
        [
          'a key nobody listed',
          await signedBy(keys.stranger, lift, '@dococeven', planHash),
          'signature_invalid',
        ],
        [
          'another responder’s key',
          await signedBy(keys.lead, lift, '@dococeven', planHash),
          'signature_invalid',
        ],
        ['not a responder', await signedBy(keys.stranger, lift, '@intern', planHash), 'not_on_roster'],
      ];
      for (const [what, payload, reason] of refusals) {
        const answer = await decide(lift, approveUpdate, payload);
        assert.deepEqual([answer.accepted, answer.reason], [false, reason], what);
      }
      const own = await decide(lift, approveUpdate, await signedBy(keys.doc, lift, '@dococeven', planHash));
      assert.equal(own.accepted, true, own.detail);
      const result = await lift.result();
      assert.equal(result.outcome, 'lifted', result.message);
      const fingerprint = sshFingerprint(keys.doc);
      assert.ok(
        result.message.includes(`lifted by @dococeven (signed approval, key ${fingerprint})`),
        result.message,
      );
      assert.deepEqual(
        (await freezeRows(incidentId))
          .map((row) => `${row.environment} ${row.lifted} ${row.lifted_by}`)
          .sort(),
        ['production true @dococeven', 'staging false null'],
      );
      assert.equal(result.refusedAttempts.length, 4);
      await recordHistory(lift, 'freeze-lift-signed-by-requester');

      // Another responder may approve: the lift is recorded as theirs, at the requester's request.
      const staging = await startLift(taskQueue, {
        incidentId,
        requestedBy: '@dococeven',
        reason: 'staging too',
      });
      const stagingHash = await atTheGate(staging);
      assert.notEqual(stagingHash, planHash, 'each lift has its own planHash');
      const lead = await decide(
        staging,
        approveUpdate,
        await signedBy(keys.lead, staging, '@sre-lead', stagingHash),
      );
      assert.equal(lead.accepted, true, lead.detail);
      const stagingResult = await staging.result();
      assert.match(
        stagingResult.message,
        /lifted by @sre-lead \(signed approval, key SHA256:\S+\) at @dococeven's request/,
      );
      assert.equal(
        (await freezeRows(incidentId)).find((row) => row.environment === 'staging')!.lifted_by,
        '@sre-lead',
      );
      assert.equal(await frozen('staging'), false);
    }, signedLifts);
  });

  test('no approval within the policy’s 15 min ends approval_expired (pinned from the history), a rejection ends rejected; nothing lifted', async () => {
    await withWorker(async (taskQueue) => {
      const incidentId = await frozenWithoutRun(['production'], IC);
      const waiting = await startLift(taskQueue, { incidentId, requestedBy: IC, reason: 'looks fine' });
      await atTheGate(waiting);
      const expired = await waiting.result();
      assert.equal(expired.outcome, 'approval_expired', expired.message);
      assert.match(expired.message, /nothing was lifted$/);
      const events = await historyEvents(waiting);
      const gateTimer = events.find((event) => event.timerStartedEventAttributes)!;
      const fired = events.find((event) => event.timerFiredEventAttributes)!;
      const waitedMs = eventTimeMs(fired) - eventTimeMs(gateTimer);
      assert.ok(waitedMs >= 15 * 60_000 && waitedMs < 15 * 60_000 + 5_000, `the gate waited ${waitedMs} ms`);
      assert.deepEqual(
        noticesSent(events)
          .filter((notice) => notice.kind === 'approval_expired')
          .map((notice) => notice.subject),
        [`[${incidentId} freeze lift] freeze not lifted: no responder's signed approval in time`],
      );

      const rejected = await startLift(taskQueue, { incidentId, requestedBy: IC, reason: 'looks fine' });
      await atTheGate(rejected);
      const no = await decide(rejected, rejectUpdate, {
        approver: '@dococeven',
        reason: 'payments still failing',
      });
      assert.equal(no.accepted, true, no.detail);
      const result = await rejected.result();
      assert.equal(result.outcome, 'rejected', result.message);
      assert.match(result.message, /^rejected by @dococeven: payments still failing; nothing was lifted$/);
      assert.equal(await productionFrozen(), true);

      // A dry run says a signed approval would be asked, and asks none.
      const dry = await startLift(taskQueue, {
        incidentId,
        requestedBy: IC,
        reason: 'what would it do',
        dryRun: true,
      });
      const planned = await dry.result();
      assert.equal(planned.outcome, 'dry_run', planned.message);
      assert.equal(planned.dryRun?.signedApprovalRequired, true);
      assert.match(
        planned.message,
        /after a responder's signed approval \(.*@dococeven.*\); nothing was lifted$/,
      );
      const dryEvents = await historyEvents(dry);
      assert.deepEqual(noticesSent(dryEvents), []);
      assert.equal(dryEvents.filter((event) => event.timerStartedEventAttributes).length, 0);
      assert.equal(await productionFrozen(), true);
    }, signedLifts);
  });
});
