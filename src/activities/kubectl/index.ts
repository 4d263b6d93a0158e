import type { ConsolePolicy } from '../../common/policy';
import { runKubectl } from './kubectl';

/** Seed 000 Procedure B step 1: the Ready *condition* of each pod (not the phase). */
export const READY_JSONPATH =
  '{range .items[*]}{.metadata.name}{"="}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}';

export interface PodReadiness {
  /** The exact command run, for the evidence. */
  command: string;
  pods: { name: string; ready: boolean; condition: string }[];
  anyReady: boolean;
  checkedAt: string;
}

export function createKubectlActivities(deps: { console: ConsolePolicy; timeoutMs?: number }) {
  return {
    /** kubectl get pods -l <selector> -o jsonpath=… in the Console's namespace. */
    consolePodReadiness: async (): Promise<PodReadiness> => {
      const { console } = deps;
      const result = await runKubectl(
        { context: console.kubeContext, namespace: console.namespace },
        ['get', 'pods', '-l', console.podSelector, '-o', `jsonpath=${READY_JSONPATH}`],
        { timeoutMs: deps.timeoutMs ?? 30_000 },
      );
      const pods = result.stdout
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean)
        .map((line) => {
          const [name = '', condition = ''] = line.split('=');
          return { name, condition, ready: condition === 'True' };
        });
      return {
        command: result.argv.join(' '),
        pods,
        anyReady: pods.some((pod) => pod.ready),
        checkedAt: new Date().toISOString(),
      };
    },
  };
}

export { runKubectl, type KubectlResult, type KubectlTarget } from './kubectl';
