import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { ReleaseRollbackPolicy } from '../../common/policy';
import { requiredSection } from '../validation';
import { runKubectl } from './kubectl';

/**
 * Seed 001 §5: "code verified via kubectl exec … grep". Which image the deployment runs, whether
 * its rollout is complete, and whether the running code has (or lacks) the policy's pattern.
 */

export interface ReleaseCodeCheck {
  image: string;
  /** The image's tag (after the last ":" of the name). */
  imageTag?: string;
  rolledOut: boolean;
  /** Lines of the file with the pattern (grep -c); absent when the rollout was not complete. */
  matches?: number;
  expect: 'present' | 'absent';
  /** Rolled out, and the pattern as the pre-merge code has it. */
  oldCodeRunning: boolean;
  command: string;
  checkedAt: string;
}

const deploymentSchema = z.looseObject({
  metadata: z.looseObject({ generation: z.number().optional() }),
  spec: z.looseObject({
    replicas: z.number().optional(),
    template: z.looseObject({
      spec: z.looseObject({ containers: z.array(z.looseObject({ name: z.string(), image: z.string() })) }),
    }),
  }),
  status: z
    .looseObject({
      observedGeneration: z.number().optional(),
      updatedReplicas: z.number().optional(),
      readyReplicas: z.number().optional(),
    })
    .optional(),
});

export function createReleaseCheckActivities(deps: { release: ReleaseRollbackPolicy | undefined }) {
  return {
    verifyReleaseCode: async (): Promise<ReleaseCodeCheck> => {
      const policy = requiredSection(deps.release, 'runbooks.releaseRollback');
      const { verify } = policy;
      const target = { context: policy.kubeContext, namespace: policy.namespace };
      const got = await runKubectl(target, ['get', `deployment/${verify.deployment}`, '-o', 'json'], {
        timeoutMs: 30_000,
      });
      const deployment = deploymentSchema.parse(JSON.parse(got.stdout));
      const containers = deployment.spec.template.spec.containers;
      const container = verify.container
        ? containers.find((c) => c.name === verify.container)
        : containers[0];
      if (!container)
        throw ApplicationFailure.create({
          type: 'KubectlRejected',
          nonRetryable: true,
          message: `deployment/${verify.deployment} has no container ${verify.container ?? '(none)'}`,
        });
      const replicas = deployment.spec.replicas ?? 1;
      const status = deployment.status ?? {};
      const rolledOut =
        (status.observedGeneration ?? 0) >= (deployment.metadata.generation ?? 0) &&
        (status.updatedReplicas ?? 0) >= replicas &&
        (status.readyReplicas ?? 0) >= replicas;
      const tagAt = container.image.lastIndexOf(':');
      const imageTag =
        tagAt > container.image.lastIndexOf('/') ? container.image.slice(tagAt + 1) : undefined;
      const grep = ['grep', '-c', '-F', '-e', verify.pattern, verify.file];
      const args = [
        'exec',
        `deployment/${verify.deployment}`,
        ...(verify.container ? ['-c', verify.container] : []),
        '--',
        ...grep,
      ];
      const command = `kubectl --context ${policy.kubeContext} --namespace ${policy.namespace} ${args.join(' ')}`;
      const base = {
        image: container.image,
        ...(imageTag ? { imageTag } : {}),
        expect: verify.expect,
        command,
      };
      if (!rolledOut)
        return { ...base, rolledOut, oldCodeRunning: false, checkedAt: new Date().toISOString() };
      let matches: number;
      try {
        matches = Number((await runKubectl(target, args, { timeoutMs: 30_000 })).stdout.trim() || '0');
      } catch (error) {
        // grep exits 1 when nothing matched: an answer, not a failure (exit 2 is: no such file).
        if (!/command terminated with exit code 1\b/.test(error instanceof Error ? error.message : ''))
          throw error;
        matches = 0;
      }
      return {
        ...base,
        rolledOut,
        matches,
        oldCodeRunning: verify.expect === 'present' ? matches > 0 : matches === 0,
        checkedAt: new Date().toISOString(),
      };
    },
  };
}
