import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promiseHooks } from 'node:v8';
import type { temporal } from '@temporalio/proto';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { releaseHistoryDir } from '../test/fixtures/history';
import { testDataConverter } from '../test/fixtures/payload-keys';
import { workflowBundle } from '../test/fixtures/temporal';
import { countArgument } from './args';

/**
 * `npm run bench -- replay N`: a backstop programme's history to asleep on its T+30 timer (the
 * newest `backstop-program-mid-sleep-t30.json` in test/replay/histories up to this release), replayed N
 * times per round in one process, three rounds. The workflow side of a programme's start (what
 * the worker does again for a run it evicted) without a server, so a change to workflow code can
 * be measured without the dev server's noise: CPU and wall per replay, and the promises a run
 * makes in its workflow context (the SDK captures a source-mapped stack for each). A figure
 * printer, not a test; compare two builds on one machine in the same hour.
 */

const N = countArgument('npm run bench -- replay N', 1_000, 1_000_000);
const ROUNDS = 3;
const NAME = 'backstop-program-mid-sleep-t30.json';

/** `0.10.0` → [0, 10, 0], for ordering release folders (a string sort puts 0.10.0 before 0.9.0). */
const releaseParts = (release: string): number[] => release.split('.').map(Number);
const newerFirst = (a: string, b: string): number => {
  const [pa, pb] = [releaseParts(a), releaseParts(b)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pb[i] ?? 0) - (pa[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
};

/**
 * The newest recording at or before this release (package.json's version): a release records
 * again only the histories its changes alter, so 0.16.0's folder has no programme asleep and the
 * bench used to stop there. An older release's run that today's code would not take fails to
 * replay, and the bench counts and prints such failures.
 */
function releaseHistory(): { release: string; file: string } {
  const here = releaseHistoryDir();
  const current = path.basename(here);
  const histories = path.dirname(here);
  const releases = readdirSync(histories)
    .filter((release) => /^\d+(\.\d+)*$/.test(release) && newerFirst(release, current) >= 0)
    .sort(newerFirst);
  for (const release of releases) {
    const file = path.join(histories, release, NAME);
    if (existsSync(file)) return { release, file };
  }
  throw new Error(
    `no ${NAME} under ${histories} at or before ${current}: record it with RECORD_HISTORIES=1 npm test`,
  );
}

/** Promises created in workflow contexts (their constructor is a V8 context's own Promise) in one replay. */
async function promisesPerReplay(bundle: WorkflowBundle, history: temporal.api.history.v1.IHistory) {
  let count = 0;
  // Node types the returned stop function as `Function`.
  const stop = promiseHooks.onInit((promise) => {
    if (promise.constructor !== Promise) count++;
  }) as () => void;
  try {
    // A replay worker runs its workflows on this thread (the SDK sets debugMode), where the hook is.
    await Worker.runReplayHistory({ workflowBundle: bundle, dataConverter: testDataConverter() }, history);
  } finally {
    stop();
  }
  return count;
}

async function main(): Promise<void> {
  const { release, file } = releaseHistory();
  const history = historyFromJSON(JSON.parse(readFileSync(file, 'utf8')));
  const bundle = await workflowBundle();
  process.stdout.write(
    `${release}/${NAME}: ${history.events?.length ?? 0} events; ${await promisesPerReplay(bundle, history)} promises in its workflow context per replay\n`,
  );
  for (let round = 1; round <= ROUNDS; round++) {
    const histories = (function* () {
      for (let i = 0; i < N; i++) yield { workflowId: `replay-${round}-${i}`, history };
    })();
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    let failed = 0;
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: bundle, dataConverter: testDataConverter() },
      histories,
    ))
      if (result.error) failed++;
    const cpu = process.cpuUsage(cpuBefore);
    const perReplay = (ms: number): string => (ms / N).toFixed(2);
    process.stdout.write(
      `round ${round}: ${N} replays, ${perReplay((cpu.user + cpu.system) / 1000)} ms CPU and ${perReplay(performance.now() - wallBefore)} ms wall each${failed ? `, ${failed} FAILED` : ''}\n`,
    );
    if (failed) process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `replay bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
