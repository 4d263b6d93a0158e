/**
 * A value built at its first use, then kept. The SDK evaluates every workflow module again for
 * each run it creates, so a schema built at module level costs every run of every type; built
 * here, it costs only the runs (and clients) that use it. The value lives as long as the module
 * instance: one run.
 */
export function onFirstUse<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => (built ??= build());
}
