import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import { runbookDataConverter } from '../src/codec/aes-gcm';
import { parsePayloadKeys } from '../src/codec/keys';
import { RUNBOOK_DDL } from '../src/db/runbook-schema';
import { postgresDataDir, scratchDir, startDevServer, startPostgres } from '../src/local/servers';
import { backstopProgram } from '../src/workflows';
import { backstopWorkflowId, statusQuery } from '../src/workflows/backstop-program/definitions';
import { channelSecrets, policyWithChannels, startSinks } from '../test/fixtures/channels';
import { TEST_PAYLOAD_KEYS } from '../test/fixtures/payload-keys';
import { GITHUB_REPOSITORY } from '../test/fixtures/sinks/apis';
import { spawnNode } from '../test/fixtures/processes';

/**
 * `npm run bench -- sleepers N`: N backstop programs started with a merge of today (T+30 a month
 * away) against the dev server and the real worker process (its default sizing, or the
 * RUNBOOKS_* sizing variables given), until every one is asleep on its T+30 timer. Prints starts/s,
 * asleep/s, the worker's and the server's RSS at each quarter, query and Update latency to random
 * programs (p50 / p99), and the worker's CPU seconds. A figure printer, not a test.
 */

const N = Number(process.argv[2] ?? 1_000);
const STORY = (i: number): string => `BENCH-S${i}`;

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
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

function percentiles(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms (n=${sorted.length})`;
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
  const worker = spawnNode('dist/src/worker/main.js', [], {
    ...channelSecrets(sinks),
    DATABASE_URL: postgres.url,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: 'default',
    RUNBOOKS_TASK_QUEUE: 'bench-sleepers',
    RUNBOOKS_POLICY_FILE: policy.file,
    RUNBOOKS_PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
  });
  const workerPid = worker.child.pid!;
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({
    connection,
    namespace: 'default',
    dataConverter: runbookDataConverter(parsePayloadKeys(TEST_PAYLOAD_KEYS, 'bench')),
  });
  try {
    await worker.waitFor(/runbooks worker started/, 120_000);
    const sizing = /sizing[:"]+\s*'?([^'"]+)/.exec(worker.output())?.[1] ?? '(not printed)';
    const mergedAt = new Date().toISOString().slice(0, 10) + 'T00:00:00Z';
    const baseline = { worker: rssMiB(workerPid), cpu: cpuSeconds(workerPid) };
    process.stdout.write(
      `sleepers: ${N} backstop programs, dev server, worker sizing: ${sizing}\n` +
        `  worker RSS before: ${baseline.worker.toFixed(0)} MiB\n`,
    );
    const started = performance.now();
    const asleepCount = async (): Promise<number> =>
      (await client.workflow.count(`WorkflowType = 'backstopProgram' AND RunbookStep = 'waiting_T+30'`))
        .count;
    const marks = new Set([Math.ceil(N / 4), Math.ceil(N / 2), Math.ceil((3 * N) / 4), N]);
    let startedAll = 0;
    for (let i = 0; i < N; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, N - i) }, (_, k) =>
          client.workflow.start(backstopProgram, {
            taskQueue: 'bench-sleepers',
            workflowId: backstopWorkflowId(STORY(i + k)),
            args: [{ storyId: STORY(i + k), mergeSha: '0b0a9c7f', mergedAt }],
          }),
        ),
      );
    }
    startedAll = performance.now();
    process.stdout.write(
      `  started ${N} in ${((startedAll - started) / 1000).toFixed(1)} s: ${(N / ((startedAll - started) / 1000)).toFixed(0)} starts/s\n`,
    );
    let asleep = 0;
    const deadline = Date.now() + 30 * 60_000;
    while (asleep < N && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      if (worker.child.exitCode !== null)
        throw new Error(`the worker died: ${worker.output().slice(-2_000)}`);
      asleep = await asleepCount();
      for (const mark of [...marks].filter((m) => asleep >= m)) {
        marks.delete(mark);
        process.stdout.write(
          `  ${mark} asleep after ${((performance.now() - started) / 1000).toFixed(1)} s: worker RSS ${rssMiB(workerPid).toFixed(0)} MiB, server RSS ${serverPid ? rssMiB(serverPid).toFixed(0) : '?'} MiB\n`,
        );
      }
    }
    const tookS = (performance.now() - started) / 1000;
    process.stdout.write(
      `  asleep: ${asleep} of ${N} in ${tookS.toFixed(1)} s: ${(asleep / tookS).toFixed(1)} asleep/s\n`,
    );
    const queries: number[] = [];
    const updates: number[] = [];
    for (let i = 0; i < 200; i++) {
      const handle = client.workflow.getHandle(backstopWorkflowId(STORY(Math.floor(Math.random() * N))));
      let t = performance.now();
      await handle.query(statusQuery);
      queries.push(performance.now() - t);
      t = performance.now();
      // A decision nobody asked for: refused at once by the run (a round trip through its worker).
      await handle
        .executeUpdate('recordDecision', {
          args: [{ by: '@dococeven', decision: 'park', rationale: 'bench' }],
        })
        .catch(() => undefined);
      updates.push(performance.now() - t);
    }
    const cpu = cpuSeconds(workerPid) - baseline.cpu;
    process.stdout.write(
      `  query to a random program: ${percentiles(queries)}\n` +
        `  update (refused decision) to a random program: ${percentiles(updates)}\n` +
        `  worker CPU: ${cpu.toFixed(1)} s in all, ${((cpu * 1000) / N).toFixed(1)} ms per program; RSS now ${rssMiB(workerPid).toFixed(0)} MiB\n`,
    );
  } finally {
    worker.child.kill('SIGINT');
    await worker.exited();
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
