import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { noopMetricMeter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Pool } from 'pg';
import { runbookDataConverter } from '../src/codec/aes-gcm';
import { parsePayloadKeys } from '../src/codec/keys';
import { RUNBOOK_DDL } from '../src/db/runbook-schema';
import { postgresDataDir, scratchDir, startDevServer, startPostgres } from '../src/local/servers';
import { backstopProgram } from '../src/workflows';
import {
  backstopStartOptions,
  backstopWorkflowId,
  recordDecisionSignal,
  statusQuery,
} from '../src/workflows/backstop-program/definitions';
import { channelSecrets, policyWithChannels, startSinks } from '../test/fixtures/channels';
import { TEST_PAYLOAD_KEYS } from '../test/fixtures/payload-keys';
import { GITHUB_REPOSITORY } from '../test/fixtures/sinks/apis';
import { spawnNode, type ChildHandle } from '../test/fixtures/processes';
import { minimalActivitySleeper, minimalSleeper, minimalStatusQuery } from './minimal/workflows';
import { p50p99 } from './stats';
import { eventTimeMs, historyEvents, workflowTaskSpans, type HistoryEvent } from '../test/fixtures/history';
import { readUntil } from '../test/fixtures/wait';
import { BENCH_WORKER_NODE_ARGS } from './worker-flags';
import { DEFAULT_WORKER_HEAP_MIB } from '../src/worker/config';
import { FULL_SWEEP_EVERY, OpenRunGauges } from '../src/worker/metrics';
import { quietLogger } from '../test/fixtures/logger';
import { countArgument } from './args';

/**
 * `npm run bench -- sleepers N`: N backstop programs started with a merge of today (T+30 a month
 * away) against the dev server and the real worker process (its default sizing, or the
 * RUNBOOKS_* sizing variables given), until every one is asleep on its T+30 timer. Prints starts/s,
 * asleep/s, the worker's and the server's RSS at each quarter, query and Update latency to random
 * programs (p50 / p99), and the worker's CPU seconds. Before them, the same for N minimal
 * sleeping workflows of the same outward shape (bench/minimal) on a worker process of the same
 * sizing, and the ratio of the two per run. A figure printer, not a test.
 */

const N = countArgument('npm run bench -- sleepers N', 1_000, 100_000);
/**
 * The worker's command line as `npm run worker` has it: the heap of RUNBOOKS_WORKER_HEAP_MIB
 * (default 384 MiB; "unlimited" leaves Node's own, about 4 GiB here).
 */
const HEAP = process.env.RUNBOOKS_WORKER_HEAP_MIB ?? String(DEFAULT_WORKER_HEAP_MIB);
const WORKER_NODE_ARGS = [
  ...(HEAP === 'unlimited' ? [] : [`--max-old-space-size=${HEAP}`]),
  ...BENCH_WORKER_NODE_ARGS,
];
const STORY = (i: number): string => `BENCH-S${i}`;
/**
 * BENCH_CATCH_UP=1: the programmes' merge is dated 30 days before today, so T+30 (at 00:00 UTC
 * today: checkpoints fall on day boundaries) is already due at their start. N programmes then
 * each run a checkpoint at once — read the evidence from the loopback trackers, write the
 * comment, send the notices, continue as new — and sleep on T+60: the herd a worker meets when it
 * comes back after an outage, or at 00:00 UTC when every programme merged on one day wakes.
 * The programmes alone (no yardsticks).
 */
const CATCH_UP = process.env.BENCH_CATCH_UP === '1';

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

/**
 * The whole machine's CPU from /proc/stat: seconds busy (every state but idle and iowait) and in
 * total, summed over its cores. Start→asleep is bounded by it when the dev server, Postgres, this
 * process and the worker share the cores.
 */
function machineCpuSeconds(): { busy: number; total: number; cores: number } {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  const ticks = lines[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((sum, n) => sum + n, 0);
  const idle = ticks[3]! + ticks[4]!;
  return {
    busy: (total - idle) / 100,
    total: total / 100,
    cores: lines.filter((l) => /^cpu\d/.test(l)).length,
  };
}

/** The process whose command line holds `fragment` (the dev server, found by its port). */
function pidOf(fragment: string): number | undefined {
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes('start-dev') && cmdline.includes(fragment)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/**
 * Start→asleep from the runs' own histories: the first run's start to the last first timer
 * (TimerStarted), so neither the visibility store's lag behind the histories nor the bench's
 * one-second count polling is in it. Every history is read (20 at a time).
 */
async function asleepByHistories(
  client: Client,
  workflowId: (i: number) => string,
): Promise<{ seconds: number; perS: number; waitedForPoller: number[]; taskRan: number[] }> {
  let firstStartMs = Infinity;
  let lastTimerMs = 0;
  // Each run's first workflow task: scheduled → started (waiting for a poller) and started → completed.
  const waitedForPoller: number[] = [];
  const taskRan: number[] = [];
  for (let i = 0; i < N; i += 20)
    await Promise.all(
      Array.from({ length: Math.min(20, N - i) }, async (_, k) => {
        const { events } = await client.workflow.getHandle(workflowId(i + k)).fetchHistory();
        const started = events?.[0];
        const timer = events?.find((event) => event.timerStartedEventAttributes);
        if (!started || !timer) throw new Error(`${workflowId(i + k)} has no first timer`);
        const firstTask = workflowTaskSpans(events ?? [])[0];
        if (firstTask) {
          waitedForPoller.push(firstTask.waitedMs);
          taskRan.push(firstTask.ranMs);
        }
        firstStartMs = Math.min(firstStartMs, eventTimeMs(started));
        lastTimerMs = Math.max(lastTimerMs, eventTimeMs(timer));
      }),
    );
  const seconds = (lastTimerMs - firstStartMs) / 1000;
  return { seconds, perS: N / seconds, waitedForPoller, taskRan };
}

/**
 * When a run handled its last signal: the completion of the first workflow task after the signal
 * (history time), undefined until then.
 */
function signalHandledAtMs(events: HistoryEvent[]): number | undefined {
  const signaled = events.filter((event) => event.workflowExecutionSignaledEventAttributes).at(-1);
  const handled = events.find(
    (event) =>
      event.workflowTaskCompletedEventAttributes && Number(event.eventId) > Number(signaled?.eventId),
  );
  return signaled && handled ? eventTimeMs(handled) : undefined;
}

interface SleepersRun {
  label: string;
  /** The step a run sleeps in once started (its search attribute). */
  asleepStep?: string;
  worker: ChildHandle;
  workflowType: string;
  workflowId: (i: number) => string;
  start: (i: number) => Promise<unknown>;
  query: (i: number) => Promise<unknown>;
  update?: (i: number) => Promise<unknown>;
  /** The same message as a signal: its send → handled is read from the run's history. */
  signal?: (i: number) => Promise<unknown>;
}

interface SleepersFigures {
  mibPerRun: number;
  cpuMsPerRun: number;
  /** The dev server's CPU per run to asleep (it shares the machine: each history event costs it). */
  serverCpuMsPerRun: number;
  /** Everything else busy on the machine meanwhile (this process's starts and counts, Postgres, …). */
  otherCpuMsPerRun: number;
  /** Share of all the machine's cores busy while the runs went to sleep. */
  machineBusy: number;
  asleepPerS: number;
  /** The same from the histories' own times (asleepByHistories). */
  asleepPerSByHistories: number;
}

/** Starts N runs on `run.worker`, waits until all sleep on their first timer, prints the figures. */
async function sleepers(
  client: Client,
  serverPid: number | undefined,
  run: SleepersRun,
): Promise<SleepersFigures> {
  const { worker } = run;
  const workerPid = worker.child.pid!;
  try {
    await worker.waitFor(/worker started/, 120_000);
    const sizing =
      /sizing[:"]+\s*'?([^'"]+)/.exec(worker.output())?.[1] ?? /\((\d+ cached)\)/.exec(worker.output())?.[1];
    const baseline = {
      worker: rssMiB(workerPid),
      cpu: cpuSeconds(workerPid),
      serverCpu: serverPid ? cpuSeconds(serverPid) : 0,
      machine: machineCpuSeconds(),
      logLines: worker.output().split('\n').length,
    };
    process.stdout.write(
      `${run.label}: ${N} runs, dev server, worker sizing: ${sizing ?? '(not printed)'}\n` +
        `  worker RSS before: ${baseline.worker.toFixed(0)} MiB\n`,
    );
    const started = performance.now();
    const asleepCount = async (): Promise<number> =>
      (
        await client.workflow.count(
          `WorkflowType = '${run.workflowType}' AND ExecutionStatus = 'Running' AND RunbookStep = '${run.asleepStep ?? 'waiting_T+30'}'`,
        )
      ).count;
    // Each quarter, and 1k / 5k / 10k when N reaches them.
    const marks = new Set(
      [Math.ceil(N / 4), Math.ceil(N / 2), Math.ceil((3 * N) / 4), N, 1_000, 5_000, 10_000]
        .filter((mark) => mark <= N)
        .sort((a, b) => a - b),
    );
    for (let i = 0; i < N; i += 50)
      await Promise.all(Array.from({ length: Math.min(50, N - i) }, (_, k) => run.start(i + k)));
    const startedAll = performance.now();
    process.stdout.write(
      `  started ${N} in ${((startedAll - started) / 1000).toFixed(1)} s: ${(N / ((startedAll - started) / 1000)).toFixed(0)} starts/s\n`,
    );
    let asleep = 0;
    let peakRss = baseline.worker;
    const deadline = Date.now() + 60 * 60_000;
    while (asleep < N && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      if (worker.child.exitCode !== null)
        throw new Error(`the worker died: ${worker.output().slice(-2_000)}`);
      peakRss = Math.max(peakRss, rssMiB(workerPid));
      asleep = await asleepCount();
      for (const mark of [...marks].filter((m) => asleep >= m)) {
        marks.delete(mark);
        process.stdout.write(
          `  ${mark} asleep after ${((performance.now() - started) / 1000).toFixed(1)} s: worker RSS ${rssMiB(workerPid).toFixed(0)} MiB, server RSS ${serverPid ? rssMiB(serverPid).toFixed(0) : '?'} MiB\n`,
        );
      }
    }
    const tookS = (performance.now() - started) / 1000;
    const logLinesPerRun = (worker.output().split('\n').length - baseline.logLines) / N;
    const machine = machineCpuSeconds();
    const cpuMsPerRun = ((cpuSeconds(workerPid) - baseline.cpu) * 1000) / N;
    const serverCpuMsPerRun = serverPid ? ((cpuSeconds(serverPid) - baseline.serverCpu) * 1000) / N : NaN;
    const machineBusyMsPerRun = ((machine.busy - baseline.machine.busy) * 1000) / N;
    const figures = {
      mibPerRun: (rssMiB(workerPid) - baseline.worker) / N,
      cpuMsPerRun,
      serverCpuMsPerRun,
      otherCpuMsPerRun: machineBusyMsPerRun - cpuMsPerRun - (serverCpuMsPerRun || 0),
      machineBusy: (machine.busy - baseline.machine.busy) / (machine.total - baseline.machine.total),
      asleepPerS: asleep / tookS,
      asleepPerSByHistories: NaN,
    };
    process.stdout.write(
      `  asleep: ${asleep} of ${N} in ${tookS.toFixed(1)} s: ${figures.asleepPerS.toFixed(1)} asleep/s (counted in visibility); ` +
        `worker RSS peak ${peakRss.toFixed(0)} MiB (sampled each second)\n`,
    );
    // A run that continued as new to sleep has its first run's start in another history.
    if (!run.asleepStep) {
      const byHistories = await asleepByHistories(client, run.workflowId);
      figures.asleepPerSByHistories = byHistories.perS;
      process.stdout.write(
        `  by the histories' own times: first start to last first timer ${byHistories.seconds.toFixed(1)} s: ${byHistories.perS.toFixed(1)} asleep/s\n` +
          `  first workflow task: scheduled → started ${p50p99(byHistories.waitedForPoller)}, started → completed ${p50p99(byHistories.taskRan)}\n`,
      );
    }
    // What each run asked of the server to get to sleep (each event is a write there).
    const events = (await client.workflow.getHandle(run.workflowId(0)).fetchHistory()).events ?? [];
    const kinds = events.map((event) =>
      String(temporal.api.enums.v1.EventType[event.eventType ?? 0]).replace(/^EVENT_TYPE_/, ''),
    );
    process.stdout.write(`  history of a run asleep: ${events.length} events (${kinds.join(', ')})\n`);
    const queries: number[] = [];
    const updates: number[] = [];
    for (let i = 0; i < 200; i++) {
      const target = Math.floor(Math.random() * N);
      let t = performance.now();
      await run.query(target);
      queries.push(performance.now() - t);
      if (!run.update) continue;
      t = performance.now();
      await run.update(target).catch(() => undefined);
      updates.push(performance.now() - t);
    }
    const signals: number[] = [];
    for (let i = 0; run.signal && i < 200; i++) {
      const target = Math.floor(Math.random() * N);
      const sentAtMs = Date.now();
      await run.signal(target);
      // The history is read on the server: the worker is not asked.
      const events = await readUntil(
        () => historyEvents(client.workflow.getHandle(run.workflowId(target))),
        (history) => signalHandledAtMs(history) !== undefined,
        `${run.workflowId(target)} to handle its signal`,
        60_000,
        10,
      );
      signals.push(signalHandledAtMs(events)! - sentAtMs);
    }
    process.stdout.write(
      `  query to a random run: ${p50p99(queries)}\n` +
        (updates.length ? `  update (refused decision) to a random run: ${p50p99(updates)}\n` : '') +
        (signals.length
          ? `  signal to a random run, sent → handled (the completion of the workflow task after it, history time): ${p50p99(signals)}\n`
          : '') +
        `  worker: ${figures.mibPerRun.toFixed(2)} MiB RSS and ${figures.cpuMsPerRun.toFixed(1)} ms CPU per run to asleep; RSS now ${rssMiB(workerPid).toFixed(0)} MiB\n` +
        `  dev server: ${figures.serverCpuMsPerRun.toFixed(1)} ms CPU per run to asleep\n` +
        `  machine: ${(figures.machineBusy * 100).toFixed(0)} % of its ${baseline.machine.cores} cores busy until all were asleep; ` +
        `${figures.otherCpuMsPerRun.toFixed(1)} ms CPU per run outside the worker and the dev server (this process, Postgres, …)\n` +
        `  worker log: ${logLinesPerRun.toFixed(1)} lines per run to asleep\n`,
    );
    return figures;
  } finally {
    worker.child.kill('SIGINT');
    await worker.exited();
  }
}

/**
 * What the worker's open-run gauges cost with N programmes asleep: a sweep that lists every open
 * run (every RUNBOOKS_METRICS_FULL_LISTING_INTERVAL) and two that list the runs waiting for a
 * human (every RUNBOOKS_METRICS_VISIBILITY_INTERVAL), timed here in the bench's own process with
 * the worker's code, and the dev server's CPU meanwhile.
 */
async function gaugeSweeps(client: Client, serverPid: number | undefined, taskQueue: string): Promise<void> {
  const gauges = new OpenRunGauges(client, taskQueue, noopMetricMeter, quietLogger, {
    fullSweepEvery: FULL_SWEEP_EVERY,
  });
  for (const what of ['every open run', 'runs waiting for a human', 'runs waiting for a human']) {
    const cpu = process.cpuUsage();
    const serverCpu = serverPid ? cpuSeconds(serverPid) : 0;
    const t = performance.now();
    await gauges.sweep();
    const used = process.cpuUsage(cpu);
    process.stdout.write(
      `  open-run gauges, a sweep listing ${what} (${N} asleep): ${(performance.now() - t).toFixed(0)} ms, ` +
        `${((used.user + used.system) / 1000).toFixed(0)} ms of the sweeping process's CPU, ` +
        `${serverPid ? ((cpuSeconds(serverPid) - serverCpu) * 1000).toFixed(0) : '?'} ms of the dev server's\n`,
    );
  }
}

/** One line: our programme against a yardstick, per run. */
function sideBySide(yardstick: string, ours: SleepersFigures, other: SleepersFigures): string {
  const ratio = (a: number, b: number): string => (a / b).toFixed(1);
  return (
    `side by side (${N} each): backstopProgram / ${yardstick} = ` +
    `${ratio(ours.mibPerRun, other.mibPerRun)}× the RSS per run (${ours.mibPerRun.toFixed(2)} / ${other.mibPerRun.toFixed(2)} MiB), ` +
    `${ratio(ours.cpuMsPerRun, other.cpuMsPerRun)}× the worker CPU per run (${ours.cpuMsPerRun.toFixed(1)} / ${other.cpuMsPerRun.toFixed(1)} ms), ` +
    `${ratio(ours.serverCpuMsPerRun, other.serverCpuMsPerRun)}× the dev server's (${ours.serverCpuMsPerRun.toFixed(1)} / ${other.serverCpuMsPerRun.toFixed(1)} ms), ` +
    `${ratio(other.asleepPerS, ours.asleepPerS)}× slower to sleep (${ours.asleepPerS.toFixed(1)} / ${other.asleepPerS.toFixed(1)} asleep/s; ` +
    `by the histories ${ours.asleepPerSByHistories.toFixed(1)} / ${other.asleepPerSByHistories.toFixed(1)})\n`
  );
}

async function main(): Promise<void> {
  const tmp = scratchDir('runbooks-bench-sleepers');
  const [sinks, postgres, server] = await Promise.all([
    startSinks(tmp),
    startPostgres({ dataDir: postgresDataDir(path.join(tmp, 'pg')), ephemeral: true }),
    startDevServer({ headless: true }),
  ]);
  const serverPid = pidOf(`--port ${server.address.split(':').at(-1)}`);
  const db = new Pool({ connectionString: postgres.url, max: 2 });
  await db.query(RUNBOOK_DDL);
  await db.end();
  const policy = policyWithChannels(tmp, sinks, {
    overrides: (file) => {
      const stories: Record<string, unknown> = {};
      for (let i = 0; i < N; i++)
        stories[STORY(i)] = {
          dri: '@dococeven',
          openProject: { epicId: 149, storyWorkPackageId: 153 },
          github: { repository: GITHUB_REPOSITORY },
          consoleRestoreProbeUrl: `${sinks.webhook.url}/restore`,
        };
      file.runbooks.backstop = { ...file.runbooks.backstop, stories } as never;
    },
  });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({
    connection,
    namespace: 'default',
    dataConverter: runbookDataConverter(parsePayloadKeys(TEST_PAYLOAD_KEYS, 'bench')),
  });
  const workerEnv = {
    ...channelSecrets(sinks),
    DATABASE_URL: postgres.url,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: 'default',
    RUNBOOKS_POLICY_FILE: policy.file,
    RUNBOOKS_PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
  };
  const untilMs = Date.parse(new Date().toISOString().slice(0, 10) + 'T00:00:00Z') + 30 * 86_400_000;
  try {
    // The yardsticks first, each on its own worker process with the same sizing, then ours.
    const yardstick = (
      label: string,
      workflow: typeof minimalSleeper,
      prefix: string,
    ): Promise<SleepersFigures> =>
      sleepers(client, serverPid, {
        label,
        worker: spawnNode(
          'dist/bench/minimal/worker.js',
          [],
          { ...workerEnv, RUNBOOKS_TASK_QUEUE: `bench-${prefix}` },
          WORKER_NODE_ARGS,
        ),
        workflowType: workflow.name,
        workflowId: (i) => `${prefix}-${STORY(i)}`,
        start: (i) =>
          client.workflow.start(workflow, {
            taskQueue: `bench-${prefix}`,
            workflowId: `${prefix}-${STORY(i)}`,
            args: [{ storyId: STORY(i), untilMs }],
          }),
        query: (i) => client.workflow.getHandle(`${prefix}-${STORY(i)}`).query(minimalStatusQuery),
        // No handler: the SDK keeps it, and the workflow task it brings is the server's and the
        // worker's round trip without any of our code.
        signal: (i) => client.workflow.getHandle(`${prefix}-${STORY(i)}`).signal('recordDecision'),
      });
    const yardsticks = CATCH_UP
      ? undefined
      : {
          minimal: await yardstick('minimal sleeping workflow (bench/minimal)', minimalSleeper, 'minimal'),
          withActivity: await yardstick(
            'minimal sleeping workflow with one no-op activity first (bench/minimal)',
            minimalActivitySleeper,
            'minimal-activity',
          ),
        };
    const ours = await sleepers(client, serverPid, {
      label: CATCH_UP ? 'backstopProgram, T+30 due at the start (catch-up)' : 'backstopProgram',
      ...(CATCH_UP ? { asleepStep: 'waiting_T+60' } : {}),
      worker: spawnNode(
        'dist/src/worker/main.js',
        [],
        { ...workerEnv, RUNBOOKS_TASK_QUEUE: 'bench-sleepers' },
        WORKER_NODE_ARGS,
      ),
      workflowType: 'backstopProgram',
      workflowId: (i) => backstopWorkflowId(STORY(i)),
      // As the CLI starts one (`backstop start`): with the search attributes and memo it keeps.
      start: (i) => {
        const input = {
          storyId: STORY(i),
          mergeSha: '0b0a9c7f',
          mergedAt: new Date(untilMs - (CATCH_UP ? 60 : 30) * 86_400_000).toISOString(),
        };
        return client.workflow.start(backstopProgram, {
          taskQueue: 'bench-sleepers',
          workflowId: backstopWorkflowId(STORY(i)),
          args: [input],
          ...backstopStartOptions(input),
        });
      },
      query: (i) => client.workflow.getHandle(backstopWorkflowId(STORY(i))).query(statusQuery),
      // A decision nobody asked for: refused at once by the run (a round trip through its worker).
      update: (i) =>
        client.workflow.getHandle(backstopWorkflowId(STORY(i))).executeUpdate('recordDecision', {
          args: [{ by: '@dococeven', decision: 'park', rationale: 'bench' }],
        }),
      signal: (i) =>
        client.workflow
          .getHandle(backstopWorkflowId(STORY(i)))
          .signal(recordDecisionSignal, { by: '@dococeven', decision: 'park', rationale: 'bench' }),
    });
    await gaugeSweeps(client, serverPid, 'bench-sleepers');
    if (yardsticks)
      process.stdout.write(
        sideBySide('minimal', ours, yardsticks.minimal) +
          sideBySide('minimal with one activity', ours, yardsticks.withActivity),
      );
  } finally {
    await connection.close();
    await server.stop();
    await postgres.stop();
    await sinks.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `sleepers bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
