import { existsSync, readFileSync } from 'node:fs';
import { Client } from '@temporalio/client';
import { startTracing } from '../worker/tracing';
import { isAlive, stackConnectionFile, type StackConnection } from '../local/stack-connection';
import { DEFAULT_TASK_QUEUE, tracesExportFrom } from '../worker/config';
import { connectClient, loadTemporalTarget } from '../worker/connection';
import { runbookDataConverter } from '../codec/aes-gcm';
import { loadPayloadKeys, PAYLOAD_KEYS_ENV, PAYLOAD_KEYS_FILE_ENV } from '../codec/keys';

/**
 * Temporal's standard environment configuration decides; when it names no server at all, a local
 * stack that is running (its connection file and a live process) is used, so the commands the
 * stack prints work whatever ports it was started on.
 */
export function clientEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (env.TEMPORAL_ADDRESS || env.TEMPORAL_PROFILE || env.TEMPORAL_CONFIG_FILE) return env;
  const file = stackConnectionFile(env);
  if (!existsSync(file)) return env;
  try {
    const stack = JSON.parse(readFileSync(file, 'utf8')) as StackConnection;
    if (!isAlive(stack.pid)) return env;
    const ownKeys = env[PAYLOAD_KEYS_ENV] ?? env[PAYLOAD_KEYS_FILE_ENV];
    return {
      ...env,
      TEMPORAL_ADDRESS: stack.address,
      TEMPORAL_NAMESPACE: env.TEMPORAL_NAMESPACE ?? stack.namespace,
      // The stack's payload keys, unless the caller gave its own.
      ...(stack.payloadKeysFile && !ownKeys ? { [PAYLOAD_KEYS_FILE_ENV]: stack.payloadKeysFile } : {}),
    };
  } catch {
    return env;
  }
}

export interface CommandContext {
  client: Client;
  namespace: string;
  taskQueue: string;
}

/** How long the CLI's exit waits for the collector. */
export const CLI_EXPORT_TIMEOUT_MS = 2_000;

/** Connects once, runs `work`, always closes the connection. */
export async function withClient<T>(work: (ctx: CommandContext) => Promise<T>): Promise<T> {
  const env = clientEnvironment();
  const target = loadTemporalTarget(env);
  const dataConverter = runbookDataConverter(loadPayloadKeys(env));
  const tracesExport = tracesExportFrom(env);
  // The CLI's start opens the run's trace, which the worker's spans then join.
  const say = (message: string, meta: Record<string, unknown>): void => {
    process.stderr.write(`${message} ${JSON.stringify(meta)}\n`);
  };
  // A command waits for its spans' export as it exits: a collector that does not answer may hold
  // it for this long, not for the worker's 10 s.
  const tracing = tracesExport
    ? startTracing(tracesExport, 'durable-runbooks-cli', { warn: say, info: say }, CLI_EXPORT_TIMEOUT_MS)
    : undefined;
  const connection = await connectClient(target).catch(async (error: unknown) => {
    await tracing?.shutdown();
    throw error;
  });
  try {
    const client = new Client({
      connection,
      namespace: target.namespace,
      dataConverter,
      ...(tracing ? { interceptors: { workflow: [tracing.clientInterceptor] } } : {}),
    });
    return await work({
      client,
      namespace: target.namespace,
      taskQueue: process.env.RUNBOOKS_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    });
  } finally {
    await connection.close();
    await tracing?.shutdown();
  }
}
