import { writePrebuiltBundle, prebuiltBundleFile, type BundleKind } from './prebuilt-bundle';

/**
 * `node dist/src/worker/write-bundles.js`: the workflow bundles a worker loads instead of bundling
 * at its start (src/worker/prebuilt-bundle.ts), written by `npm run build` and the setup's build.
 */
async function main(): Promise<void> {
  const kinds: BundleKind[] = ['unversioned', 'versioned'];
  for (const kind of kinds) {
    await writePrebuiltBundle(kind);
    process.stdout.write(`  workflow bundle (${kind}): ${prebuiltBundleFile(kind)}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
