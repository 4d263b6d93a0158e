import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { Pool } from 'pg';
import { createActivities } from '../src/activities';
import type { RestorePlan } from '../src/activities/sql/restore';
import { RUNBOOK_DDL } from '../src/db/runbook-schema';
import { postgresDataDir, scratchDir, startPostgres } from '../src/local/servers';
import { ensureDemoTarget } from '../src/stack/demo-data';
import { DEFAULT_POLICY_FILE } from '../src/worker/config';
import { loadPolicyFile } from '../src/worker/policy';
import { breakGlassRestore } from '../src/workflows';
import { approveSignal, postMortemFiledSignal } from '../src/workflows/break-glass-restore/definitions';
import { acknowledgeConflictSignal } from '../src/workflows/shared/break-glass/definitions';
import { activityDeps } from '../test/fixtures/policy';
import { startTimeSkipping, withRunbookWorker, workflowBundle } from '../test/fixtures/temporal';
import { atStep, waitForStatus } from '../test/fixtures/wait';
import { quantile } from './stats';

/**
 * Prints figures for Procedure A on this machine (targets in README "Benchmarks"):
 * - activity latency on the 455-key payload against embedded Postgres: plan, restore transaction,
 *   verification (p50 / p95 / max over N runs);
 * - wall clock of complete runs (2 min pause, 60 min reconciliation, 24 h post-mortem) on the
 *   time-skipping server, and the worker's memory.
 */

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 100);
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
/** How often a run's status is asked for while it is timed (the tests' 100 ms would blur a 1.6 s run). */
const POLL_MS = 20;

function summary(samples: number[]): string {
  return `p50 ${quantile(samples, 0.5).toFixed(1)} ms  p95 ${quantile(samples, 0.95).toFixed(1)} ms  max ${Math.max(...samples).toFixed(1)} ms  (n=${samples.length})`;
}

async function timed<T>(samples: number[], fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const value = await fn();
  samples.push(performance.now() - start);
  return value;
}

async function main(): Promise<void> {
  const policy = loadPolicyFile(DEFAULT_POLICY_FILE);
  const pg = await startPostgres({
    dataDir: postgresDataDir(path.join(scratchDir('runbooks-bench'), 'data')),
    ephemeral: true,
  });
  const db = new Pool({ connectionString: pg.url, max: 8 });
  db.on('error', () => undefined);
  try {
    await ensureDemoTarget(db);
    await db.query(RUNBOOK_DDL);
    const activities = createActivities(activityDeps(policy, db));
    const mock = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });
    const env = {
      run: <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
        mock.run(fn, ...args),
    };

    const plans: number[] = [];
    const restores: number[] = [];
    const replays: number[] = [];
    const verifies: number[] = [];
    for (let i = 0; i < ITERATIONS; i += 1) {
      const incidentId = `BENCH-${i}`;
      const target = (i % 5) + 1;
      const planned = await timed(plans, () =>
        env.run(activities.planRestore, { incidentId, targetHistoryId: target }),
      );
      if (planned.status !== 'ready') throw new Error(`plan failed: ${planned.status}`);
      const plan: RestorePlan = planned.plan;
      const input = {
        ledgerKey: `bench/${i}/execute-restore`,
        incidentId,
        targetHistoryId: target,
        expectedFingerprint: plan.live.fingerprint,
        planHash: plan.planHash,
        workflowId: `bench-${i}`,
        runId: 'bench',
        requestedBy: '@bench',
        approver: '@dococeven',
        approvalLine: 'event=break_glass_approval bench',
        rationale: 'benchmark',
      };
      const executed = await timed(restores, () => env.run(activities.executeRestore, input));
      if (executed.status !== 'restored') throw new Error(`restore failed: ${executed.status}`);
      await timed(replays, () => env.run(activities.executeRestore, input));
      await timed(verifies, () =>
        env.run(activities.verifyRestore, {
          incidentId,
          targetHistoryId: target,
          restoreHistoryId: executed.historyId,
          expectedVersion: plan.expectedVersion,
        }),
      );
    }
    console.log(`Procedure A activities, 455-key base_env, embedded Postgres, ${ITERATIONS} iterations`);
    console.log(`  planRestore                    ${summary(plans)}`);
    console.log(`  executeRestore (commit)        ${summary(restores)}`);
    console.log(`  executeRestore (ledger replay) ${summary(replays)}`);
    console.log(`  verifyRestore                  ${summary(verifies)}`);

    // Full runs on the time-skipping server with the shipped policy's real durations.
    await ensureDemoTarget(db);
    const harness = await startTimeSkipping();
    try {
      const bundleStart = performance.now();
      const bundle = await workflowBundle();
      const bundleMs = performance.now() - bundleStart;
      const runs: number[] = [];
      const rssBefore = process.memoryUsage().rss;
      // The suite's worker: the test server's client seals payloads, so the worker needs the same keys.
      await withRunbookWorker(harness.env, bundle, activityDeps(policy, db), async (taskQueue) => {
        for (let i = 0; i < RUNS; i += 1) {
          const incidentId = `BENCHRUN-${i}`;
          await timed(runs, async () => {
            const handle = await harness.env.client.workflow.start(breakGlassRestore, {
              taskQueue,
              workflowId: `break-glass-restore-${incidentId}-${Date.now()}`,
              args: [{ incidentId, targetHistoryId: 5, requestedBy: '@alice', rationale: 'benchmark run' }],
            });
            const gate = await waitForStatus(
              handle,
              atStep('awaiting_approval'),
              'the gate',
              30_000,
              POLL_MS,
            );
            await handle.signal(approveSignal, {
              approver: '@dococeven',
              planHash: gate.detail.plan!.planHash,
            });
            await harness.env.sleep(3 * 60_000);
            // The demo target's snapshot differs from the canonical payload: the IC acknowledges the CONFLICT.
            await waitForStatus(
              handle,
              (status) => status.detail.conflictHold?.state === 'awaiting_acknowledgement',
              'the CONFLICT hold',
              30_000,
              POLL_MS,
            );
            await handle.signal(acknowledgeConflictSignal, { by: '@alice', note: 'benchmark: intended' });
            await handle.signal(postMortemFiledSignal, { by: '@alice', link: 'https://op.example/wp/153' });
            const result = await handle.result();
            if (result.outcome !== 'restored_non_conforming')
              throw new Error(`unexpected outcome ${result.outcome}`);
          });
        }
      });
      const rssAfter = process.memoryUsage().rss;
      console.log(
        `Full Procedure A runs on the time-skipping server (2 min pause, 60 min reconciliation watch, 24 h window)`,
      );
      console.log(
        `  workflow bundle                ${bundleMs.toFixed(0)} ms, ${(bundle.code.length / 1024 / 1024).toFixed(2)} MiB`,
      );
      console.log(`  wall clock per run             ${summary(runs)}`);
      console.log(
        `  process RSS                    ${(rssBefore / 1024 / 1024).toFixed(0)} MiB before, ${(rssAfter / 1024 / 1024).toFixed(0)} MiB after ${RUNS} runs`,
      );
    } finally {
      await harness.teardown();
    }
  } finally {
    await db.end();
    await pg.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
