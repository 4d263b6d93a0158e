import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { Pool } from 'pg';
import { runbookDataConverter } from '../src/codec/aes-gcm';
import { parsePayloadKeys } from '../src/codec/keys';
import { RUNBOOK_DDL } from '../src/db/runbook-schema';
import { freePort } from '../src/local/processes';
import { postgresDataDir, scratchDir, startDevServer, startPostgres } from '../src/local/servers';
import { ensureDemoTarget } from '../src/stack/demo-data';
import { breakGlassRestore } from '../src/workflows';
import {
  approveSignal,
  statusQuery,
  type BreakGlassRestoreStatus,
} from '../src/workflows/break-glass-restore/definitions';
import {
  completedActivities,
  eventTimeMs,
  historyEvents,
  scheduledActivities,
  workflowTaskSpans,
} from '../test/fixtures/history';
import { TEST_PAYLOAD_KEYS } from '../test/fixtures/payload-keys';
import { TEST_POLICY_FILE } from '../test/fixtures/policy';
import { spawnNode } from '../test/fixtures/processes';
import { loadPolicyFile } from '../src/worker/policy';
import { noopActivities } from './minimal/workflows';
import { procedureASql, timePsql } from './psql-baseline';
import { p50p99, quantile } from './stats';
import { BENCH_WORKER_NODE_ARGS } from './worker-flags';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/**
 * `npm run bench -- overhead [runs]`: Procedure A's activities against a no-op activity on the same
 * dev server in the same run. R Procedure A runs on the real worker process (the test policy's
 * 3 s pause) up to the restore verified, and 200 no-op activities on a minimal worker; prints each
 * activity type's scheduled→completed p50 / p99 (history times) and its ratio to the no-op, and the
 * non-waiting path: start → waiting at the gate, plus the pause's end → restore verified (waited for
 * by reading the history, never by querying the run), and each workflow task's started → completed
 * beside the no-op workflow's. Against that path, `psql` (on PATH: Debian's postgresql-client)
 * running the same SQL as a process: the statements of one plan → execute → verify, recorded
 * in-process, on copies of the target.
 */

const PSQL_RUNS = 20;

const RUNS = Number(process.argv[2] ?? 10);

/** Each workflow task's started → completed (the worker's turn at the run), from the history. */
function workflowTaskMs(events: HistoryEvent[]): number[] {
  return workflowTaskSpans(events).map((span) => span.ranMs);
}

/** Nothing in flight and a timer started: the run waits (the gate's deadline timer). */
function quiescentWithTimer(events: HistoryEvent[]): boolean {
  const scheduled = events.filter((event) => event.activityTaskScheduledEventAttributes).length;
  return (
    Boolean(events.at(-1)?.workflowTaskCompletedEventAttributes) &&
    events.some((event) => event.timerStartedEventAttributes) &&
    completedActivities(events).length === scheduled
  );
}

/** Polls the run's history (a server read, no worker involved) until the predicate holds. */
async function waitForHistory(
  handle: WorkflowHandle,
  predicate: (events: HistoryEvent[]) => boolean,
  what: string,
): Promise<HistoryEvent[]> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const events = await historyEvents(handle);
    if (predicate(events)) return events;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * The activity whose completion verified the restore: verifyRestore, or (since
 * break-glass-inline-steps-v1) the restore itself, which verifies its write inline; undefined until
 * the workflow task after the restore has said which (a failed inline verification is done again in
 * verifyRestore). The bench checks the run's status for the verification afterwards.
 */
function verifyingActivity(
  events: HistoryEvent[],
): ReturnType<typeof completedActivities>[number] | undefined {
  const completed = completedActivities(events);
  const separate = completed.find((activity) => activity.type === 'verifyRestore');
  if (separate) return separate;
  const restore = completed.find((activity) => activity.type === 'executeRestore');
  if (!restore) return undefined;
  const after = events.filter((event) => eventTimeMs(event) >= restore.completedAtMs);
  const decided = after.some((event) => event.workflowTaskCompletedEventAttributes);
  const verifiesAgain = scheduledActivities(after).some((activity) => activity.type === 'verifyRestore');
  return decided && !verifiesAgain ? restore : undefined;
}

/** Start → the last event before the approval signal, plus the pause timer's firing → the last event. */
function nonWaitingMs(events: HistoryEvent[]): number {
  const signal = events.findIndex((event) => event.workflowExecutionSignaledEventAttributes);
  const fired = events.find((event) => event.timerFiredEventAttributes);
  const verified = verifyingActivity(events);
  if (signal < 1 || !fired || !verified) throw new Error('the run did not reach a verified restore');
  return (
    eventTimeMs(events[signal - 1]!) - eventTimeMs(events[0]!) + (verified.completedAtMs - eventTimeMs(fired))
  );
}

/**
 * Mean time inside each activity type's handler, from the worker's own Prometheus histogram
 * (`temporal_activity_execution_latency`: the SDK's measure of the handler, every attempt).
 */
async function handlerMeansMs(metricsUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match =
      /^temporal_activity_execution_latency\w*_(sum|count)\{[^}]*activity_type="(\w+)"[^}]*\} (\S+)/.exec(
        line,
      );
    if (!match) continue;
    const [, kind, type, value] = match as unknown as [string, string, string, string];
    const into = kind === 'sum' ? sums : counts;
    into.set(type, (into.get(type) ?? 0) + Number(value));
  }
  // The SDK exports milliseconds unless told to use seconds (the metric's name then ends _seconds).
  const scale = /^temporal_activity_execution_latency_seconds/m.test(text) ? 1000 : 1;
  return new Map([...sums].map(([type, sum]) => [type, (sum * scale) / (counts.get(type) || 1)]));
}

const mean = (samples: number[]): number => samples.reduce((a, b) => a + b, 0) / (samples.length || 1);

async function main(): Promise<void> {
  const tmp = scratchDir('runbooks-bench-overhead');
  const [postgres, server] = await Promise.all([
    startPostgres({ dataDir: postgresDataDir(path.join(tmp, 'pg')), ephemeral: true }),
    startDevServer({ headless: true }),
  ]);
  const db = new Pool({ connectionString: postgres.url, max: 2 });
  await ensureDemoTarget(db);
  await db.query(RUNBOOK_DDL);
  await db.end();
  // Copies of the target as it is now, one per psql run (taken while nothing is connected to it).
  const database = (name: string): string => {
    const url = new URL(postgres.url);
    url.pathname = `/${name}`;
    return url.toString();
  };
  const admin = new Pool({ connectionString: database('template1'), max: 1 });
  const copies: string[] = [];
  for (let k = 0; k < PSQL_RUNS; k++) {
    await admin.query(
      `CREATE DATABASE psql_baseline_${k} TEMPLATE "${new URL(postgres.url).pathname.slice(1)}"`,
    );
    copies.push(database(`psql_baseline_${k}`));
  }
  await admin.end();
  const recorder = new Pool({ connectionString: postgres.url, max: 2 });
  const psqlScript = await procedureASql(recorder, loadPolicyFile(TEST_POLICY_FILE), 'PSQL-BASELINE');
  await recorder.end();
  const env = {
    DATABASE_URL: postgres.url,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: 'default',
    RUNBOOKS_POLICY_FILE: TEST_POLICY_FILE,
    RUNBOOKS_PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
  };
  const metricsAddress = `127.0.0.1:${await freePort()}`;
  const workers = [
    spawnNode(
      'dist/src/worker/main.js',
      [],
      {
        ...env,
        RUNBOOKS_TASK_QUEUE: 'bench-overhead',
        // Its handler times; the open-run gauges' visibility sweep (list + status queries) kept
        // out of the measured runs.
        RUNBOOKS_METRICS_ADDRESS: metricsAddress,
        RUNBOOKS_METRICS_VISIBILITY_INTERVAL: '1h',
      },
      BENCH_WORKER_NODE_ARGS,
    ),
    spawnNode('dist/bench/minimal/worker.js', [], { ...env, RUNBOOKS_TASK_QUEUE: 'bench-noop' }),
  ];
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({
    connection,
    dataConverter: runbookDataConverter(parsePayloadKeys(TEST_PAYLOAD_KEYS, 'bench')),
  });
  try {
    await Promise.all(workers.map((worker) => worker.waitFor(/worker started/, 120_000)));
    const noop = await client.workflow.execute(noopActivities, {
      taskQueue: 'bench-noop',
      workflowId: `noop-${Date.now()}`,
      args: [200],
    });
    const noopEvents = await historyEvents(client.workflow.getHandle(noop));
    const noopMs = completedActivities(noopEvents).map(
      (activity) => activity.completedAtMs - activity.scheduledAtMs,
    );
    const noopStartMs = completedActivities(noopEvents).map(
      (activity) => activity.startedAtMs - activity.scheduledAtMs,
    );
    const noopTasks = workflowTaskMs(noopEvents);
    const tasks: number[] = [];
    const byType = new Map<string, number[]>();
    /** Scheduled → started (the last attempt's): the server's matching and the worker's poll. */
    const toStart: number[] = [];
    const paths: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const handle: WorkflowHandle<typeof breakGlassRestore> = await client.workflow.start(
        breakGlassRestore,
        {
          taskQueue: 'bench-overhead',
          workflowId: `bench-overhead-${Date.now()}-${i}`,
          args: [
            {
              incidentId: `BENCH-${Date.now()}-${i}`,
              targetHistoryId: 5,
              requestedBy: '@alice',
              rationale: 'benchmark: the restore path against a no-op activity',
            },
          ],
        },
      );
      // Waits read the history on the server, never query the run: a query is a task on the same
      // worker and run, and polling one would sit in the path being measured.
      await waitForHistory(handle, quiescentWithTimer, 'the gate');
      const gate = (await handle.query(statusQuery)) as BreakGlassRestoreStatus;
      if (gate.step !== 'awaiting_approval') throw new Error(`quiet at ${gate.step}, not at the gate`);
      await handle.signal(approveSignal, { approver: '@oncall-lead', planHash: gate.detail.plan!.planHash });
      const events = await waitForHistory(
        handle,
        (history) => verifyingActivity(history) !== undefined,
        'verified',
      );
      const verifiedStatus = (await handle.query(statusQuery)) as BreakGlassRestoreStatus;
      if (!verifiedStatus.detail.verification?.ok)
        throw new Error(`the restore was not verified (${verifiedStatus.step})`);
      paths.push(nonWaitingMs(events));
      tasks.push(...workflowTaskMs(events));
      for (const activity of completedActivities(events)) {
        toStart.push(activity.startedAtMs - activity.scheduledAtMs);
        byType.set(activity.type, [
          ...(byType.get(activity.type) ?? []),
          activity.completedAtMs - activity.scheduledAtMs,
        ]);
      }
      await handle.terminate('benchmark done');
    }
    const noopP50 = quantile(noopMs, 0.5);
    const noopP99 = quantile(noopMs, 0.99);
    process.stdout.write(
      `overhead: ${RUNS} Procedure A runs and 200 no-op activities, dev server, history times\n`,
    );
    process.stdout.write(`  no-op activity: ${p50p99(noopMs)}\n`);
    const all = [...byType.values()].flat();
    process.stdout.write(
      `  Procedure A, all activities: ${p50p99(all)} — ${(quantile(all, 0.5) / noopP50).toFixed(1)}× / ${(quantile(all, 0.99) / noopP99).toFixed(1)}× the no-op\n`,
    );
    for (const [type, samples] of [...byType].sort(([a], [b]) => a.localeCompare(b)))
      process.stdout.write(
        `    ${type}: ${p50p99(samples)} — ${(quantile(samples, 0.5) / noopP50).toFixed(1)}× at p50\n`,
      );
    process.stdout.write(
      `  scheduled → started: no-op ${p50p99(noopStartMs)}; Procedure A ${p50p99(toStart)}\n`,
    );
    // Outside the handler: scheduled → completed less the handler's own time (means per type): what
    // Temporal and the SDK add around an activity, against the no-op's whole scheduled → completed.
    const handler = await handlerMeansMs(`http://${metricsAddress}/metrics`);
    const outside = [...byType].map(([type, samples]) => ({
      type,
      n: samples.length,
      inside: handler.get(type) ?? 0,
      outside: mean(samples) - (handler.get(type) ?? 0),
    }));
    const outsideMean = outside.reduce((sum, t) => sum + t.outside * t.n, 0) / (all.length || 1);
    process.stdout.write(
      `  outside the handler (mean scheduled → completed − mean handler time, the worker's temporal_activity_execution_latency): ` +
        `Procedure A ${outsideMean.toFixed(1)} ms against the no-op's ${mean(noopMs).toFixed(1)} ms (${(outsideMean / mean(noopMs)).toFixed(1)}×); ` +
        outside
          .map((t) => `${t.type} ${t.inside.toFixed(1)} ms in, ${t.outside.toFixed(1)} ms out`)
          .join(', ') +
        '\n',
    );
    process.stdout.write(
      `  workflow task started → completed: no-op workflow ${p50p99(noopTasks)}; Procedure A ${p50p99(tasks)}\n`,
    );
    process.stdout.write(`  non-waiting path (start → gate, pause end → verified): ${p50p99(paths)}\n`);
    const psql = await timePsql(psqlScript, copies, tmp);
    process.stdout.write(
      `  psql process, the same SQL (${psqlScript.split(';\n').length} statements: plan → execute → verify): ${p50p99(psql)}` +
        ` — the non-waiting path is ${(quantile(paths, 0.5) / quantile(psql, 0.5)).toFixed(1)}× at p50\n`,
    );
  } finally {
    for (const worker of workers) worker.child.kill('SIGINT');
    await Promise.all(workers.map((worker) => worker.exited()));
    await connection.close();
    await server.stop();
    await postgres.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `overhead bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
