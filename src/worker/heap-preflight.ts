import { getHeapStatistics } from 'node:v8';

/**
 * The worker's heap against what it needs (heap-guard.ts checks it before the worker loads
 * anything else). Plain code, no zod: with a 16 MiB heap even loading zod may not fit. The
 * variable itself is also parsed with the rest of the environment (config.ts).
 */

/**
 * The least heap (--max-old-space-size) the worker runs with. Measured (2026-12-05): with 96 MiB
 * it died out of memory before it served; with 128 it held 2,000 sleeping programmes (10 cached
 * runs, RSS peak 347 MiB).
 */
export const MIN_WORKER_HEAP_MIB = 128;

/** The heap `npm run worker` gives the worker when RUNBOOKS_WORKER_HEAP_MIB is unset (see config.ts). */
export const DEFAULT_WORKER_HEAP_MIB = 384;

/** Node's heap limit is the old space (--max-old-space-size) plus the young generation's 48 MiB. */
const YOUNG_GENERATION_MIB = 48;

/**
 * This process's heap against what the worker needs and what RUNBOOKS_WORKER_HEAP_MIB asked: an
 * error when too small, a warning when the variable did not reach Node (a worker started without
 * `npm run worker`).
 */
export function checkWorkerHeap(
  env: NodeJS.ProcessEnv,
  heapLimitMiB = getHeapStatistics().heap_size_limit / 1024 / 1024,
): { error?: string; warning?: string } {
  const oldSpaceMiB = Math.round(heapLimitMiB - YOUNG_GENERATION_MIB);
  if (oldSpaceMiB < MIN_WORKER_HEAP_MIB)
    return {
      error:
        `the worker's heap is ${oldSpaceMiB} MiB (--max-old-space-size); it needs at least ${MIN_WORKER_HEAP_MIB}. ` +
        `Set RUNBOOKS_WORKER_HEAP_MIB in MiB (npm run worker passes it to node; default ${DEFAULT_WORKER_HEAP_MIB}), or give node --max-old-space-size=${DEFAULT_WORKER_HEAP_MIB}`,
    };
  const asked = Number(env.RUNBOOKS_WORKER_HEAP_MIB);
  if (
    env.RUNBOOKS_WORKER_HEAP_MIB !== undefined &&
    Number.isFinite(asked) &&
    Math.abs(asked - oldSpaceMiB) > 16
  )
    return {
      warning: `RUNBOOKS_WORKER_HEAP_MIB=${asked} did not reach this process, whose heap is ${oldSpaceMiB} MiB: npm run worker passes it to node as --max-old-space-size; a worker started otherwise takes node's own flag`,
    };
  return {};
}
