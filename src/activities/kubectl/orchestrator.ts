import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { kubernetesName } from '../../common/names';
import type { OrchestratorPolicy, RollbackToPilotPolicy } from '../../common/policy';
import { parseInput } from '../validation';
import { runKubectl, type KubectlTarget } from './kubectl';

/**
 * The kubectl operations of RB-LAUNCH-002 on the orchestrator deployment (seed 002). Every call
 * names the policy's context and namespace explicitly. Mutations are check-then-act: they read
 * the current state and change it only if it differs, so a retry after a success changes nothing
 * (exactly once), and each supports `--dry-run=server` for the plan mode.
 */

export interface OrchestratorDeps {
  orchestrator: OrchestratorPolicy;
  rollback: RollbackToPilotPolicy;
  /** Where backups (manifests, pg_dump) are written on the worker. */
  backupDirectory: string;
}

const repoList = z.array(kubernetesName).min(1).max(500);
const dryRun = z.boolean().default(false);

export interface MutationResult {
  /** The kubectl command run (or that would run), for the record. */
  command: string;
  changed: boolean;
  dryRun: boolean;
  before: unknown;
  after: unknown;
}

function joinArgv(argv: string[]): string {
  return argv
    .map((arg) => (/^[A-Za-z0-9_./:=,@-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`))
    .join(' ');
}

export function createOrchestratorActivities(deps: OrchestratorDeps) {
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
  const dryRunFlag = (enabled: boolean): string[] => (enabled ? ['--dry-run=server'] : []);
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

  async function readSchemaVersion(): Promise<string> {
    const { postgres } = rollback;
    const result = await kubectl([
      'exec',
      `deployment/${postgres.deployment}`,
      '--',
      'psql',
      '-U',
      postgres.user,
      '-d',
      postgres.database,
      '-tAc',
      'SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1;',
    ]);
    return result.stdout.trim();
  }

  function ruleName(repo: string): string {
    return `${repo}${orchestrator.alertRuleSuffix}`;
  }

  async function alertRuleEnabled(repo: string): Promise<boolean | null> {
    try {
      const result = await kubectl(
        ['get', 'prometheusrule', ruleName(repo), '-o', 'jsonpath={.spec.groups[0].rules[0].enabled}'],
        {
          target: monitoring,
        },
      );
      return result.stdout.trim() !== 'false';
    } catch (error) {
      if (error instanceof ApplicationFailure && /NotFound|not found/.test(error.message)) return null;
      throw error;
    }
  }

  return {
    /** Seed 002 pre-rollback 1: `kubectl logs deployment/<d> --tail=N`, ERROR / CRITICAL lines counted. */
    readDeploymentLogs: async (): Promise<{
      command: string;
      lines: number;
      errors: number;
      critical: number;
      sample: string[];
    }> => {
      const result = await kubectl(['logs', deployment, `--tail=${orchestrator.logTail}`]);
      const lines = result.stdout.split('\n').filter(Boolean);
      const matching = lines.filter((line) => /\b(ERROR|CRITICAL)\b/.test(line));
      return {
        command: joinArgv(result.argv),
        lines: lines.length,
        errors: matching.filter((line) => /\bERROR\b/.test(line)).length,
        critical: matching.filter((line) => /\bCRITICAL\b/.test(line)).length,
        sample: matching.slice(-10),
      };
    },

    /** Seed 002 pre-rollback 3: deployment and configmap as YAML, kept as backup artifacts. */
    backupManifests: async (raw: { backupKey: string }) => {
      const input = parseInput(
        z.object({ backupKey: z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/) }).strict(),
        raw,
        'backupManifests input',
      );
      mkdirSync(deps.backupDirectory, { recursive: true });
      const artifacts = [];
      for (const [kind, name] of [
        ['deployment', orchestrator.deployment],
        ['configmap', orchestrator.configMap],
      ] as const) {
        const result = await kubectl(['get', kind, name, '-o', 'yaml']);
        const file = path.join(deps.backupDirectory, `${input.backupKey}-${kind}-${name}.yaml`);
        writeFileSync(file, result.stdout);
        artifacts.push({
          kind,
          name,
          path: file,
          bytes: Buffer.byteLength(result.stdout),
          sha256: createHash('sha256').update(result.stdout).digest('hex'),
          yaml:
            result.stdout.length <= 64_000
              ? result.stdout
              : `${result.stdout.slice(0, 64_000)}\n# … truncated; full copy in ${file}`,
        });
      }
      return artifacts;
    },

    /**
     * Seed 002 pre-rollback 3: `pg_dump` of TaskDB through `kubectl exec`, gzipped to the backup
     * folder. Runs as its own long activity that the workflow does not wait for (it never blocks the
     * rollback); heartbeats while streaming; a retry after completion returns the finished file.
     */
    backupDatabase: async (raw: { backupKey: string }) => {
      const input = parseInput(
        z.object({ backupKey: z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/) }).strict(),
        raw,
        'backupDatabase input',
      );
      const { postgres } = rollback;
      mkdirSync(deps.backupDirectory, { recursive: true });
      const file = path.join(deps.backupDirectory, `taskdb_pre_rollback_${input.backupKey}.sql.gz`);
      const done = `${file}.sha256`;
      if (existsSync(done) && existsSync(file)) {
        return {
          path: file,
          bytes: statSync(file).size,
          sha256: readFileSync(done, 'utf8').trim(),
          reused: true,
        };
      }
      const argv = [
        '--context',
        orchestrator.kubeContext,
        '--namespace',
        orchestrator.namespace,
        'exec',
        `deployment/${postgres.deployment}`,
        '--',
        'pg_dump',
        '-U',
        postgres.user,
        postgres.database,
      ];
      const partial = `${file}.partial`;
      const hash = createHash('sha256');
      // spawn (argument array, no shell) rather than execFile: the dump is streamed, not buffered.
      const child = spawn(process.env.KUBECTL ?? 'kubectl', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
      });
      child.stdout.on('data', (chunk: Buffer) => hash.update(chunk));
      // The exit and the end of the file are awaited independently: either can come first.
      const exited = new Promise<number | null>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', resolve);
      });
      const out = createWriteStream(partial);
      const beat = setInterval(() => heartbeat({ bytes: out.bytesWritten }), 5_000);
      let code: number | null;
      try {
        [code] = await Promise.all([exited, pipeline(child.stdout, createGzip(), out)]);
      } finally {
        clearInterval(beat);
      }
      if (code !== 0)
        throw ApplicationFailure.create({
          type: 'BackupFailed',
          message: `pg_dump failed (exit ${code}): ${stderr.trim().slice(-500)}`,
        });
      renameSync(partial, file);
      const sha256 = hash.digest('hex');
      writeFileSync(done, `${sha256}\n`);
      return { path: file, bytes: statSync(file).size, sha256, reused: false };
    },

    readAllowlist: async (): Promise<string[]> => readAllowlist(),

    /** The allowlist change an approver agrees to: current → next, and a hash binding the approval to it. */
    planAllowlistChange: async (raw: { repos: string[] }) => {
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
    },

    /** Seed 002 step 1: `kubectl set env … REPO_ALLOWLIST=<repos>`, only if it differs. */
    setAllowlist: async (raw: { repos: string[]; dryRun?: boolean }): Promise<MutationResult> => {
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
      if (before.join(',') === value) {
        return {
          command: joinArgv(['kubectl', ...argv]),
          changed: false,
          dryRun: input.dryRun,
          before,
          after: before,
        };
      }
      const result = await kubectl(argv);
      return {
        command: joinArgv(result.argv),
        changed: true,
        dryRun: input.dryRun,
        before,
        after: input.dryRun ? before : await readAllowlist(),
      };
    },

    /** `kubectl rollout status deployment/<d> --timeout=Ns`: a timeout is an answer (ok: false), not an error. */
    rolloutStatus: async (raw: { timeoutMs: number }) => {
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
          output: result.stdout.trim().split('\n').slice(-3).join('\n'),
        };
      } catch (error) {
        if (
          error instanceof ApplicationFailure &&
          /timed out waiting|exceeded its progress deadline/.test(error.message)
        ) {
          return {
            ok: false,
            command: `kubectl rollout status ${deployment} --timeout=${seconds}s`,
            output: error.message,
          };
        }
        throw error;
      }
    },

    getReplicas: async (): Promise<number> => readReplicas(),

    /** Seed 002 step 2: `kubectl scale … --replicas=N`, only if it differs. */
    scaleDeployment: async (raw: { replicas: number; dryRun?: boolean }): Promise<MutationResult> => {
      const input = parseInput(
        z.object({ replicas: z.number().int().min(0).max(1_000), dryRun }).strict(),
        raw,
        'scaleDeployment input',
      );
      const before = await readReplicas();
      const argv = ['scale', deployment, `--replicas=${input.replicas}`, ...dryRunFlag(input.dryRun)];
      if (before === input.replicas)
        return {
          command: joinArgv(['kubectl', ...argv]),
          changed: false,
          dryRun: input.dryRun,
          before,
          after: before,
        };
      const result = await kubectl(argv);
      return {
        command: joinArgv(result.argv),
        changed: true,
        dryRun: input.dryRun,
        before,
        after: input.dryRun ? before : await readReplicas(),
      };
    },

    /**
     * Seed 002 step 2 crash loop: a rollout restart. `kubectl rollout restart` stamps the pod
     * template with `kubectl.kubernetes.io/restartedAt: <now>`; we send that same patch with a
     * value fixed per run, so a retried activity does not restart the deployment a second time.
     */
    restartDeployment: async (raw: { restartedAt: string; dryRun?: boolean }): Promise<MutationResult> => {
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
      if (before === input.restartedAt)
        return {
          command: joinArgv(['kubectl', ...argv]),
          changed: false,
          dryRun: input.dryRun,
          before,
          after: before,
        };
      const result = await kubectl(argv);
      return {
        command: joinArgv(result.argv),
        changed: true,
        dryRun: input.dryRun,
        before,
        after: input.dryRun ? before : input.restartedAt,
      };
    },

    /** Pods of the deployment: Ready, restarts, CrashLoopBackOff. */
    deploymentPods: async () => {
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
    },

    /** Seed 002 step 3: the schema version, from inside the postgres pod. */
    readSchemaVersion: async (): Promise<string> => readSchemaVersion(),

    /** Seed 002 step 3: run the rollback SQL only if the schema is newer than the pilot's; verify after. */
    revertSchema: async (raw: { dryRun?: boolean }) => {
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
      const argv = [
        'exec',
        `deployment/${postgres.deployment}`,
        '--',
        'psql',
        '-U',
        postgres.user,
        '-d',
        postgres.database,
        '-v',
        'ON_ERROR_STOP=1',
      ];
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
    },

    /** Seed 002 step 4: the expanded repos listed in the configmap. */
    readExpandedRepos: async (): Promise<string[]> => {
      const key = orchestrator.expandedReposKey.replace(/\./g, '\\.');
      const result = await kubectl([
        'get',
        'configmap',
        orchestrator.configMap,
        '-o',
        `jsonpath={.data.${key}}`,
      ]);
      const repos = result.stdout.split(/[\s,]+/).filter(Boolean);
      const invalid = repos.filter((repo) => !kubernetesName.safeParse(repo).success);
      if (invalid.length > 0) {
        throw ApplicationFailure.create({
          type: 'InvalidInput',
          nonRetryable: true,
          message: `configmap ${orchestrator.configMap} lists repos that are not valid Kubernetes names: ${invalid.join(', ')}`,
        });
      }
      return repos;
    },

    /** Seed 002 step 4: `kubectl patch prometheusrule <repo>-alerts --type=json` to disable, only if enabled. */
    disableAlertRule: async (raw: {
      repo: string;
      dryRun?: boolean;
    }): Promise<MutationResult & { missing: boolean }> => {
      const input = parseInput(
        z.object({ repo: kubernetesName, dryRun }).strict(),
        raw,
        'disableAlertRule input',
      );
      const patch = JSON.stringify([{ op: 'replace', path: '/spec/groups/0/rules/0/enabled', value: false }]);
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
      if (before === null)
        return {
          command: joinArgv(['kubectl', ...argv]),
          changed: false,
          dryRun: input.dryRun,
          before,
          after: null,
          missing: true,
        };
      if (before === false)
        return {
          command: joinArgv(['kubectl', ...argv]),
          changed: false,
          dryRun: input.dryRun,
          before,
          after: false,
          missing: false,
        };
      const result = await runKubectl(monitoring, argv, { timeoutMs });
      return {
        command: joinArgv(result.argv),
        changed: true,
        dryRun: input.dryRun,
        before,
        after: input.dryRun ? before : await alertRuleEnabled(input.repo),
        missing: false,
      };
    },

    /** Seed 002 step 6: health endpoints, from inside the deployment; each must say status "healthy". */
    healthChecks: async () => {
      const results = [];
      for (const check of rollback.healthChecks) {
        try {
          const result = await kubectl([
            'exec',
            deployment,
            '--',
            'curl',
            '-s',
            '--max-time',
            '10',
            check.url,
          ]);
          let status = 'unparseable';
          try {
            const parsed = (JSON.parse(result.stdout) as { status?: unknown }).status;
            status = typeof parsed === 'string' ? parsed : 'missing';
          } catch {
            status = `unparseable: ${result.stdout.trim().slice(0, 100)}`;
          }
          results.push({ name: check.name, url: check.url, status, ok: status === 'healthy' });
        } catch (error) {
          results.push({
            name: check.name,
            url: check.url,
            status: `error: ${(error as Error).message}`,
            ok: false,
          });
        }
      }
      return { ok: results.every((r) => r.ok), checks: results };
    },

    /** Seed 002 step 5: the configured test flow on the pilot repo and its success criteria. */
    runPilotVerification: async () => {
      const { command, timeout, maxDurationSeconds, successPattern } = rollback.pilotVerification;
      const [binary, ...args] = command;
      const started = Date.now();
      const outcome = await new Promise<{
        code: number | null;
        output: string;
        timedOut: boolean;
        spawnError?: string;
      }>((resolve) => {
        const child = spawn(binary!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, timeout);
        const beat = setInterval(() => heartbeat(), 5_000);
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
        child.on('error', (error) => {
          clearTimeout(timer);
          clearInterval(beat);
          resolve({ code: null, output, timedOut, spawnError: error.message });
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          clearInterval(beat);
          resolve({ code, output, timedOut });
        });
      });
      const durationSeconds = (Date.now() - started) / 1000;
      const reasons: string[] = [];
      if (outcome.spawnError) reasons.push(`could not run ${binary}: ${outcome.spawnError}`);
      if (outcome.timedOut) reasons.push(`no result within ${Math.round(timeout / 1000)} s`);
      else if (outcome.code !== 0 && !outcome.spawnError) reasons.push(`exit code ${outcome.code}`);
      if (durationSeconds > maxDurationSeconds)
        reasons.push(`took ${durationSeconds.toFixed(1)} s (> ${maxDurationSeconds} s)`);
      if (successPattern && !new RegExp(successPattern).test(outcome.output))
        reasons.push(`output does not match /${successPattern}/`);
      return {
        ok: reasons.length === 0,
        command: joinArgv(command),
        exitCode: outcome.code,
        durationSeconds,
        reasons,
        outputTail: outcome.output.split('\n').slice(-15).join('\n'),
      };
    },
  };
}
