import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { runbookDataConverter } from '../../src/codec/aes-gcm';
import { loadPayloadKeys } from '../../src/codec/keys';
import { loadWorkerConfig } from '../../src/worker/config';
import { workerLogger } from '../../src/worker/logging';
import { workerSizingOptions } from '../../src/worker/worker';
import { prometheusTelemetry } from '../../src/worker/metrics';

/**
 * The yardsticks' worker process (bench/minimal/workflows.ts): the same connection, codec and sizing
 * as ours, and the same Prometheus endpoint when RUNBOOKS_METRICS_ADDRESS names one.
 */
async function main(): Promise<void> {
  const { sizing, taskQueue, log, metrics } = loadWorkerConfig(process.env);
  // Quiet unless a bench asks for a level (the overhead bench reads the SDK's debug lines).
  Runtime.install({
    logger: workerLogger(process.env.RUNBOOKS_LOG_LEVEL ? log.level : 'WARN', log.format, []),
    ...(metrics ? { telemetryOptions: prometheusTelemetry(metrics.address) } : {}),
  });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue,
    workflowsPath: require.resolve('./workflows'),
    activities: { noop: (): Promise<void> => Promise.resolve() },
    dataConverter: runbookDataConverter(loadPayloadKeys(process.env)),
    ...workerSizingOptions(sizing),
  });
  process.stdout.write(`minimal worker started (${sizing.maxCachedWorkflows} cached)\n`);
  await worker.run();
  await connection.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`minimal worker failed: ${String(error)}\n`);
  process.exit(1);
});
