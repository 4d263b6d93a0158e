import { existsSync, readFileSync } from 'node:fs';
import { Client } from '@temporalio/client';
import { isAlive, stackConnectionFile, type StackConnection } from '../local/stack-connection';
import { DEFAULT_TASK_QUEUE } from '../worker/config';
import { connectClient, loadTemporalTarget } from '../worker/connection';

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
    return {
      ...env,
      TEMPORAL_ADDRESS: stack.address,
      TEMPORAL_NAMESPACE: env.TEMPORAL_NAMESPACE ?? stack.namespace,
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

/** Connects once, runs `work`, always closes the connection. */
export async function withClient<T>(work: (ctx: CommandContext) => Promise<T>): Promise<T> {
  const target = loadTemporalTarget(clientEnvironment());
  const connection = await connectClient(target);
  try {
    const client = new Client({ connection, namespace: target.namespace });
    return await work({
      client,
      namespace: target.namespace,
      taskQueue: process.env.RUNBOOKS_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    });
  } finally {
    await connection.close();
  }
}
