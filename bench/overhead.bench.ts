import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { Pool } from 'pg';
import { runbookDataConverter } from '../src/codec/aes-gcm';
import { parsePayloadKeys } from '../src/codec/keys';
import { RUNBOOK_DDL } from '../src/db/runbook-schema';
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
  eventTimeExactMs,
  historyEvents,
  scheduledActivities,
  workflowTaskSpans,
  type HistoryEvent,
} from '../test/fixtures/history';
import { TEST_PAYLOAD_KEYS } from '../test/fixtures/payload-keys';
import { readUntil } from '../test/fixtures/wait';
import { metricValue, scrape } from '../test/fixtures/metrics';
import { freePort } from '../src/local/processes';
import { TEST_POLICY_FILE } from '../test/fixtures/policy';
import { spawnNode } from '../test/fixtures/processes';
import { loadPolicyFile } from '../src/worker/policy';
import { noopActivities } from './minimal/workflows';
import { procedureASql, requirePsql, timePsql } from './psql-baseline';
import { p50p99, quantile } from './stats';
import { BENCH_WORKER_NODE_ARGS } from './worker-flags';
import { countArgument } from './args';

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

const RUNS = countArgument('npm run bench -- overhead N', 10, 1_000);

/** Each workflow task's started → completed (the worker's turn at the run), from the history. */
function workflowTaskMs(events: HistoryEvent[]): number[] {
  return workflowTaskSpans(events, eventTimeExactMs).map((span) => span.ranMs);
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

/** Reads the run's history (a server read, no worker involved) until the predicate holds. */
const waitForHistory = (
  handle: WorkflowHandle,
  predicate: (events: HistoryEvent[]) => boolean,
  what: string,
): Promise<HistoryEvent[]> => readUntil(() => historyEvents(handle), predicate, what, 60_000, 50);

/**
 * The activity whose completion verified the restore: verifyRestore, or (since
 * break-glass-inline-steps-v1) the restore itself, which verifies its write inline; undefined until
 * the workflow task after the restore has said which (a failed inline verification is done again in
 * verifyRestore). The bench checks the run's status for the verification afterwards.
 */
function verifyingActivity(
  events: HistoryEvent[],
): ReturnType<typeof completedActivities>[number] | undefined {
  const completed = completedActivities(events, eventTimeExactMs);
  const separate = completed.find((activity) => activity.type === 'verifyRestore');
  if (separate) return separate;
  const restore = completed.find((activity) => activity.type === 'executeRestore');
  if (!restore) return undefined;
  const after = events.filter((event) => eventTimeExactMs(event) >= restore.completedAtMs);
  const decided = after.some((event) => event.workflowTaskCompletedEventAttributes);
  const verifiesAgain = scheduledActivities(after).some((activity) => activity.type === 'verifyRestore');
  return decided && !verifiesAgain ? restore : undefined;
}

/**
 * The non-waiting path's two legs: start → the last event before the approval signal (the gate,
 * its notice delivered), and the pause timer's firing → the verifying activity's completion.
 */
function nonWaitingMs(events: HistoryEvent[]): { toGate: number; afterPause: number } {
  const signal = events.findIndex((event) => event.workflowExecutionSignaledEventAttributes);
  const fired = events.find((event) => event.timerFiredEventAttributes);
  const verified = verifyingActivity(events);
  if (signal < 1 || !fired || !verified) throw new Error('the run did not reach a verified restore');
  return {
    toGate: eventTimeExactMs(events[signal - 1]!) - eventTimeExactMs(events[0]!),
    afterPause: verified.completedAtMs - eventTimeExactMs(fired),
  };
}

/** One activity's handler as the worker's debug log tells it (log times, whole milliseconds). */
interface HandlerSpan {
  /** The SDK's "Activity started" line: its handler begins. */
  startedMs: number;
  /** The SDK's "Activity completed" line: its handler has returned. */
  completedMs: number;
  /** The SDK's own measure of the handler (whole milliseconds, cut down: the time outside is over- rather than under-stated). */
  durationMs: number;
}

/** The fields of the SDK's activity lines that the bench reads. */
interface ActivityLogLine {
  message?: string;
  time?: string;
  workflowId?: string;
  activityId?: string;
  durationMs?: number;
}

/** One JSON log line; a line cut by a write to the other stream reads as empty (its activity is then reported missing). */
function logLine(line: string): ActivityLogLine {
  try {
    return JSON.parse(line) as ActivityLogLine;
  } catch {
    return {};
  }
}

/** Each completed activity's handler span from a worker's JSON log, by `workflowId/activityId`. */
function handlerSpans(log: string): Map<string, HandlerSpan> {
  const started = new Map<string, number>();
  const spans = new Map<string, HandlerSpan>();
  for (const line of log.split('\n')) {
    if (!line.startsWith('{') || !line.includes('"Activity ')) continue;
    const entry = logLine(line);
    const key = `${entry.workflowId}/${entry.activityId}`;
    const atMs = Date.parse(entry.time ?? '');
    if (entry.message === 'Activity started') started.set(key, atMs);
    if (entry.message === 'Activity completed' && entry.durationMs !== undefined)
      spans.set(key, {
        startedMs: started.get(key) ?? atMs - entry.durationMs,
        completedMs: atMs,
        durationMs: entry.durationMs,
      });
  }
  return spans;
}

/** An activity from a history, with its handler's span from the worker's log. */
interface MeasuredActivity {
  type: string;
  scheduledAtMs: number;
  startedAtMs: number;
  completedAtMs: number;
  handler: HandlerSpan;
  /** Scheduled in the same workflow task as another activity of its run. */
  together: boolean;
}

function measuredActivities(
  workflowId: string,
  events: HistoryEvent[],
  spans: Map<string, HandlerSpan>,
): MeasuredActivity[] {
  // Activities each workflow task scheduled, completed or not by the time the history was read.
  const scheduledByTask = new Map<string, number>();
  for (const event of events) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (!scheduled) continue;
    const task = String(scheduled.workflowTaskCompletedEventId);
    scheduledByTask.set(task, (scheduledByTask.get(task) ?? 0) + 1);
  }
  return completedActivities(events, eventTimeExactMs).map((activity) => {
    const key = `${workflowId}/${activity.activityId}`;
    const handler = spans.get(key);
    if (!handler) throw new Error(`no handler time logged for ${key}`);
    return { ...activity, handler, together: (scheduledByTask.get(activity.scheduledByTask) ?? 0) > 1 };
  });
}

/** Scheduled → completed: the activity's whole round trip, as the history tells it. */
const wholeMs = (a: MeasuredActivity): number => a.completedAtMs - a.scheduledAtMs;

/** Scheduled → completed less the handler's own time: what Temporal and the SDK add around it. */
const outsideMs = (a: MeasuredActivity): number => wholeMs(a) - a.handler.durationMs;

/**
 * Where an activity's time outside its handler goes (p50s): the server's matching (scheduled →
 * started), the task's way to the handler (started → the handler begins: core, the SDK, the
 * payload codec, the worker's event loop), and the handler's result's way back to the history.
 */
function whereOutside(activities: MeasuredActivity[]): string {
  const p50 = (f: (a: MeasuredActivity) => number): string => quantile(activities.map(f), 0.5).toFixed(1);
  return (
    `scheduled → started ${p50((a) => a.startedAtMs - a.scheduledAtMs)}, ` +
    `started → handler ${p50((a) => a.handler.startedMs - a.startedAtMs)}, ` +
    `handler → completed ${p50((a) => a.completedAtMs - a.handler.completedMs)} ms`
  );
}

/** A measure of each activity, by activity type (types in name order). */
function byActivityType(
  activities: MeasuredActivity[],
  measure: (activity: MeasuredActivity) => number,
): Map<string, number[]> {
  const grouped = new Map<string, number[]>();
  for (const activity of [...activities].sort((x, y) => x.type.localeCompare(y.type)))
    grouped.set(activity.type, [...(grouped.get(activity.type) ?? []), measure(activity)]);
  return grouped;
}

/** The mean of one of a worker's core histograms (milliseconds), as its Prometheus endpoint has it. */
function meanMs(text: string, histogram: string, labels: Record<string, string> = {}): string {
  const sum = metricValue(text, `${histogram}_sum`, labels);
  const count = metricValue(text, `${histogram}_count`, labels);
  return sum === undefined || !count ? 'not measured' : `${(sum / count).toFixed(1)} ms (n=${count})`;
}

/**
 * What each worker's core measured: the server's answer to a workflow task's completion, and the
 * worker's own turn (an activation handed to the SDK until its completion came back; an activity
 * task handed to it until its result came back, the handler included).
 */
async function coreMeasures(
  address: string,
): Promise<{ respond: string; activation: string; activity: string }> {
  const text = await scrape(address);
  return {
    respond: meanMs(text, 'temporal_request_latency', { operation: 'RespondWorkflowTaskCompleted' }),
    activation: meanMs(text, 'temporal_workflow_task_execution_latency'),
    activity: meanMs(text, 'temporal_activity_execution_latency'),
  };
}

async function main(): Promise<void> {
  const missing = await requirePsql();
  if (missing) {
    process.stderr.write(`npm run bench -- overhead: ${missing}\n`);
    process.exit(2);
  }
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
  // Each worker's core measures its calls to the server (temporal_request_latency); the open-run
  // gauges' visibility reads are kept out of the measured minute.
  const [ourMetrics, noopMetrics] = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  const metricsEnv = {
    RUNBOOKS_METRICS_VISIBILITY_INTERVAL: '1h',
    RUNBOOKS_METRICS_FULL_LISTING_INTERVAL: '1h',
  };
  const env = {
    DATABASE_URL: postgres.url,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: 'default',
    RUNBOOKS_POLICY_FILE: TEST_POLICY_FILE,
    RUNBOOKS_PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
  };
  const workers = [
    spawnNode(
      'dist/src/worker/main.js',
      [],
      {
        ...env,
        ...metricsEnv,
        RUNBOOKS_METRICS_ADDRESS: ourMetrics,
        RUNBOOKS_TASK_QUEUE: 'bench-overhead',
        // For each activity's handler time: the SDK's "Activity completed" lines are debug lines.
        RUNBOOKS_LOG_LEVEL: 'DEBUG',
        RUNBOOKS_LOG_FORMAT: 'json',
      },
      BENCH_WORKER_NODE_ARGS,
    ),
    spawnNode('dist/bench/minimal/worker.js', [], {
      ...env,
      ...metricsEnv,
      RUNBOOKS_METRICS_ADDRESS: noopMetrics,
      RUNBOOKS_TASK_QUEUE: 'bench-noop',
      RUNBOOKS_LOG_LEVEL: 'DEBUG',
      RUNBOOKS_LOG_FORMAT: 'json',
    }),
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
    const noopTasks = workflowTaskMs(noopEvents);
    const tasks: number[] = [];
    /** Each run's history to the verified restore (activities are matched to the log afterwards). */
    const runs: { workflowId: string; events: HistoryEvent[] }[] = [];
    const paths: number[] = [];
    const toGate: number[] = [];
    const afterPause: number[] = [];
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
      const legs = nonWaitingMs(events);
      paths.push(legs.toGate + legs.afterPause);
      toGate.push(legs.toGate);
      afterPause.push(legs.afterPause);
      tasks.push(...workflowTaskMs(events));
      runs.push({ workflowId: handle.workflowId, events });
      await handle.terminate('benchmark done');
    }
    // Each debug line is written before its activity's completion is sent, but reaches this process
    // through a pipe read between awaits: seconds after the history has the completion (0.20.0's
    // longer lines left the last run's out, and the bench failed). Read until every line is in.
    const allLogged = (worker: number, logged: { workflowId: string; events: HistoryEvent[] }[]) =>
      readUntil(
        () => Promise.resolve(handlerSpans(workers[worker]!.output())),
        (spans) =>
          logged.every(({ workflowId, events }) =>
            completedActivities(events).every((activity) =>
              spans.has(`${workflowId}/${activity.activityId}`),
            ),
          ),
        "the workers' debug line for every completed activity",
        30_000,
      );
    const noopMeasured = measuredActivities(
      noop,
      noopEvents,
      await allLogged(1, [{ workflowId: noop, events: noopEvents }]),
    );
    const spans = await allLogged(0, runs);
    const ours = runs.flatMap((run) => measuredActivities(run.workflowId, run.events, spans));
    const noopMs = noopMeasured.map(wholeMs);
    const noopP50 = quantile(noopMs, 0.5);
    const noopP99 = quantile(noopMs, 0.99);
    const againstNoop = (samples: number[]): string =>
      `${p50p99(samples)} — ${(quantile(samples, 0.5) / noopP50).toFixed(1)}× / ${(quantile(samples, 0.99) / noopP99).toFixed(1)}× the no-op`;
    process.stdout.write(
      `overhead: ${RUNS} Procedure A runs and 200 no-op activities, dev server, history times to the server's precision\n`,
    );
    process.stdout.write(`  no-op activity: ${p50p99(noopMs)}\n`);
    const all = ours.map(wholeMs);
    process.stdout.write(`  Procedure A, all activities: ${againstNoop(all)}\n`);
    for (const [type, samples] of byActivityType(ours, wholeMs))
      process.stdout.write(
        `    ${type}: ${p50p99(samples)} — ${(quantile(samples, 0.5) / noopP50).toFixed(1)}× at p50\n`,
      );
    // Outside the handler: what Temporal and the SDK add around an activity, against the no-op's
    // whole scheduled → completed. An activity scheduled in the same workflow task as others (a
    // step's notices, the reconciliation watch) waits its turn behind them on the worker and the
    // server; one scheduled alone is the no-op's case.
    process.stdout.write(
      `  outside the handler (each activity's scheduled → completed − its handler time, the SDK's durationMs from the worker's debug log): ` +
        `${againstNoop(ours.map(outsideMs))}\n`,
    );
    for (const [label, group] of [
      ['scheduled alone in its workflow task', ours.filter((a) => !a.together)],
      ['scheduled with others', ours.filter((a) => a.together)],
    ] as const)
      process.stdout.write(`    ${label}: ${againstNoop(group.map(outsideMs))}\n`);
    // Beside it, the handler's own time (the SDK's durationMs): what our code and Postgres take.
    const handlers = byActivityType(ours, (a) => a.handler.durationMs);
    for (const [type, samples] of byActivityType(ours, outsideMs))
      process.stdout.write(
        `    ${type}: ${p50p99(samples)} outside; the handler ${p50p99(handlers.get(type)!)}\n`,
      );
    process.stdout.write(
      `  where (p50): no-op ${whereOutside(noopMeasured)}; Procedure A ${whereOutside(ours)}\n` +
        `    Procedure A scheduled alone: ${whereOutside(ours.filter((a) => !a.together))}; with others: ${whereOutside(ours.filter((a) => a.together))}\n`,
    );
    // An activity scheduled by a workflow task comes back in the server's answer to that task's
    // completion (eager dispatch): its "started" is written before that answer is sent.
    const [noopCore, ourCore] = [await coreMeasures(noopMetrics), await coreMeasures(ourMetrics)];
    process.stdout.write(
      `  RespondWorkflowTaskCompleted, the server's answer to a workflow task's completion (mean, each worker's core): ` +
        `no-op workflow ${noopCore.respond}; Procedure A ${ourCore.respond}\n` +
        `  the worker's own turn (mean, each worker's core): an activation ${noopCore.activation} against ${ourCore.activation}; ` +
        `an activity, its handler included, ${noopCore.activity} against ${ourCore.activity}\n`,
    );
    process.stdout.write(
      `  workflow task started → completed: no-op workflow ${p50p99(noopTasks)}; Procedure A ${p50p99(tasks)}\n`,
    );
    process.stdout.write(
      `  non-waiting path (start → gate, pause end → verified): ${p50p99(paths)}; start → gate ${p50p99(toGate)}, pause end → verified ${p50p99(afterPause)}\n`,
    );
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
