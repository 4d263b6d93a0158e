import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Pool } from 'pg';
import { ConfigurationError } from '../../src/common/errors';
import { connectDatabase } from '../../src/worker/database';
import { freePort } from '../../src/local/processes';
import { createTestDatabase, type TestDatabase } from '../fixtures/database';
import { readUntil } from '../fixtures/wait';

/** The worker's connection pools on a real PostgreSQL: warm while idle, and a dropped one never fatal. */

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
});

function collectingLogger() {
  const warnings: { message: string; meta?: Record<string, unknown> }[] = [];
  return {
    warnings,
    warn: (message: string, meta?: Record<string, unknown>) => warnings.push({ message, meta }),
  };
}

/** The backend pids of `count` connections checked out at once (each a different connection). */
async function backendPids(pool: Pool, count: number): Promise<number[]> {
  const clients = await Promise.all(Array.from({ length: count }, () => pool.connect()));
  try {
    const pids = await Promise.all(
      clients.map(
        async (client) =>
          (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid,
      ),
    );
    return pids.sort((a, b) => a - b);
  } finally {
    for (const client of clients) client.release();
  }
}

describe('worker database pool', () => {
  test('the warm connections outlive the pool idle timeout (10 s); the extra ones close', async () => {
    const logger = collectingLogger();
    const pool = await connectDatabase(db.url, 'target', { max: 10, warm: 2 }, logger);
    try {
      const before = await backendPids(pool, 3);
      assert.equal(pool.totalCount, 3);
      await new Promise((resolve) => setTimeout(resolve, 11_500));
      assert.equal(pool.totalCount, 2, 'one closed after 10 s idle, two kept');
      const afterIdle = await backendPids(pool, 2);
      for (const pid of afterIdle)
        assert.ok(before.includes(pid), `backend ${pid} is one of the connections opened before the quiet`);
      assert.deepEqual(logger.warnings, []);
    } finally {
      await pool.end();
    }
  });

  test('warm connections the server terminates are discarded with a warning; the next query connects afresh', async () => {
    const logger = collectingLogger();
    const pool = await connectDatabase(db.url, 'target', { max: 10, warm: 2 }, logger);
    try {
      const pids = await backendPids(pool, 2);
      await db.pool.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
      await readUntil(
        () => Promise.resolve(pool.totalCount),
        (open) => open === 0,
        'both terminated connections to leave the pool',
        5_000,
      );
      assert.equal(logger.warnings.length, 2);
      assert.match(logger.warnings[0]!.message, /^target database connection lost$/);
      const answer = await pool.query<{ answer: number }>('SELECT 42 AS answer');
      assert.equal(answer.rows[0]!.answer, 42);
      assert.ok(!(await backendPids(pool, 1)).some((pid) => pids.includes(pid)), 'a new backend');
    } finally {
      await pool.end();
    }
  });

  test('an unreachable database stops the worker at start, naming it, its password masked', async () => {
    const url = `postgres://runbooks:s3cret-pass@127.0.0.1:${await freePort()}/ftf`;
    await assert.rejects(
      connectDatabase(url, 'staging', { max: 4, warm: 1 }, collectingLogger()),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        assert.match(
          error.message,
          /^Cannot reach the staging database postgres:\/\/runbooks:\*+@127\.0\.0\.1:\d+\/ftf: /,
        );
        assert.ok(!error.message.includes('s3cret-pass'));
        return true;
      },
    );
  });
});
