import { createHash } from 'node:crypto';
import { z } from 'zod';
import { kubernetesName } from '../../../common/names';
import { scrubTail } from '../../../common/scrub';
import { parseInput } from '../../validation';
import { joinArgv, type OrchestratorCluster } from './cluster';

const repoList = z.array(kubernetesName).min(1).max(500);

/** Seed 002 pre-rollback 1: `kubectl logs deployment/<d> --tail=N`, ERROR / CRITICAL lines counted. */
async function readDeploymentLogs(cluster: OrchestratorCluster): Promise<{
  command: string;
  lines: number;
  errors: number;
  critical: number;
  sample: string[];
}> {
  const { orchestrator, kubectl, deployment } = cluster;
  const result = await kubectl(['logs', deployment, `--tail=${orchestrator.logTail}`]);
  const lines = result.stdout.split('\n').filter(Boolean);
  const matching = lines.filter((line) => /\b(ERROR|CRITICAL)\b/.test(line));
  return {
    command: joinArgv(result.argv),
    lines: lines.length,
    errors: matching.filter((line) => /\bERROR\b/.test(line)).length,
    critical: matching.filter((line) => /\bCRITICAL\b/.test(line)).length,
    // Log lines can quote anything (a connection string, a token): scrubbed and cut before the history.
    sample: matching.slice(-10).map((line) => scrubTail(line, cluster.secrets, 500)),
  };
}

/** The allowlist change an approver agrees to: current → next, and a hash binding the approval to it. */
async function planAllowlistChange(cluster: OrchestratorCluster, raw: { repos: string[] }) {
  const { orchestrator, readAllowlist } = cluster;
  const input = parseInput(z.object({ repos: repoList }).strict(), raw, 'planAllowlistChange input');
  const current = await readAllowlist();
  const planHash = createHash('sha256')
    .update(
      JSON.stringify({
        deployment: orchestrator.deployment,
        env: orchestrator.allowlistEnv,
        current,
        next: input.repos,
      }),
    )
    .digest('hex');
  return {
    current,
    next: input.repos,
    added: input.repos.filter((repo) => !current.includes(repo)),
    planHash,
  };
}

/** Pods of the deployment: Ready, restarts, CrashLoopBackOff. */
async function deploymentPods(cluster: OrchestratorCluster) {
  const { orchestrator, rollback, kubectl } = cluster;
  const result = await kubectl(['get', 'pods', '-l', orchestrator.podSelector, '-o', 'json']);
  const list = JSON.parse(result.stdout) as {
    items: {
      metadata: { name: string };
      status?: {
        conditions?: { type: string; status: string }[];
        containerStatuses?: { restartCount?: number; state?: { waiting?: { reason?: string } } }[];
      };
    }[];
  };
  const pods = list.items.map((item) => {
    const statuses = item.status?.containerStatuses ?? [];
    return {
      name: item.metadata.name,
      ready: item.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
      restarts: statuses.reduce((sum, s) => sum + (s.restartCount ?? 0), 0),
      waitingReason: statuses.map((s) => s.state?.waiting?.reason).find(Boolean) ?? null,
    };
  });
  const crashLooping = pods.filter(
    (pod) => pod.waitingReason === 'CrashLoopBackOff' || pod.restarts >= rollback.crashLoopRestarts,
  );
  return {
    pods,
    ready: pods.filter((p) => p.ready).length,
    crashLoop: crashLooping.length > 0,
    crashLooping: crashLooping.map((p) => p.name),
  };
}

/** Seed 002 step 4: the expanded repos listed in the configmap, as listed (validated by the workflow). */
async function readExpandedRepos(cluster: OrchestratorCluster): Promise<string[]> {
  const { orchestrator, kubectl } = cluster;
  const key = orchestrator.expandedReposKey.replace(/\./g, '\\.');
  const result = await kubectl(['get', 'configmap', orchestrator.configMap, '-o', `jsonpath={.data.${key}}`]);
  // As read (bounded): the workflow reports the names that are not Kubernetes names and leaves them out.
  return result.stdout
    .split(/[\s,]+/)
    .filter(Boolean)
    .slice(0, 1_000)
    .map((repo) => repo.slice(0, 253));
}

/** Read-only looks at the orchestrator (seed 002): logs, allowlist, replicas, pods, schema, expanded repos. */
export function createOrchestratorReads(cluster: OrchestratorCluster) {
  return {
    readDeploymentLogs: () => readDeploymentLogs(cluster),
    readAllowlist: (): Promise<string[]> => cluster.readAllowlist(),
    planAllowlistChange: (raw: { repos: string[] }) => planAllowlistChange(cluster, raw),
    getReplicas: (): Promise<number> => cluster.readReplicas(),
    deploymentPods: () => deploymentPods(cluster),
    /** Seed 002 step 3: the schema version, from inside the postgres pod. */
    readSchemaVersion: (): Promise<string> => cluster.readSchemaVersion(),
    readExpandedRepos: () => readExpandedRepos(cluster),
  };
}
