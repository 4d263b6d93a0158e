import { z } from 'zod';
import { channelName, kubeContextName, kubernetesName, policyHandle, repositorySchema } from '../names';
import { duration } from './fields';

/**
 * Seed 001 §5, the binary-layer rollback of a merge: the helm tag pin (secondary, no code change,
 * < 5 min) and the merge revert (primary, PR revert + CI deploy, < 30 min). The release, its values
 * key and the check that the old code runs are the policy owner's: a run names only the merge.
 */

/** A chart reference or path that helm cannot read as a flag. */
const chartReference = z
  .string()
  .regex(/^[A-Za-z0-9._/:@-]+$/, 'must be a chart reference (repo/chart, oci://…, or a path)')
  .refine((value) => !value.startsWith('-'), 'must not start with "-"');

export const releaseRollbackPolicySchema = z
  .object({
    /** The repository the merge belongs to; the revert PR is opened there. */
    repository: repositorySchema,
    gitHubChannel: channelName.default('github'),
    kubeContext: kubeContextName,
    namespace: kubernetesName,
    helm: z
      .object({
        release: kubernetesName,
        chart: chartReference,
        /** The values key holding the image tag (seed 001: cvntradeImageTag); dots for nesting. */
        imageTagKey: z
          .string()
          .regex(
            /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/,
            'must be a values key like "image.tag"',
          )
          .default('cvntradeImageTag'),
        /** `helm upgrade --wait --timeout`: inside the pin's 5 minutes. */
        timeout: duration.prefault('4m'),
        /** Image tags are the commit SHA, full or its first N characters. */
        tagLength: z.number().int().min(7).max(40).default(40),
      })
      .strict(),
    /** The check that the old code runs: `kubectl exec deploy/<deployment> -- grep -c -F -e <pattern> <file>`. */
    verify: z
      .object({
        deployment: kubernetesName,
        container: kubernetesName.optional(),
        file: z.string().regex(/^\/[A-Za-z0-9._/-]+$/, 'must be an absolute path in the container'),
        pattern: z
          .string()
          .min(1)
          .max(200)
          .refine((value) => !/[\n\r]/.test(value), 'must be one line'),
        /** Whether the pre-merge code has the pattern (present) or lacks it (absent). */
        expect: z.enum(['present', 'absent']),
      })
      .strict(),
    /** The seed's targets, measured from each mechanism's start to the old code verified. */
    targets: z
      .object({ helmPin: duration.prefault('5m'), mergeRevert: duration.prefault('30m') })
      .strict()
      .prefault({}),
    /** How often the revert PR and the deployment are read while waiting for CI to deploy. */
    pollInterval: duration.prefault('1m'),
    /** Besides the one who asked, who may decide on a failed step. */
    deciders: z.array(policyHandle).default([]),
  })
  .strict();

export type ReleaseRollbackPolicy = z.output<typeof releaseRollbackPolicySchema>;

/** The seed's targets are ceilings: a policy cannot make a slower rollback count as met. */
export function checkReleaseRollbackCeilings(policy: ReleaseRollbackPolicy, ctx: z.RefinementCtx): void {
  const ceilings: ['helmPin' | 'mergeRevert', number, string][] = [
    ['helmPin', 5 * 60_000, 'helm tag pin < 5 min (seed 001 §5)'],
    ['mergeRevert', 30 * 60_000, 'merge revert < 30 min (seed 001 §5)'],
  ];
  for (const [field, ceiling, why] of ceilings)
    if (policy.targets[field] > ceiling)
      ctx.addIssue({
        code: 'custom',
        path: ['runbooks', 'releaseRollback', 'targets', field],
        message: `must be at most the seed's ${why}`,
      });
  if (policy.helm.timeout >= policy.targets.helmPin)
    ctx.addIssue({
      code: 'custom',
      path: ['runbooks', 'releaseRollback', 'helm', 'timeout'],
      message: 'must be shorter than targets.helmPin (the pin is verified inside its target)',
    });
}
