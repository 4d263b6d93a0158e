import * as zod from 'zod';

/**
 * Loaded once per workflow thread, before any workflow (the bundle's `preloadModules`, see
 * src/worker/paths.ts), so zod's ~190 classes are shared by every cached run instead of being
 * built again in each one (the SDK evaluates every other workflow module once per run; our own
 * schemas are shared through src/common/shared-schemas.ts).
 *
 * The SDK deep-freezes preloaded modules and the globals they set. Zod installs its default
 * locale and memoizer into a global on the first schema it builds; building one here puts them in
 * place before the freeze (otherwise the first schema a run builds fails on the frozen global).
 * Zod keeps no per-parse state anywhere else, so sharing it cannot leak one run into another.
 *
 * Jitless: by default zod compiles a parser (`new Function`) for each object schema at its first
 * parse, which pays back over many parses of one schema. The runbooks whose schemas are still built
 * per run (all but the backstop's, see src/common/shared-schemas.ts) parse each once or twice, so
 * there the compile is pure cost (it was 0.26 ms per new backstop programme, profiled, before its
 * schemas were shared). A shared schema would pay a compile back over many runs; that is not measured.
 */
zod.config({ jitless: true });
zod.object({ warmUp: zod.array(zod.string()) });

// Used, so that the bundler keeps zod (its package declares no side effects).
export const sharedZod = zod;
