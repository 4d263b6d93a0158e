// The whole test suite: setup, type-aware lint, then every test file under node's test runner,
// against real servers. One embedded Postgres is shared by all files (each file makes its own
// database); Temporal servers are started per file. DATABASE_URL selects a real Postgres instead.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fail, ROOT, setup, SetupError } from './bootstrap.mjs';

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(full);
    return entry.name.endsWith('.test.js') ? [full] : [];
  });
}

/** The backstop tests run the test server on the seed's calendar (2026-05-12) through libfaketime. */
function requireLibfaketime(servers) {
  if (servers.findLibfaketime()) return;
  throw new SetupError(
    "libfaketime is missing (the backstop tests start the Temporal test server on the seed's 2026-05-12 calendar).\n" +
      '  Install it: sudo apt-get install faketime   (.ci/run does this on CI)',
  );
}

/** Signed approvals are verified (and signed by the CLI) with ssh-keygen. */
function requireSshKeygen() {
  if (spawnSync('ssh-keygen', ['-?'], { stdio: 'ignore' }).error?.code !== 'ENOENT') return;
  throw new SetupError(
    'ssh-keygen is missing (signed approvals are verified with it).\n' +
      '  Install it: sudo apt-get install openssh-client   (.ci/run does this on CI)',
  );
}

/** The Web UI test drives Debian's chromium through playwright-core (whose own browser download cannot work here). */
function requireChromium() {
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (existsSync(chromium)) return;
  throw new SetupError(
    `chromium is missing at ${chromium} (the Web UI approval test drives it).\n` +
      '  Install it: sudo apt-get install chromium   (.ci/run does this on CI), or set CHROMIUM_PATH',
  );
}

/** The alert rules' unit tests run Prometheus's own promtool (Debian's prometheus package). */
function requirePromtool() {
  const promtool = process.env.PROMTOOL_PATH ?? 'promtool';
  if (spawnSync(promtool, ['--version'], { stdio: 'ignore' }).error?.code !== 'ENOENT') return;
  throw new SetupError(
    `promtool is missing (${promtool}; the alert rules' unit tests run it).\n` +
      '  Install it: sudo apt-get install prometheus   (.ci/run does this on CI), or set PROMTOOL_PATH',
  );
}

/**
 * Test files run in two lanes (RUNBOOKS_TEST_CONCURRENCY=1: one lane, one file after another):
 * the fault matrix (8–12 min) and SECOND_LANE's files in one, every other file one after another
 * in the other. In one lane the suite took 21 min on a 2-core machine, over the 20-min budget. (Node's own
 * --test-concurrency sorts the files, so the matrix started last; hence two runner processes.)
 * Each file has its own servers and database either way.
 */
const TEST_CONCURRENCY = Number(process.env.RUNBOOKS_TEST_CONCURRENCY ?? 2);

/**
 * The second lane: the fault matrix, and after it the files that balance the lanes. CI133
 * (2026-12-05, idle 2-core machine): matrix 445 s, signed approvals 181 s, every other file 737 s
 * one after another, so the run took 968 s with the signed approvals in the first lane.
 */
const SECOND_LANE = ['fault-matrix', 'signed-approvals'];
const inSecondLane = (file) => SECOND_LANE.some((name) => file.includes(name));

async function main() {
  setup();

  process.stdout.write('• lint (eslint, prettier)\n');
  const eslint = spawnSync(
    process.execPath,
    [path.join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js'), '.'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  if (eslint.status !== 0) throw new SetupError('eslint found problems (see above).');
  const prettier = spawnSync(
    process.execPath,
    [
      path.join(ROOT, 'node_modules', 'prettier', 'bin', 'prettier.cjs'),
      '--check',
      '--log-level',
      'warn',
      '.',
    ],
    { cwd: ROOT, stdio: 'inherit' },
  );
  if (prettier.status !== 0) throw new SetupError('prettier: files are not formatted (run npm run format).');

  const require = createRequire(import.meta.url);
  const servers = require(path.join(ROOT, 'dist', 'src', 'local', 'servers.js'));
  requireLibfaketime(servers);
  requireSshKeygen();
  requireChromium();
  requirePromtool();
  const env = { ...process.env };
  let postgres;
  if (!process.env.DATABASE_URL) {
    process.stdout.write('• starting the shared embedded Postgres for the tests\n');
    postgres = await servers.startPostgres({
      dataDir: servers.postgresDataDir(path.join(servers.scratchDir('runbooks-test-pg'), 'data')),
      ephemeral: true,
    });
    env.RUNBOOKS_TEST_PG_URL = postgres.url;
  }

  // `npm test -- workflows/backstop e2e/cli`: only the files whose path contains a fragment.
  const fragments = process.argv.slice(2);
  const files = testFiles(path.join(ROOT, 'dist', 'test'))
    .filter((file) => fragments.length === 0 || fragments.some((fragment) => file.includes(fragment)))
    .sort()
    // The longest file (the fault matrix, ~15 min) first, so the others run beside it.
    .sort((a, b) => Number(b.includes('fault-matrix')) - Number(a.includes('fault-matrix')));
  if (files.length === 0) throw new SetupError(`no test file matches ${fragments.join(', ')}`);
  const lanes =
    TEST_CONCURRENCY > 1 ? [files.filter((f) => !inSecondLane(f)), files.filter(inSecondLane)] : [files];
  const nonEmpty = lanes.filter((lane) => lane.length > 0);
  process.stdout.write(`• running ${files.length} test files in ${nonEmpty.length} lane(s)\n`);
  let status = 1;
  try {
    // The first lane prints as it goes; the others print when they end (no interleaved lines).
    const results = await Promise.all(nonEmpty.map((lane, i) => runLane(lane, env, i === 0)));
    status = results.every((r) => r.code === 0) ? 0 : 1;
    const passed = results.reduce((sum, r) => sum + r.passed, 0);
    const failed = results.reduce((sum, r) => sum + r.failed, 0);
    process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  } finally {
    await postgres?.stop();
  }
  process.exit(status);
}

/** One node --test process over `lane`; its output live (or at its end), and its pass/fail counts. */
function runLane(lane, env, live) {
  // A file may take 15 min; the fault matrix (every site of nine workflow types × 3 faults, one
  // file) took 15–21 min on a shared 2-core machine while the fake kubectl started node per call
  // (12 min in CI47; 8 min in CI49, the libfaketime server no longer spinning), so its lane
  // allows 25.
  const timeoutMs = lane.some((file) => file.includes('fault-matrix')) ? 1_500_000 : 900_000;
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--test', '--test-concurrency=1', `--test-timeout=${timeoutMs}`, '--test-reporter=spec', ...lane],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env },
    );
    let output = '';
    const take = (stream, sink) =>
      stream.on('data', (chunk) => {
        output += chunk.toString('utf8');
        if (live) sink.write(chunk);
      });
    take(child.stdout, process.stdout);
    take(child.stderr, process.stderr);
    child.on('close', (code) => {
      if (!live) process.stdout.write(output);
      const count = (label) => Number(new RegExp(`ℹ ${label} (\\d+)`).exec(output)?.[1] ?? 0);
      // A file that timed out is "cancelled", not "fail": it is a failure all the same.
      resolve({ code: code ?? 1, passed: count('pass'), failed: count('fail') + count('cancelled') });
    });
  });
}

main().catch(fail);
