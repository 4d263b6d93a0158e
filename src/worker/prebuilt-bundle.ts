import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { REPO_ROOT } from '../local/paths';
import { VERSIONED_WORKFLOWS_PATH, workflowBundleOptions, WORKFLOWS_PATH } from './paths';

/**
 * Workflow bundles made at build time (`npm run build`, `npm run setup`): a worker that bundled at
 * every start spent ~5 s and ~7 s of CPU on it before serving (each pod start, each restart).
 * A bundle is used only if it was made from exactly the code this worker runs: its first line
 * carries a digest of every compiled file under dist/src and of the installed packages, checked
 * at start; a bundle from other code would run other workflow code than the one deployed (a
 * replay's non-determinism), so a stale or unreadable one is said and the worker bundles anew.
 */

/** The compiled code this module is part of (dist/src). */
const COMPILED_SRC = path.resolve(__dirname, '..');
/** Where the build writes the bundles: dist/, beside dist/src. */
const BUNDLE_DIR = path.resolve(COMPILED_SRC, '..');
const HEADER = '// durable-runbooks workflow bundle, built from ';

export type BundleKind = 'unversioned' | 'versioned';

const ENTRY: Record<BundleKind, string> = {
  unversioned: WORKFLOWS_PATH,
  versioned: VERSIONED_WORKFLOWS_PATH,
};

export function prebuiltBundleFile(kind: BundleKind, dir = BUNDLE_DIR): string {
  return path.join(dir, kind === 'versioned' ? 'workflow-bundle-versioned.js' : 'workflow-bundle.js');
}

function compiledFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return compiledFiles(full);
      return entry.isFile() && entry.name.endsWith('.js') ? [full] : [];
    });
}

/**
 * What a bundle of `kind` is made from: the entry, every compiled file of ours (any of them may be
 * bundled) and npm's record of the installed packages (zod, the SDK's workflow library, the bundler).
 */
export function bundleSourceDigest(kind: BundleKind, srcDir = COMPILED_SRC): string {
  const hash = createHash('sha256').update(`${kind}\0`);
  for (const file of compiledFiles(srcDir))
    hash
      .update(`${path.relative(srcDir, file)}\0`)
      .update(readFileSync(file))
      .update('\0');
  // npm writes it on every install: the exact version of every package in node_modules.
  const lock = path.join(REPO_ROOT, 'node_modules', '.package-lock.json');
  hash.update(existsSync(lock) ? readFileSync(lock) : 'no .package-lock.json');
  return hash.digest('hex');
}

/** Bundles the workflow code of `kind` as every bundle of it is made (workflowBundleOptions). */
export function bundleWorkflows(kind: BundleKind): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ ...workflowBundleOptions(ENTRY[kind]), logger: quietLogger });
}

/** Bundles the workflow code of `kind` into its file (written aside and renamed: never half a file). */
export async function writePrebuiltBundle(kind: BundleKind, file = prebuiltBundleFile(kind)): Promise<void> {
  const digest = bundleSourceDigest(kind);
  const { code } = await bundleWorkflows(kind);
  const next = `${file}.${process.pid}.tmp`;
  writeFileSync(next, `${HEADER}${digest}\n${code}`);
  renameSync(next, file);
}

const noop = (): void => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

export type PrebuiltBundle =
  | { bundle: WorkflowBundle; file: string; why?: undefined }
  | { bundle?: undefined; file: string; why: 'missing' | 'stale' };

/** The prebuilt bundle of `kind` if it was made from this code; else why not. */
export function loadPrebuiltBundle(
  kind: BundleKind,
  file = prebuiltBundleFile(kind),
  srcDir = COMPILED_SRC,
): PrebuiltBundle {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { file, why: 'missing' };
  }
  const firstLine = text.slice(0, text.indexOf('\n'));
  if (!firstLine.startsWith(HEADER) || firstLine.slice(HEADER.length) !== bundleSourceDigest(kind, srcDir))
    return { file, why: 'stale' };
  return { bundle: { code: text }, file };
}
