import { Runtime, DefaultLogger } from '@temporalio/worker';
import { Pool } from 'pg';
import { resolveChannels } from '../activities/channels';
import { ensureRunbookTables } from '../db/runbook-schema';
import { describeSizing, loadWorkerConfig, redactUrl } from './config';
import { connectWorker, loadTemporalTarget } from './connection';
import { ConfigurationError } from '../common/errors';
import { unservedRunbooks, type Policy, type UnservedRunbook } from '../common/policy';
import { loadPolicyFile } from './policy';
import { createRunbookWorker } from './worker';
import { runbookDataConverter } from '../codec/aes-gcm';
import { describePayloadKeys, loadPayloadKeys } from '../codec/keys';

/**
 * Worker entry point: validate config and policy (fail fast, readable), check the database,
 * create the runbooks' own tables, connect to Temporal, serve the `runbooks` task queue.
 */
async function main(): Promise<void> {
  const logger = new DefaultLogger((process.env.RUNBOOKS_LOG_LEVEL as 'INFO' | undefined) ?? 'INFO');
  Runtime.install({ logger });

  const config = loadWorkerConfig(process.env);
  const payloadKeys = loadPayloadKeys(process.env);
  if (payloadKeys === 'off')
    logger.warn(
      'PAYLOAD ENCRYPTION IS OFF (RUNBOOKS_PAYLOAD_ENCRYPTION=off): inputs, results and history are stored in clear',
    );
  const loaded = loadPolicyFile(config.policyFile);
  const { policy, canonicalPayload, file } = loaded;
  const drillLogDirectory = config.drillLogDirectory ?? loaded.drillLogDirectory;
  const backupDirectory = config.backupDirectory ?? loaded.backupDirectory;
  if (policy.testOnlyShortDurations) {
    logger.warn('POLICY ALLOWS TEST-ONLY SHORT DURATIONS: never use this policy for a real incident', {
      policyFile: file,
    });
  }
  const channels = resolveChannels(policy.notifications, process.env);
  const target = loadTemporalTarget();

  const db = new Pool({ connectionString: config.databaseUrl, max: 10, connectionTimeoutMillis: 10_000 });
  // An idle connection dropped by the server (restart, failover) must not crash the worker:
  // the pool discards it and the next activity attempt connects afresh.
  db.on('error', (error) => logger.warn('target database connection lost', { error: error.message }));
  try {
    await db.query('SELECT 1');
  } catch (error) {
    throw new ConfigurationError(
      `Cannot reach the target database ${redactUrl(config.databaseUrl)}: ${(error as Error).message}`,
    );
  }
  await ensureRunbookTables(db);
  const stagingDb = config.stagingDatabaseUrl
    ? await connectStaging(config.stagingDatabaseUrl, logger)
    : undefined;

  const connection = await connectWorker(target);
  const worker = await createRunbookWorker({
    connection,
    namespace: target.namespace,
    taskQueue: config.taskQueue,
    ...(config.deployment ? { deployment: config.deployment } : {}),
    dataConverter: runbookDataConverter(payloadKeys),
    sizing: config.sizing,
    deps: {
      db,
      ...(stagingDb ? { stagingDb } : {}),
      policy,
      canonicalPayload,
      channels,
      drillLogDirectory,
      backupDirectory,
    },
  });
  const unserved = reportUnserved(policy, stagingDb !== undefined, logger);
  logger.info('runbooks worker started', {
    temporal: target.address,
    namespace: target.namespace,
    taskQueue: config.taskQueue,
    workerVersion: config.deployment
      ? `${config.deployment.deploymentName}:${config.deployment.buildId} (make it current: temporal worker deployment set-current-version)`
      : 'unversioned',
    sizing: describeSizing(config.sizing),
    payloadEncryption: describePayloadKeys(payloadKeys),
    database: redactUrl(config.databaseUrl),
    staging: config.stagingDatabaseUrl
      ? redactUrl(config.stagingDatabaseUrl)
      : 'none (the drill needs STAGING_DATABASE_URL)',
    policyFile: file,
    drillLogDirectory,
    backupDirectory,
    channels: channels.names(),
    cannotServe: unserved.map((entry) => entry.runbook),
  });
  try {
    await worker.run();
  } finally {
    await connection.close();
    await db.end();
    await stagingDb?.end();
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigurationError) {
    process.stderr.write(`runbooks worker: ${error.message}\n`);
  } else {
    process.stderr.write(
      `runbooks worker failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
  process.exit(1);
});

/** Says at start what this worker cannot serve (a run of it fails at its start with the reason). */
function reportUnserved(policy: Policy, hasStaging: boolean, logger: DefaultLogger): UnservedRunbook[] {
  const unserved = unservedRunbooks(policy);
  if (!hasStaging)
    unserved.push({
      runbook: 'breakGlassDrill',
      reason: 'no STAGING_DATABASE_URL: the drill restores on a staging database only',
    });
  for (const { runbook, reason } of unserved)
    logger.warn(`this worker cannot serve ${runbook}`, { runbook, reason });
  return unserved;
}

/** The staging database the drill restores on: reachable and with our tables, or a clear error. */
async function connectStaging(url: string, logger: DefaultLogger): Promise<Pool> {
  const stagingDb = new Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 });
  stagingDb.on('error', (error) => logger.warn('staging database connection lost', { error: error.message }));
  try {
    await stagingDb.query('SELECT 1');
  } catch (error) {
    throw new ConfigurationError(
      `Cannot reach the staging database ${redactUrl(url)}: ${(error as Error).message}`,
    );
  }
  await ensureRunbookTables(stagingDb);
  return stagingDb;
}
