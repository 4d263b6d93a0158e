import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import { createSignatureActivities } from '../../src/activities/signatures';
import { signDecision } from '../../src/cli/sign';
import { sshKeyPair, sshPublicKey } from '../fixtures/signing';

/**
 * ssh-keygen's verdict on a signed decision, and its absence: a check that did not run to its end
 * (ssh-keygen killed, the worker's process launcher gone) gives no verdict, never "not a
 * signature" for one that may be good. (Verdicts end to end: test/workflows/signed-approvals.)
 */

const dir = mkdtempSync(path.join(tmpdir(), 'runbooks-signatures-'));
const key = sshKeyPair(dir, 'approver');
const decision = {
  namespace: 'default',
  workflowId: 'rollback-to-pilot-INC-1',
  decision: 'approve',
  planHash: 'a'.repeat(64),
};
// Only a verdict of "valid" reads the database (single use): these checks end before it.
const { verifyDecisionSignature } = createSignatureActivities({
  db: {} as Pool,
  signers: { '@alice': [sshPublicKey(key)] },
});

async function signedInput(over: Partial<typeof decision> = {}) {
  const signed = await signDecision(key, decision);
  return {
    ...decision,
    ...over,
    by: '@alice',
    runId: 'run-1',
    ...signed,
    maxAgeMs: 600_000,
    arrivedAt: signed.signedAt,
  };
}

describe('verifyDecisionSignature and ssh-keygen', () => {
  test('a signature over another decision: ssh-keygen says no, and the verdict is "not a signature"', async () => {
    const verdict = await verifyDecisionSignature(await signedInput({ decision: 'abort' }));
    assert.equal(verdict.ok, false);
    assert.equal(verdict.ok === false && verdict.reason, 'signature_invalid');
  });

  test('ssh-keygen that does not run to its end (its launcher killed under it): no verdict, a retryable failure', async () => {
    const input = await signedInput();
    // An ssh-keygen first on PATH that kills the process that started it (the worker's launcher).
    const bin = path.join(dir, 'bin');
    const fake = path.join(bin, 'ssh-keygen');
    mkdirSync(bin, { recursive: true });
    writeFileSync(fake, '#!/bin/sh\nkill -9 "$PPID"\nsleep 2\n');
    chmodSync(fake, 0o755);
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved ?? ''}`;
    try {
      await assert.rejects(verifyDecisionSignature(input), (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure, String(error));
        assert.equal(error.type, 'SignatureCheckFailed');
        assert.equal(error.nonRetryable, false);
        assert.match(error.message, /ssh-keygen gave no verdict: the process launcher exited \(SIGKILL\)/);
        return true;
      });
    } finally {
      process.env.PATH = saved;
    }
  });
});
