import { Client } from '@temporalio/client';
import { runningStack } from '../local/stack-connection';
import { DEFAULT_TASK_QUEUE, tracesExportFrom } from '../worker/config';
import { connectClient, loadTemporalTarget } from '../worker/connection';
import { runbookDataConverter } from '../codec/aes-gcm';
import { loadPayloadKeys, PAYLOAD_KEYS_ENV, PAYLOAD_KEYS_FILE_ENV } from '../codec/keys';
import { ConfigurationError } from '../common/errors';

/**
 * Temporal's standard environment configuration decides; when it names no server at all, a local
 * stack that is running (its connection file and a live process) is used, so the commands the
 * stack prints work whatever ports it was started on.
 */
export function clientEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (namesServer(env)) return env;
  const stack = runningStack(env);
  if (!stack) return env;
  const ownKeys = env[PAYLOAD_KEYS_ENV] ?? env[PAYLOAD_KEYS_FILE_ENV];
  return {
    ...env,
    TEMPORAL_ADDRESS: stack.address,
    TEMPORAL_NAMESPACE: env.TEMPORAL_NAMESPACE ?? stack.namespace,
    // The stack's payload keys, unless the caller gave its own.
    ...(stack.payloadKeysFile && !ownKeys ? { [PAYLOAD_KEYS_FILE_ENV]: stack.payloadKeysFile } : {}),
  };
}

function namesServer(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.TEMPORAL_ADDRESS || env.TEMPORAL_PROFILE || env.TEMPORAL_CONFIG_FILE);
}

/**
 * Said with a configuration error of a command typed where nothing names a server and no local
 * stack runs (the stack stopped, or never started here): alone, that error was "payload encryption
 * has no key", which sent people after keys when what they lacked was a running stack. `env` is
 * clientEnvironment's: a running stack has named itself there.
 */
export function noServerHint(env: NodeJS.ProcessEnv): string | undefined {
  if (namesServer(env)) return undefined;
  return (
    'No Temporal server is named (TEMPORAL_ADDRESS or TEMPORAL_PROFILE) and no local stack is running here: ' +
    '"npm run stack" starts one, and the CLI then finds its address and payload keys by itself.'
  );
}

/**
 * `error` after the hint above, when there is one, as the CLI says a configuration problem: the
 * hint first, since it is what to do (the missing key follows from the missing stack).
 */
function withHint(error: unknown, hint: string | undefined): unknown {
  if (!hint) return error;
  return new ConfigurationError(`${hint}\n${error instanceof Error ? error.message : String(error)}`);
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
  const hint = noServerHint(env);
  let target: ReturnType<typeof loadTemporalTarget>;
  let dataConverter: ReturnType<typeof runbookDataConverter>;
  try {
    target = loadTemporalTarget(env);
    dataConverter = runbookDataConverter(loadPayloadKeys(env));
  } catch (error) {
    throw withHint(error, hint);
  }
  const tracesExport = tracesExportFrom(env);
  // The CLI's start opens the run's trace, which the worker's spans then join.
  const say = (message: string, meta: Record<string, unknown>): void => {
    process.stderr.write(`${message} ${JSON.stringify(meta)}\n`);
  };
  // A command waits for its spans' export as it exits: a collector that does not answer may hold
  // it for this long, not for the worker's 10 s.
  // Loaded only when traces are exported: OpenTelemetry's SDK and the Temporal interceptors are
  // ~120 modules that every command paid for at start otherwise.
  const tracing = tracesExport
    ? (await import('../worker/tracing.js')).startTracing(
        tracesExport,
        'durable-runbooks-cli',
        { warn: say, info: say },
        CLI_EXPORT_TIMEOUT_MS,
      )
    : undefined;
  const connection = await connectClient(target).catch(async (error: unknown) => {
    await tracing?.shutdown();
    throw error; // it says already how to start the stack or name a server
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
