import { Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { ConfigurationError } from '../common/errors';

/**
 * The Temporal connection from Temporal's standard environment configuration: TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE / TEMPORAL_CONFIG_FILE.
 * Defaults to the local dev server (127.0.0.1:7233, namespace "default"). Client side only (the CLI
 * loads it): the worker's native connection is in ./native-connection.ts, with the SDK's worker.
 */
export interface TemporalTarget {
  address: string;
  namespace: string;
  connectionOptions: ReturnType<typeof loadClientConnectConfig>['connectionOptions'];
}

export function loadTemporalTarget(env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  let config;
  try {
    config = loadClientConnectConfig({ overrideEnvVars: env as Record<string, string> });
  } catch (error) {
    throw new ConfigurationError(`Temporal client configuration is invalid: ${(error as Error).message}`);
  }
  const address = config.connectionOptions.address ?? '127.0.0.1:7233';
  return {
    address,
    namespace: config.namespace ?? 'default',
    connectionOptions: { ...config.connectionOptions, address },
  };
}

export async function withReadableError<T>(target: TemporalTarget, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (error) {
    throw new ConfigurationError(
      `Cannot connect to Temporal at ${target.address} (namespace ${target.namespace}): ${(error as Error).message}\n` +
        'Start the local stack (npm run stack) or set TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TEMPORAL_API_KEY.',
    );
  }
}

export function connectClient(target: TemporalTarget): Promise<Connection> {
  const { address, tls, apiKey, metadata } = target.connectionOptions;
  return withReadableError(target, () =>
    Connection.connect({
      address,
      ...(tls !== undefined ? { tls } : {}),
      ...(apiKey !== undefined && typeof apiKey === 'string' ? { apiKey } : {}),
      ...(metadata ? { metadata } : {}),
    }),
  );
}
