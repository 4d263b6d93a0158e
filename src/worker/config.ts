import path from 'node:path';
import { z } from 'zod';
import { describeIssues } from '../common/validation';
import { ConfigurationError } from '../common/errors';
import { REPO_ROOT } from '../local/paths';

export const DEFAULT_POLICY_FILE = path.join(REPO_ROOT, 'policy', 'default-policy.json');
export const DEFAULT_TASK_QUEUE = 'runbooks';

const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// connection URL');

/** A deployment name or build id: what the Temporal CLI and UI show, so plain and short. */
const deploymentPart = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'letters, digits, ".", "_" and "-" (at most 100)');

/**
 * Worker settings from the environment. The Temporal connection itself comes from Temporal's
 * standard environment configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS_*, or a TOML profile), so any cluster or Temporal Cloud works unchanged.
 */
const workerEnvSchema = z
  .object({
    DATABASE_URL: postgresUrl.describe('target database (ftf_config, ledger)'),
    STAGING_DATABASE_URL: postgresUrl.optional(),
    RUNBOOKS_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
    RUNBOOKS_POLICY_FILE: z.string().min(1).default(DEFAULT_POLICY_FILE),
    /** Where drill logs and rollback backups go, instead of the policy's folders (the local stack's state folder). */
    RUNBOOKS_DRILL_LOG_DIR: z.string().min(1).optional(),
    RUNBOOKS_BACKUP_DIR: z.string().min(1).optional(),
    /**
     * Worker Versioning (Worker Deployments): the deployment this worker belongs to and its build
     * id. Both or neither; without them the worker is unversioned (the local stack, the tests).
     */
    RUNBOOKS_DEPLOYMENT_NAME: deploymentPart.optional(),
    RUNBOOKS_BUILD_ID: deploymentPart.optional(),
  })
  .superRefine((env, ctx) => {
    for (const [given, missing] of [
      ['RUNBOOKS_DEPLOYMENT_NAME', 'RUNBOOKS_BUILD_ID'],
      ['RUNBOOKS_BUILD_ID', 'RUNBOOKS_DEPLOYMENT_NAME'],
    ] as const)
      if (env[given] !== undefined && env[missing] === undefined)
        ctx.addIssue({
          code: 'custom',
          path: [missing],
          message: `is required with ${given} (a versioned worker needs both its deployment name and its build id)`,
        });
  });

export interface WorkerConfig {
  databaseUrl: string;
  stagingDatabaseUrl?: string;
  taskQueue: string;
  policyFile: string;
  drillLogDirectory?: string;
  backupDirectory?: string;
  /** Worker Versioning: this worker's deployment version (absent: unversioned). */
  deployment?: WorkerDeploymentVersion;
}

export interface WorkerDeploymentVersion {
  deploymentName: string;
  buildId: string;
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  const parsed = workerEnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigurationError(
      `${describeIssues(parsed.error, 'Worker environment')}\n` +
        'Set DATABASE_URL to the target Postgres (e.g. postgres://user@127.0.0.1:5432/champollion); ' +
        'see README "Configuration".',
    );
  }
  return {
    databaseUrl: parsed.data.DATABASE_URL,
    ...(parsed.data.STAGING_DATABASE_URL ? { stagingDatabaseUrl: parsed.data.STAGING_DATABASE_URL } : {}),
    taskQueue: parsed.data.RUNBOOKS_TASK_QUEUE,
    policyFile: path.resolve(parsed.data.RUNBOOKS_POLICY_FILE),
    ...(parsed.data.RUNBOOKS_DRILL_LOG_DIR
      ? { drillLogDirectory: path.resolve(parsed.data.RUNBOOKS_DRILL_LOG_DIR) }
      : {}),
    ...(parsed.data.RUNBOOKS_BACKUP_DIR
      ? { backupDirectory: path.resolve(parsed.data.RUNBOOKS_BACKUP_DIR) }
      : {}),
    ...(parsed.data.RUNBOOKS_DEPLOYMENT_NAME && parsed.data.RUNBOOKS_BUILD_ID
      ? {
          deployment: {
            deploymentName: parsed.data.RUNBOOKS_DEPLOYMENT_NAME,
            buildId: parsed.data.RUNBOOKS_BUILD_ID,
          },
        }
      : {}),
  };
}

/** A connection URL with its password masked, for log lines and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
