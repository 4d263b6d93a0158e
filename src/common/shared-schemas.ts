/**
 * Zod schemas built once per process (per workflow thread, for workflow code) instead of once per
 * workflow run.
 *
 * The SDK evaluates every workflow module again for each run it creates (a new run, or one
 * replayed after eviction), so a module's `z.object(...)` at top level is built thousands of times
 * on a worker that starts thousands of programmes: it was the largest part of a backstop
 * programme's own CPU to asleep, with the garbage it leaves. This module is preloaded into the
 * workflow bundle (src/worker/paths.ts): the SDK evaluates it once per thread and freezes its
 * exports, but not the map below (a closure, out of reach of the freeze), so a schema group built
 * by the first run is handed to every later one. Outside workflow code it is a plain memo.
 *
 * Safe to share because a schema is immutable once built and zod keeps no state between parses.
 * A builder must use nothing but zod, other shared schemas and pure functions: no workflow API, no
 * run's state. Each group has its own key, the path of its module under src/ (a test checks the
 * keys are unique and match the file).
 */
const built = new Map<string, unknown>();

export function sharedSchemas<T extends object>(key: string, build: () => T): T {
  let group = built.get(key) as T | undefined;
  if (group === undefined) {
    group = build();
    built.set(key, group);
  }
  return group;
}

/**
 * A schema (group) built at its first use, then shared like the others: for what most runs never
 * need (a continued run's hand-over, another runbook's input), so that neither a run nor a client
 * that does not use it builds it.
 */
export function sharedOnFirstUse<T extends object>(key: string, build: () => T): () => T {
  return () => sharedSchemas(key, build);
}
