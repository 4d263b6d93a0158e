import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { escapeLiteral, type Pool, type PoolClient, type QueryConfig } from 'pg';
import { createActivities } from '../src/activities';
import type { LoadedPolicy } from '../src/worker/policy';
import { activityDeps } from '../test/fixtures/policy';

const run = promisify(execFile);

interface Statement {
  text: string;
  values: unknown[];
}

/** A pool whose queries (its own and its clients') are written down in order, then sent. */
function recordingPool(pool: Pool, statements: Statement[]): Pool {
  const record = (query: string | QueryConfig, values?: unknown[]): void => {
    statements.push(
      typeof query === 'string'
        ? { text: query, values: values ?? [] }
        : { text: query.text, values: values ?? query.values ?? [] },
    );
  };
  const recorded = <T extends object>(target: T, wrap: Record<string | symbol, unknown>): T =>
    new Proxy(target, {
      get(inner, property) {
        if (property in wrap) return wrap[property];
        const value: unknown = Reflect.get(inner, property);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(inner) : value;
      },
    });
  return recorded(pool, {
    query: (query: string | QueryConfig, values?: unknown[]) => {
      record(query, values);
      return pool.query(query, values);
    },
    connect: async () => {
      const client = await pool.connect();
      return recorded<PoolClient>(client, {
        query: (query: string | QueryConfig, values?: unknown[]) => {
          record(query, values);
          return client.query(query, values);
        },
      });
    },
  });
}

/** A bound value as the text node-postgres sends for it (arrays as Postgres array literals). */
function asText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value))
    return `{${value.map((item) => (item === null ? 'NULL' : `"${String(asText(item)).replace(/["\\]/g, '\\$&')}"`)).join(',')}}`;
  if (typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${value}`;
  if (typeof value === 'string') return value;
  throw new Error(`psql baseline: cannot write a ${typeof value} as a literal`);
}

/** The statement with its bound values written in as literals (what psql is given). */
function inlined({ text, values }: Statement): string {
  const sql = text.replace(/\$(\d+)/g, (_, index: string) => {
    const value = asText(values[Number(index) - 1]);
    return value === null ? 'NULL' : escapeLiteral(value);
  });
  return `${sql.trim().replace(/;$/, '')};`;
}

/**
 * Procedure A's SQL (plan → execute → verify) as one psql script: the activities run once
 * in-process against `db` with their queries written down, bound values inlined.
 */
export async function procedureASql(db: Pool, policy: LoadedPolicy, incidentId: string): Promise<string> {
  const statements: Statement[] = [];
  const activities = createActivities(activityDeps(policy, recordingPool(db, statements)));
  const mock = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });
  const call = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
    mock.run(fn, ...args);
  const targetHistoryId = 5;
  const planned = await call(activities.planRestore, { incidentId, targetHistoryId });
  if (planned.status !== 'ready') throw new Error(`psql baseline: the plan is ${planned.status}`);
  const { plan } = planned;
  const executed = await call(activities.executeRestore, {
    ledgerKey: `psql-baseline/${incidentId}/execute-restore`,
    incidentId,
    targetHistoryId,
    expectedFingerprint: plan.live.fingerprint,
    expectedTargetHash: plan.target.baseEnvHash,
    planHash: plan.planHash,
    workflowId: `psql-baseline-${incidentId}`,
    runId: 'psql-baseline',
    requestedBy: '@bench',
    approver: '@dococeven',
    approvalLine: 'event=break_glass_approval psql baseline',
    rationale: 'benchmark: the same SQL through psql',
  });
  if (executed.status !== 'restored') throw new Error(`psql baseline: the restore is ${executed.status}`);
  await call(activities.verifyRestore, {
    incidentId,
    targetHistoryId,
    restoreHistoryId: executed.historyId,
    expectedVersion: plan.expectedVersion,
  });
  return statements.map(inlined).join('\n');
}

/**
 * `psql` on PATH, or a message saying how to get it: the baseline runs after the Procedure A runs,
 * and without psql the bench failed there, minutes in, on `spawn psql ENOENT`.
 */
export async function requirePsql(): Promise<string | undefined> {
  try {
    const { stdout } = await run('psql', ['--version']);
    return stdout.trim() ? undefined : 'psql --version printed nothing';
  } catch (error) {
    return (
      `the psql baseline needs psql on PATH (${(error as Error).message}): ` +
      "install Debian's postgresql-client (apt-get install postgresql-client)"
    );
  }
}

/**
 * Wall clock of `psql` running `script` on `url` (process start, login, the SQL, exit), once per
 * database in `urls`: each a copy of the target taken before the recorded run, so each does the
 * same writes the recorded run did.
 */
export async function timePsql(script: string, urls: string[], scratch: string): Promise<number[]> {
  const file = path.join(scratch, 'procedure-a.sql');
  writeFileSync(file, script);
  const samples: number[] = [];
  for (const url of urls) {
    const started = performance.now();
    await run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', file]);
    samples.push(performance.now() - started);
  }
  return samples;
}
