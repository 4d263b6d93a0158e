import { ApplicationFailure } from '@temporalio/common';
import type { OrchestratorPolicy, RollbackToPilotPolicy } from '../../../common/policy';
import { runKubectl, type KubectlResult, type KubectlTarget } from '../kubectl';
import type { ArtifactStore } from '../../artifacts';

/**
 * The orchestrator deployment of RB-LAUNCH-002 (seed 002) as kubectl sees it: every call names the
 * policy's context and namespace explicitly; the reads here are shared by the activities beside it.
 */

export interface OrchestratorDeps {
  orchestrator: OrchestratorPolicy;
  rollback: RollbackToPilotPolicy;
  /** Where backups (manifests, pg_dump) are written on the worker. */
  backupDirectory: string;
  /** Manifests and long command output: kept here, only a reference enters the history. */
  artifacts: ArtifactStore;
  /** Configured secret values, scrubbed from every output that enters a payload. */
  secrets: readonly string[];
}

export interface MutationResult {
  /** The kubectl command run (or that would run), for the record. */
  command: string;
  changed: boolean;
  dryRun: boolean;
  before: unknown;
  after: unknown;
}

/** A command line as a human would type it (for the record; nothing runs through a shell). */
export function joinArgv(argv: string[]): string {
  return argv
    .map((arg) => (/^[A-Za-z0-9_./:=,@-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`))
    .join(' ');
}

/** What check-then-act needs: the command, the state before, and whether it is already as wanted. */
export interface CheckThenAct<T> {
  argv: string[];
  before: T;
  unchanged: boolean;
  dryRun: boolean;
  readAfter: () => Promise<T> | T;
  target?: KubectlTarget;
}

/**
 * Check-then-act: runs `argv` only when the state is not already what is wanted, so a retry after
 * a success changes nothing; the record says what ran (or would have run).
 */
async function checkThenAct<T>(
  kubectl: (args: string[], options?: { target?: KubectlTarget }) => Promise<KubectlResult>,
  step: CheckThenAct<T>,
): Promise<MutationResult> {
  const { argv, before, dryRun } = step;
  if (step.unchanged)
    return { command: joinArgv(['kubectl', ...argv]), changed: false, dryRun, before, after: before };
  const result = await kubectl(argv, step.target ? { target: step.target } : {});
  return {
    command: joinArgv(result.argv),
    changed: true,
    dryRun,
    before,
    after: dryRun ? before : await step.readAfter(),
  };
}

export type OrchestratorCluster = ReturnType<typeof orchestratorCluster>;

export function orchestratorCluster(deps: OrchestratorDeps) {
  const { orchestrator, rollback } = deps;
  const target: KubectlTarget = { context: orchestrator.kubeContext, namespace: orchestrator.namespace };
  const monitoring: KubectlTarget = {
    context: orchestrator.kubeContext,
    namespace: orchestrator.monitoringNamespace,
  };
  const timeoutMs = orchestrator.kubectlTimeout;
  const kubectl = (args: string[], options: { target?: KubectlTarget; timeoutMs?: number } = {}) =>
    runKubectl(options.target ?? target, args, { timeoutMs: options.timeoutMs ?? timeoutMs });
  const deployment = `deployment/${orchestrator.deployment}`;
  const allowlistPath = `{.spec.template.spec.containers[?(@.name=="${orchestrator.container}")].env[?(@.name=="${orchestrator.allowlistEnv}")].value}`;

  async function readAllowlist(): Promise<string[]> {
    const result = await kubectl(['get', deployment, '-o', `jsonpath=${allowlistPath}`]);
    return result.stdout
      .trim()
      .split(',')
      .map((repo) => repo.trim())
      .filter(Boolean);
  }

  async function readReplicas(): Promise<number> {
    const result = await kubectl(['get', deployment, '-o', 'jsonpath={.spec.replicas}']);
    return Number(result.stdout.trim());
  }

  /** `kubectl exec deployment/<postgres> -- psql -U <user> -d <db> <args>`: TaskDB from inside its pod. */
  function psqlArgv(args: string[]): string[] {
    const { postgres } = rollback;
    return [
      'exec',
      `deployment/${postgres.deployment}`,
      '--',
      'psql',
      '-U',
      postgres.user,
      '-d',
      postgres.database,
      ...args,
    ];
  }

  async function readSchemaVersion(): Promise<string> {
    const result = await kubectl(
      psqlArgv(['-tAc', 'SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1;']),
    );
    return result.stdout.trim();
  }

  function ruleName(repo: string): string {
    return `${repo}${orchestrator.alertRuleSuffix}`;
  }

  /** Whether a repo's PrometheusRule is enabled; null when the rule does not exist. */
  async function alertRuleEnabled(repo: string): Promise<boolean | null> {
    try {
      const result = await kubectl(
        ['get', 'prometheusrule', ruleName(repo), '-o', 'jsonpath={.spec.groups[0].rules[0].enabled}'],
        { target: monitoring },
      );
      return result.stdout.trim() !== 'false';
    } catch (error) {
      if (error instanceof ApplicationFailure && /NotFound|not found/.test(error.message)) return null;
      throw error;
    }
  }

  return {
    orchestrator,
    rollback,
    /** Configured secret values, scrubbed from outputs that enter the history. */
    secrets: deps.secrets,
    checkThenAct: (step: CheckThenAct<unknown>) => checkThenAct(kubectl, step),
    target,
    monitoring,
    timeoutMs,
    kubectl,
    deployment,
    dryRunFlag: (enabled: boolean): string[] => (enabled ? ['--dry-run=server'] : []),
    readAllowlist,
    readReplicas,
    readSchemaVersion,
    psqlArgv,
    ruleName,
    alertRuleEnabled,
  };
}
