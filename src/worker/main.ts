// First: a heap too small for what follows is refused before it is loaded.
import './heap-guard';
import { checkWorkerHeap } from './heap-preflight';
import type { DefaultLogger } from '@temporalio/worker';
import { Runtime } from '@temporalio/worker';
import { resolveChannels } from '../activities/channels';
import { connectDatabase } from './database';
import {
  describeTracesExport,
  describeWorkerConfig,
  loadWorkerConfig,
  tracesExportFrom,
  type WorkerConfig,
} from './config';
import { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { connectClient, loadTemporalTarget, type TemporalTarget } from './connection';
import { connectWorker } from './native-connection';
import { exportAlertedCountersAtZero, OpenRunGauges, prometheusTelemetry } from './metrics';
import { checkRunbookSearchAttributes } from './search-attributes';
import { workerLogger } from './logging';
import { startTracing } from './tracing';
import { ConfigurationError } from '../common/errors';
import { scrubSecrets } from '../common/scrub';
import { unservedRunbooks, type Policy, type UnservedRunbook } from '../common/policy';
import { loadPolicyFile, type LoadedPolicy } from './policy';
import { createRunbookWorker } from './worker';
import { loadPrebuiltBundle } from './prebuilt-bundle';
import { refuseUnservedOpenRuns } from './unserved-open-runs';
import { runbookDataConverter } from '../codec/aes-gcm';
import { describePayloadKeys, loadPayloadKeys } from '../codec/keys';

/** The worker's secrets, as far as they are known (filled in by main). */
const secrets: string[] = [];
/** Whether the SDK's runtime is ours (installed by main), so its buffered log lines can be flushed. */
let runtimeInstalled = false;

/**
 * Worker entry point: validate config and policy (fail fast, readable), check the database,
 * create the runbooks' own tables, connect to Temporal, serve the `runbooks` task queue.
 */
async function main(): Promise<void> {
  const config = loadWorkerConfig(process.env);
  const heap = checkWorkerHeap(process.env);
  const tracesExport = tracesExportFrom(process.env);
  // The collector's header values now, the channels' secrets once resolved: every log line, and
  // the last line of a worker that fails, is scrubbed of them.
  secrets.push(...Object.values(tracesExport?.headers ?? {}));
  const logger = workerLogger(config.log.level, config.log.format, secrets);
  installRuntime(logger, config.metrics?.address);
  if (heap.warning) logger.warn(heap.warning);
  const payloadKeys = loadPayloadKeys(process.env);
  if (payloadKeys === 'off')
    logger.warn(
      'PAYLOAD ENCRYPTION IS OFF (RUNBOOKS_PAYLOAD_ENCRYPTION=off): inputs, results and history are stored in clear',
    );
  const { policy, canonicalPayload, file, drillLogDirectory, backupDirectory } = loadPolicy(config, logger);
  const channels = resolveChannels(policy.notifications, process.env);
  secrets.push(...channels.secretValues);
  const target = loadTemporalTarget();

  const db = await connectDatabase(config.databaseUrl, 'target', { max: 10, warm: 2 }, logger);
  const stagingDb = config.stagingDatabaseUrl
    ? await connectDatabase(config.stagingDatabaseUrl, 'staging', { max: 4, warm: 1 }, logger)
    : undefined;

  const connection = await connectWorker(target);
  await checkRunbookSearchAttributes(connection.operatorService, target.namespace, logger);
  const unserved = reportUnserved(policy, stagingDb !== undefined, logger);
  if (unserved.length)
    await checkUnservedOpenRuns(target, config.taskQueue, unserved, config.deployment !== undefined, logger);
  const dataConverter = runbookDataConverter(payloadKeys);
  const tracing = tracesExport ? startTracing(tracesExport, 'durable-runbooks-worker', logger) : undefined;
  const workflowBundle = prebuiltBundle(config, tracing !== undefined, logger);
  const worker = await createRunbookWorker({
    ...(workflowBundle ? { workflowBundle } : {}),
    connection,
    namespace: target.namespace,
    taskQueue: config.taskQueue,
    ...(config.deployment ? { deployment: config.deployment } : {}),
    dataConverter,
    sizing: config.sizing,
    ...(tracing ? { plugins: [tracing.plugin] } : {}),
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
  // Before "started": a scrape from then on has them.
  if (config.metrics)
    exportAlertedCountersAtZero(Runtime.instance().metricMeter, target.namespace, config.taskQueue);
  logger.info('runbooks worker started', {
    temporal: target.address,
    namespace: target.namespace,
    ...describeWorkerConfig(config),
    traces: describeTracesExport(tracesExport),
    payloadEncryption: describePayloadKeys(payloadKeys),
    policyFile: file,
    drillLogDirectory,
    backupDirectory,
    channels: channels.names(),
    cannotServe: unserved.map((entry) => entry.runbook),
  });
  const gauges = config.metrics
    ? await startOpenRunGauges(target, config.taskQueue, config.metrics, dataConverter, logger)
    : undefined;
  try {
    await worker.run();
  } finally {
    await gauges?.stop();
    await tracing?.shutdown();
    await connection.close();
    await db.end();
    await stagingDb?.end();
  }
}

main().catch((error: unknown) => {
  // The runtime holds forwarded log lines up to 100 ms (to order them): written before the exit.
  if (runtimeInstalled) Runtime.instance().flushLogs();
  if (error instanceof ConfigurationError) {
    process.stderr.write(`runbooks worker: ${error.message}\n`);
  } else {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`runbooks worker failed: ${scrubSecrets(text, secrets)}\n`);
  }
  process.exit(1);
});

/**
 * The workflow bundle the build made (src/worker/prebuilt-bundle.ts), when it was made from this
 * code; else the worker bundles at start, as it did before, and says why. With traces the tracing
 * plugin adds its own workflow interceptors to the bundle, so that worker always bundles.
 */
function prebuiltBundle(config: WorkerConfig, traced: boolean, logger: DefaultLogger) {
  if (traced) return undefined;
  const prebuilt = loadPrebuiltBundle(config.deployment ? 'versioned' : 'unversioned');
  if (prebuilt.bundle) {
    logger.info('workflow code from the prebuilt bundle', { file: prebuilt.file });
    return prebuilt.bundle;
  }
  if (prebuilt.why === 'stale')
    logger.warn(
      'the prebuilt workflow bundle was made from other code: bundling anew (npm run build makes it again)',
      {
        file: prebuilt.file,
      },
    );
  else
    logger.info('no prebuilt workflow bundle (npm run build makes one): bundling at start', {
      file: prebuilt.file,
    });
  return undefined;
}

/**
 * The SDK's runtime, with the Prometheus endpoint when asked. Its core binds the address itself:
 * a port already taken is said as the setting that named it, not as the core's stack trace.
 */
function installRuntime(logger: DefaultLogger, metricsAddress: string | undefined): void {
  try {
    Runtime.install({
      logger,
      telemetryOptions: {
        // The SDK core's own warnings ("Failing workflow task", BadSearchAttributes…) go through
        // our logger: before, core printed them to stderr itself, coloured and not JSON, between
        // the JSON lines, and the scrubbing did not see them.
        logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
        ...(metricsAddress ? prometheusTelemetry(metricsAddress) : {}),
      },
    });
    runtimeInstalled = true;
  } catch (error) {
    if (!metricsAddress) throw error;
    throw new ConfigurationError(
      `RUNBOOKS_METRICS_ADDRESS ${metricsAddress}: the metrics endpoint cannot listen there (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

/** The policy file, its folders overridden by the environment; a test-only policy said loudly. */
function loadPolicy(config: WorkerConfig, logger: DefaultLogger): LoadedPolicy {
  const loaded = loadPolicyFile(config.policyFile);
  if (loaded.policy.testOnlyShortDurations)
    logger.warn('POLICY ALLOWS TEST-ONLY SHORT DURATIONS: never use this policy for a real incident', {
      policyFile: loaded.file,
    });
  return {
    ...loaded,
    drillLogDirectory: config.drillLogDirectory ?? loaded.drillLogDirectory,
    backupDirectory: config.backupDirectory ?? loaded.backupDirectory,
  };
}

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

/** A worker that would fail open runs at their next policy read does not start (unserved-open-runs.ts). */
async function checkUnservedOpenRuns(
  target: TemporalTarget,
  taskQueue: string,
  unserved: UnservedRunbook[],
  versioned: boolean,
  logger: DefaultLogger,
): Promise<void> {
  const connection = await connectClient(target);
  try {
    await refuseUnservedOpenRuns(
      connection.workflowService,
      target.namespace,
      taskQueue,
      unserved,
      versioned,
      logger,
    );
  } finally {
    await connection.close();
  }
}

/** The open-run gauges read from visibility through a client of the worker's own namespace. */
async function startOpenRunGauges(
  target: TemporalTarget,
  taskQueue: string,
  intervals: { visibilityIntervalMs: number; fullListingIntervalMs: number },
  dataConverter: DataConverter,
  logger: DefaultLogger,
): Promise<{ stop(): Promise<void> }> {
  const connection = await connectClient(target);
  const client = new Client({ connection, namespace: target.namespace, dataConverter });
  const fullSweepEvery = Math.max(
    1,
    Math.round(intervals.fullListingIntervalMs / intervals.visibilityIntervalMs),
  );
  const gauges = new OpenRunGauges(client, taskQueue, Runtime.instance().metricMeter, logger, {
    fullSweepEvery,
  });
  gauges.start(intervals.visibilityIntervalMs);
  return {
    stop: async () => {
      await gauges.stop();
      await connection.close();
    },
  };
}
