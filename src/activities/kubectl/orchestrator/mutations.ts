import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { kubernetesName } from '../../../common/names';
import { scrubTail } from '../../../common/scrub';
import { parseInput } from '../../validation';
import { joinArgv, type MutationResult, type OrchestratorCluster } from './cluster';

const repoList = z.array(kubernetesName).min(1).max(500);
const dryRun = z.boolean().default(false);

/** Seed 002 step 1: `kubectl set env … REPO_ALLOWLIST=<repos>`, only if it differs. */
async function setAllowlist(
  cluster: OrchestratorCluster,
  raw: { repos: string[]; dryRun?: boolean },
): Promise<MutationResult> {
  const { orchestrator, deployment, dryRunFlag, readAllowlist, checkThenAct } = cluster;
  const input = parseInput(z.object({ repos: repoList, dryRun }).strict(), raw, 'setAllowlist input');
  const before = await readAllowlist();
  const value = input.repos.join(',');
  const argv = [
    'set',
    'env',
    deployment,
    '-c',
    orchestrator.container,
    `${orchestrator.allowlistEnv}=${value}`,
    ...dryRunFlag(input.dryRun),
  ];
  return checkThenAct({
    argv,
    before,
    unchanged: before.join(',') === value,
    dryRun: input.dryRun,
    readAfter: readAllowlist,
  });
}

/** `kubectl rollout status deployment/<d> --timeout=Ns`: a timeout is an answer (ok: false), not an error. */
async function rolloutStatus(cluster: OrchestratorCluster, raw: { timeoutMs: number }) {
  const { kubectl, deployment } = cluster;
  const input = parseInput(
    z.object({ timeoutMs: z.number().int().positive().max(3_600_000) }).strict(),
    raw,
    'rolloutStatus input',
  );
  const seconds = Math.ceil(input.timeoutMs / 1000);
  try {
    const result = await kubectl(['rollout', 'status', deployment, `--timeout=${seconds}s`], {
      timeoutMs: input.timeoutMs + 15_000,
    });
    return {
      ok: true,
      command: joinArgv(result.argv),
      output: scrubTail(result.stdout.trim().split('\n').slice(-3).join('\n'), cluster.secrets, 1_000),
    };
  } catch (error) {
    if (
      error instanceof ApplicationFailure &&
      /timed out waiting|exceeded its progress deadline/.test(error.message)
    ) {
      return {
        ok: false,
        command: `kubectl rollout status ${deployment} --timeout=${seconds}s`,
        output: scrubTail(error.message, cluster.secrets, 1_000),
      };
    }
    throw error;
  }
}

/** Seed 002 step 2: `kubectl scale … --replicas=N`, only if it differs. */
async function scaleDeployment(
  cluster: OrchestratorCluster,
  raw: { replicas: number; dryRun?: boolean },
): Promise<MutationResult> {
  const { deployment, dryRunFlag, readReplicas, checkThenAct } = cluster;
  const input = parseInput(
    z.object({ replicas: z.number().int().min(0).max(1_000), dryRun }).strict(),
    raw,
    'scaleDeployment input',
  );
  const before = await readReplicas();
  const argv = ['scale', deployment, `--replicas=${input.replicas}`, ...dryRunFlag(input.dryRun)];
  return checkThenAct({
    argv,
    before,
    unchanged: before === input.replicas,
    dryRun: input.dryRun,
    readAfter: readReplicas,
  });
}

/**
 * Seed 002 step 2 crash loop: a rollout restart. `kubectl rollout restart` stamps the pod
 * template with `kubectl.kubernetes.io/restartedAt: <now>`; we send that same patch with a
 * value fixed per run, so a retried activity does not restart the deployment a second time.
 */
async function restartDeployment(
  cluster: OrchestratorCluster,
  raw: { restartedAt: string; dryRun?: boolean },
): Promise<MutationResult> {
  const { kubectl, deployment, dryRunFlag, checkThenAct } = cluster;
  const input = parseInput(
    z.object({ restartedAt: z.iso.datetime(), dryRun }).strict(),
    raw,
    'restartDeployment input',
  );
  const annotation = 'kubectl.kubernetes.io/restartedAt';
  const current = await kubectl([
    'get',
    deployment,
    '-o',
    `jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}`,
  ]);
  const before = current.stdout.trim() || null;
  const patch = JSON.stringify({
    spec: { template: { metadata: { annotations: { [annotation]: input.restartedAt } } } },
  });
  const argv = ['patch', deployment, '--type=merge', '-p', patch, ...dryRunFlag(input.dryRun)];
  return checkThenAct({
    argv,
    before,
    unchanged: before === input.restartedAt,
    dryRun: input.dryRun,
    readAfter: () => input.restartedAt,
  });
}

/** Seed 002 step 3: run the rollback SQL only if the schema is newer than the pilot's; verify after. */
async function revertSchema(cluster: OrchestratorCluster, raw: { dryRun?: boolean }) {
  const { orchestrator, rollback, kubectl, readSchemaVersion, psqlArgv } = cluster;
  const input = parseInput(z.object({ dryRun }).strict(), raw, 'revertSchema input');
  const { postgres } = rollback;
  const before = await readSchemaVersion();
  if (before <= postgres.pilotSchemaVersion) {
    return {
      ran: false,
      before,
      after: before,
      ok: true,
      pilotVersion: postgres.pilotSchemaVersion,
      command: null as string | null,
      error: null as string | null,
    };
  }
  const argv = psqlArgv(['-v', 'ON_ERROR_STOP=1']);
  const command = joinArgv([
    'kubectl',
    '--context',
    orchestrator.kubeContext,
    '--namespace',
    orchestrator.namespace,
    ...argv,
    '-f',
    postgres.rollbackSqlFile,
  ]);
  if (input.dryRun) {
    return {
      ran: false,
      before,
      after: before,
      ok: true,
      pilotVersion: postgres.pilotSchemaVersion,
      command,
      error: null,
    };
  }
  try {
    await kubectl([...argv, '-f', postgres.rollbackSqlFile], { timeoutMs: 10 * 60_000 });
  } catch (error) {
    const after = await readSchemaVersion().catch(() => before);
    return {
      ran: true,
      before,
      after,
      ok: false,
      pilotVersion: postgres.pilotSchemaVersion,
      command,
      error: (error as Error).message,
    };
  }
  const after = await readSchemaVersion();
  return {
    ran: true,
    before,
    after,
    ok: after === postgres.pilotSchemaVersion,
    pilotVersion: postgres.pilotSchemaVersion,
    command,
    error:
      after === postgres.pilotSchemaVersion
        ? null
        : `schema is ${after} after the rollback SQL, expected ${postgres.pilotSchemaVersion}`,
  };
}

/** A repo's PrometheusRule switched on or off (`kubectl patch … --type=json`), only if it differs. */
async function setAlertRule(
  cluster: OrchestratorCluster,
  raw: { repo: string; dryRun?: boolean },
  enabled: boolean,
): Promise<MutationResult & { missing: boolean }> {
  const { monitoring, dryRunFlag, ruleName, alertRuleEnabled, checkThenAct } = cluster;
  const input = parseInput(
    z.object({ repo: kubernetesName, dryRun }).strict(),
    raw,
    `${enabled ? 'enable' : 'disable'}AlertRule input`,
  );
  const patch = JSON.stringify([{ op: 'replace', path: '/spec/groups/0/rules/0/enabled', value: enabled }]);
  const argv = [
    'patch',
    'prometheusrule',
    ruleName(input.repo),
    '--type=json',
    '-p',
    patch,
    ...dryRunFlag(input.dryRun),
  ];
  const before = await alertRuleEnabled(input.repo);
  const result = await checkThenAct({
    argv,
    before,
    // A missing rule has nothing to change; one already as wanted is left alone.
    unchanged: before === null || before === enabled,
    dryRun: input.dryRun,
    readAfter: () => alertRuleEnabled(input.repo),
    target: monitoring,
  });
  return { ...result, missing: before === null };
}

/**
 * The rollback's mutations (seed 002 steps 1–4). Check-then-act: each reads the current state and
 * changes it only if it differs, so a retry after a success changes nothing (exactly once); each
 * supports `--dry-run=server` for the plan mode.
 */
export function createOrchestratorMutations(cluster: OrchestratorCluster) {
  return {
    setAllowlist: (raw: { repos: string[]; dryRun?: boolean }) => setAllowlist(cluster, raw),
    rolloutStatus: (raw: { timeoutMs: number }) => rolloutStatus(cluster, raw),
    scaleDeployment: (raw: { replicas: number; dryRun?: boolean }) => scaleDeployment(cluster, raw),
    restartDeployment: (raw: { restartedAt: string; dryRun?: boolean }) => restartDeployment(cluster, raw),
    revertSchema: (raw: { dryRun?: boolean }) => revertSchema(cluster, raw),
    /** Seed 002 step 4: a repo's alert rule disabled (the rollback silences the expanded repos). */
    disableAlertRule: (raw: { repo: string; dryRun?: boolean }) => setAlertRule(cluster, raw, false),
    /** Re-enablement: a repo's alert rule enabled again when the repo goes live again. */
    enableAlertRule: (raw: { repo: string; dryRun?: boolean }) => setAlertRule(cluster, raw, true),
  };
}
