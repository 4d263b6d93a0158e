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

/**
 * Worker settings from the environment. The Temporal connection itself comes from Temporal's
 * standard environment configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS_*, or a TOML profile), so any cluster or Temporal Cloud works unchanged.
 */
const workerEnvSchema = z.object({
  DATABASE_URL: postgresUrl.describe('target database (ftf_config, ledger)'),
  STAGING_DATABASE_URL: postgresUrl.optional(),
  RUNBOOKS_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  RUNBOOKS_POLICY_FILE: z.string().min(1).default(DEFAULT_POLICY_FILE),
  /** Where drill logs and rollback backups go, instead of the policy's folders (the local stack's state folder). */
  RUNBOOKS_DRILL_LOG_DIR: z.string().min(1).optional(),
  RUNBOOKS_BACKUP_DIR: z.string().min(1).optional(),
});

export interface WorkerConfig {
  databaseUrl: string;
  stagingDatabaseUrl?: string;
  taskQueue: string;
  policyFile: string;
  drillLogDirectory?: string;
  backupDirectory?: string;
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
