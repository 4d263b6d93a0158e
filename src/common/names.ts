import { z } from 'zod';
import { sharedSchemas } from './shared-schemas';

/**
 * Name rules shared by inputs, policies and activities. Kept apart from the policy schemas so that
 * workflow code can validate a repo or story name without pulling the whole policy into its bundle.
 */

export const {
  kubernetesName,
  kubeContextName,
  repositorySchema,
  storyIdSchema,
  policyHandle,
  channelName,
  envName,
} = sharedSchemas('common/names', () => ({
  /** RFC 1123 label: what Kubernetes accepts as a namespace, deployment or (here) repo name. */
  kubernetesName: z
    .string()
    .regex(
      /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
      'must be a Kubernetes name (lower-case letters, digits, "-", at most 63)',
    ),

  /** A kubeconfig context name, passed to kubectl as `--context`. */
  kubeContextName: z.string().regex(/^[A-Za-z0-9._@:/-]{1,253}$/, 'must be a kubeconfig context name'),

  /** A GitHub repository, "owner/repo". */
  repositorySchema: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be "owner/repo"'),

  /** A story of the backstop program (seed 001), e.g. "CVN-N001-EE-S17". */
  storyIdSchema: z
    .string()
    .regex(
      /^[A-Za-z0-9._-]{1,100}$/,
      'must be a story id like "CVN-N001-EE-S17" (letters, digits, ".", "_", "-")',
    ),

  /** A handle in the policy (roster, deciders, escalation): "@dococeven" or "dococeven". */
  policyHandle: z
    .string()
    .regex(
      /^@?[A-Za-z0-9][A-Za-z0-9._-]*$/,
      'must be a handle like "@dococeven" (letters, digits, ".", "_", "-")',
    ),

  /** A channel named in the policy's notifications. */
  channelName: z.string().regex(/^[a-z][a-z0-9-]*$/, 'channel names are lower-case words joined by "-"'),

  /** The NAME of an environment variable (the policy never holds a secret itself). */
  envName: z
    .string()
    .regex(
      /^[A-Z_][A-Z0-9_]*$/,
      'must be the NAME of an environment variable holding the secret, not the secret',
    ),
}));
