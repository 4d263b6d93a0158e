import { z } from 'zod';
import { sharedSchemas } from './shared-schemas';

/**
 * Signed decisions: the approver signs a canonical text with `ssh-keygen -Y sign -n
 * durable-runbooks` (the SSH signature format git uses for commits), with a key the policy lists
 * for their handle. The text names everything the decision is about, so a signature cannot be
 * moved to another namespace, run, decision or plan. Shared by the CLI (signing) and the worker
 * (verifying); only public keys are ever configured.
 */

export const SIGNATURE_NAMESPACE = 'durable-runbooks';

export interface SignedDecision {
  namespace: string;
  workflowId: string;
  decision: string;
  planHash: string;
  /** UTC ISO instant the approver signed. */
  signedAt: string;
}

export function decisionText(decision: SignedDecision): string {
  return [
    'durable-runbooks decision v1',
    `namespace=${decision.namespace}`,
    `workflowId=${decision.workflowId}`,
    `decision=${decision.decision}`,
    `planHash=${decision.planHash}`,
    `signedAt=${decision.signedAt}`,
    '',
  ].join('\n');
}

export const { sshPublicKeySchema, sshSignatureSchema } = sharedSchemas('common/signatures', () => ({
  /** One OpenSSH public key line (`allowed_signers` style, without the principal). */
  sshPublicKeySchema: z
    .string()
    .trim()
    .regex(
      /^(ssh-ed25519|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\n]*)?$/,
      'must be an OpenSSH public key line: "ssh-ed25519 AAAA… comment" or "sk-ssh-ed25519@openssh.com AAAA… comment" (a hardware key)',
    ),

  /** An armored SSH signature as `ssh-keygen -Y sign` prints it. */
  sshSignatureSchema: z
    .string()
    .trim()
    .max(10_000)
    .regex(
      /^-----BEGIN SSH SIGNATURE-----\n[A-Za-z0-9+/=\n]+\n-----END SSH SIGNATURE-----$/,
      'must be the armored output of "ssh-keygen -Y sign -n durable-runbooks" (BEGIN/END SSH SIGNATURE)',
    ),
}));
