import { checkWorkerHeap } from './heap-preflight';

/**
 * Imported first by the worker's entry point, so it runs before the SDK and our modules load: a
 * heap too small for them (RUNBOOKS_WORKER_HEAP_MIB=16, meant as GiB) made Node die with a GC
 * trace and no word on why. Only the entry point imports this module (tests use heap-preflight).
 */
const { error } = checkWorkerHeap(process.env);
if (error) {
  process.stderr.write(`runbooks worker: ${error}\n`);
  process.exit(1);
}
