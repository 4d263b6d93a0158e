import type { DefaultLogger } from '@temporalio/worker';
import { Pool } from 'pg';
import { ConfigurationError } from '../common/errors';
import { ensureRunbookTables } from '../db/runbook-schema';
import { redactUrl } from './config';

/**
 * A database the runbooks act on (the target, or the staging copy the drill restores on):
 * reachable and with our tables, or a clear error. An idle connection dropped by the server
 * (restart, failover) must not crash the worker: the pool discards it and the next activity
 * attempt connects afresh.
 *
 * `warm` connections stay open while idle (TCP keepalive on): a runbook's steps come minutes apart
 * (the pause, a gate, a checkpoint), longer than the pool's 10 s idle timeout, and a new
 * connection costs a backend start and a SCRAM login (about 10 ms on loopback, 0.3 ms for a
 * query on an open one) inside the step that needs it.
 */
export async function connectDatabase(
  url: string,
  what: string,
  size: { max: number; warm: number },
  logger: Pick<DefaultLogger, 'warn'>,
): Promise<Pool> {
  const db = new Pool({
    connectionString: url,
    max: size.max,
    min: size.warm,
    // Probes start after 30 s idle, not the OS's 2 h: a connection a NAT or failover dropped
    // silently is found before a step waits on it.
    keepAlive: true,
    keepAliveInitialDelayMillis: 30_000,
    connectionTimeoutMillis: 10_000,
  });
  db.on('error', (error) => logger.warn(`${what} database connection lost`, { error: error.message }));
  try {
    await db.query('SELECT 1');
  } catch (error) {
    throw new ConfigurationError(
      `Cannot reach the ${what} database ${redactUrl(url)}: ${(error as Error).message}`,
    );
  }
  await ensureRunbookTables(db);
  return db;
}
