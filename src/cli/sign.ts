import { execFile } from 'node:child_process';
import { decisionText, SIGNATURE_NAMESPACE } from '../common/signatures';
import { UsageError } from './args';
import { endStdin } from '../activities/child-stdin';

/**
 * Signs a decision with `ssh-keygen -Y sign -n durable-runbooks -f <key>` (argument array, no
 * shell): a private key file, or a public key whose private half is in ssh-agent (a hardware
 * security key asks for its touch here). Returns the fields the approval carries.
 */
export async function signDecision(
  keyFile: string,
  decision: { namespace: string; workflowId: string; decision: string; planHash: string },
  now: Date = new Date(),
): Promise<{ signedAt: string; signature: string }> {
  const signedAt = now.toISOString().replace(/\.\d+Z$/, 'Z');
  const text = decisionText({ ...decision, signedAt });
  const signature = await new Promise<string>((resolve, reject) => {
    const child = execFile(
      'ssh-keygen',
      ['-Y', 'sign', '-n', SIGNATURE_NAMESPACE, '-f', keyFile],
      { timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error)
          return reject(
            new UsageError(
              `--sign-key ${keyFile}: ssh-keygen could not sign (${(stderr || error.message).trim().split('\n')[0]})`,
            ),
          );
        resolve(stdout.trim());
      },
    );
    endStdin(child, text);
  });
  return { signedAt, signature };
}

/** `sendDecision`'s completion: the payload, signed with `keyFile` for `decision` once the run is known. */
export function signedPayload<Payload extends { planHash: string }>(
  keyFile: string,
  payload: Payload,
  decision = 'approve',
) {
  return async (_payload: unknown, run: { namespace: string; workflowId: string }) => ({
    ...payload,
    ...(await signDecision(keyFile, { ...run, decision, planHash: payload.planHash })),
  });
}
