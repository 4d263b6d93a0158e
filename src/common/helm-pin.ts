import type { ReleaseRollbackPolicy } from './policy';

/**
 * The helm arguments of seed 001 §5's tag pin: `upgrade` of the policy's release with its values key
 * set to `tag`. One definition for the activity that runs it and the dry run that shows it, so the
 * line a dry run prints is the one a real run executes.
 */
export function helmPinArguments(
  policy: Pick<ReleaseRollbackPolicy, 'kubeContext' | 'namespace' | 'helm'>,
  tag: string,
): string[] {
  const { helm } = policy;
  return [
    'upgrade',
    helm.release,
    helm.chart,
    ...helmTarget(policy),
    '--reuse-values',
    '--set-string',
    `${helm.imageTagKey}=${tag}`,
    '--wait',
    '--timeout',
    `${Math.ceil(helm.timeout / 1000)}s`,
  ];
}

/** Which cluster and namespace every helm call of the pin names. */
export function helmTarget(policy: Pick<ReleaseRollbackPolicy, 'kubeContext' | 'namespace'>): string[] {
  return ['--kube-context', policy.kubeContext, '--namespace', policy.namespace];
}
