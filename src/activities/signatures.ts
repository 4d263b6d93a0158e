import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Pool } from 'pg';
import { z } from 'zod';
import { ConfigurationError } from '../common/errors';
import { normalizeHandle } from '../common/identity';
import { decisionText, SIGNATURE_NAMESPACE, sshSignatureSchema } from '../common/signatures';
import { deliveredReceipt, recordReceipt } from './delivery-ledger';
import { parseInput } from './validation';
import { launchFile } from './exec/launcher';

/** Verifies signed decisions outside workflow code, with `ssh-keygen -Y verify` (argument array, no shell). */

const verifyInputSchema = z
  .object({
    by: z.string().min(1).max(100),
    namespace: z.string().min(1).max(200),
    workflowId: z.string().min(1).max(400),
    runId: z.string().min(1).max(100),
    decision: z.string().min(1).max(50),
    planHash: z.string().regex(/^[0-9a-f]{64}$/),
    signedAt: z.string().min(1).max(40),
    signature: sshSignatureSchema,
    /** How old a signature may be when the decision arrives. */
    maxAgeMs: z.number().int().positive(),
    /**
     * When the decision arrived, by the run's clock (since 0.20.0: a local activity's scheduled
     * time is the worker's clock, not the server's). Older runs leave it out: the activity's
     * scheduled time, which is when the decision arrived.
     */
    arrivedAt: z.iso.datetime().optional(),
  })
  .strict();
export type VerifyDecisionSignatureInput = z.input<typeof verifyInputSchema>;

export type SignatureVerdict =
  | { ok: true; fingerprint: string }
  | {
      ok: false;
      reason: 'unknown_signer' | 'signature_invalid' | 'signature_expired' | 'signature_reused';
      detail: string;
    };

/** Clock skew tolerated for a signedAt slightly in the run's future. */
const FUTURE_SKEW_MS = 60_000;

function sshKeygen(args: string[], stdin: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    launchFile('ssh-keygen', args, { timeout: 10_000, input: stdin }, (error, stdout, stderr) => {
      if (error?.code === 'ENOENT')
        return reject(
          new ConfigurationError(
            'ssh-keygen is not installed on the worker (Debian: apt-get install openssh-client)',
          ),
        );
      // Killed (its timeout), or not run to its end (a system error, the launcher gone): no
      // verdict, so none is given. A retry checks again; a check that never ends says so
      // (signature_unverifiable), never "not a signature" for one that may be good.
      if (error && (error.killed || typeof error.code === 'string'))
        return reject(
          ApplicationFailure.create({
            type: 'SignatureCheckFailed',
            message: `ssh-keygen gave no verdict: ${error.message}`,
          }),
        );
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

export function createSignatureActivities(deps: { db: Pool; signers: Record<string, string[]> }) {
  const keysOf = (handle: string): string[] =>
    Object.entries(deps.signers)
      .filter(([who]) => normalizeHandle(who) === normalizeHandle(handle))
      .flatMap(([, keys]) => keys);

  return {
    /**
     * Checks a signed decision: the key is one the policy lists for that handle; the signature is
     * over this namespace, run, decision and planHash; signedAt is recent; and the signature was
     * not used by another run before (a retry of the same run finds its own record).
     */
    verifyDecisionSignature: async (raw: VerifyDecisionSignatureInput): Promise<SignatureVerdict> => {
      const input = parseInput(verifyInputSchema, raw, 'verifyDecisionSignature input');
      const keys = keysOf(input.by);
      if (!keys.length)
        return {
          ok: false,
          reason: 'unknown_signer',
          detail: `the policy lists no signing key for ${input.by}`,
        };
      const signedAtMs = Date.parse(input.signedAt);
      if (!Number.isFinite(signedAtMs) || !input.signedAt.endsWith('Z'))
        return {
          ok: false,
          reason: 'signature_invalid',
          detail: `signedAt ${input.signedAt} is not a UTC instant`,
        };
      const dir = mkdtempSync(path.join(tmpdir(), 'runbooks-verify-'));
      let fingerprint: string;
      try {
        const allowed = path.join(dir, 'allowed_signers');
        const signature = path.join(dir, 'decision.sig');
        writeFileSync(
          allowed,
          keys.map((key) => `approver namespaces="${SIGNATURE_NAMESPACE}" ${key}\n`).join(''),
        );
        writeFileSync(signature, `${input.signature}\n`);
        const text = decisionText(input);
        const verified = await sshKeygen(
          ['-Y', 'verify', '-f', allowed, '-I', 'approver', '-n', SIGNATURE_NAMESPACE, '-s', signature],
          text,
        );
        const found = /key (SHA256:[A-Za-z0-9+/=]+)/.exec(verified.stdout);
        if (verified.code !== 0 || !found)
          return {
            ok: false,
            reason: 'signature_invalid',
            detail: `not a signature by a key of ${input.by} over this run, decision and planHash (${(verified.stderr || verified.stdout).trim().split('\n')[0] ?? 'ssh-keygen refused it'})`,
          };
        fingerprint = found[1]!;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      // Single use: the first run that presents a signature owns it.
      const key = `signature:${createHash('sha256').update(input.signature).digest('hex')}`;
      const earlier = await deliveredReceipt<{ runId: string; workflowId: string }>(
        deps.db,
        key,
        'approval-signature',
      );
      if (earlier && earlier.runId !== input.runId)
        return {
          ok: false,
          reason: 'signature_reused',
          detail: `this signature was already used by ${earlier.workflowId} (run ${earlier.runId})`,
        };
      // Fresh: signed shortly before it arrived, by the server's clock (the check was scheduled as the
      // decision arrived). A signature kept for later is refused.
      const arrivedMs = input.arrivedAt
        ? Date.parse(input.arrivedAt)
        : Context.current().info.scheduledTimestampMs;
      const age = arrivedMs - signedAtMs;
      if (age > input.maxAgeMs || age < -FUTURE_SKEW_MS)
        return {
          ok: false,
          reason: 'signature_expired',
          detail: `signed at ${input.signedAt}, ${Math.round(age / 1000)} s before it arrived (at most ${input.maxAgeMs / 1000} s)`,
        };
      if (!earlier)
        await recordReceipt(deps.db, key, 'approval-signature', {
          runId: input.runId,
          workflowId: input.workflowId,
        });
      return { ok: true, fingerprint };
    },
  };
}
