// The whole test suite: setup with the type-aware lint alongside, then every test file under node's
// test runner, against real servers. One embedded Postgres is shared by all files (each file makes
// its own database); Temporal servers are started per file. DATABASE_URL selects a real Postgres
// instead.
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
 * Test files run in a pool of TEST_CONCURRENCY runner processes (RUNBOOKS_TEST_CONCURRENCY=1: one
 * file after another): each `node --test` process runs one job (a file, or one shard of the fault
 * matrix) and the next free one takes the next job, longest expected first. Two fixed lanes (the
 * matrix and the signed approvals in one, every other file in the other) ended 190 s apart in
 * CI164 (820 s against 1012 s); the matrix alone varies 445–633 s between machines, so no fixed
 * split stays balanced. Each job has its own servers and database.
 *
 * Three at a time on the CI's 2 cores: with two, the machine sat idle 15 % of the test phase
 * (vmstat, a whole run: jobs wait on their servers, timers and child processes), 1,369 s in all;
 * with three, 1–5 % idle and 1,221 s the same hour (every job slower, the whole faster).
 */
const TEST_CONCURRENCY = Number(process.env.RUNBOOKS_TEST_CONCURRENCY ?? 3);

/**
 * The test processes' young generation may grow to 32 MiB per semi-space (V8's default on 64-bit is
 * 16): they allocate fast (workflow activations, the SDK's per-promise stack capture, protobuf), and
 * a larger nursery is scavenged less often. Measured on this 2-core machine, one process at a time:
 * the replay gate 112–120 → 101–108 s of CPU, a fault-matrix subset (phasedReenablement) 112 → 96 s;
 * peak RSS +0–170 MiB. `node --test` passes it on to the file's process (and its worker threads);
 * the worker and CLI processes the tests start keep Node's defaults, as in production.
 */
const TEST_SEMI_SPACE = '--max-semi-space-size=32';

/** The fault matrix runs as this many shards (its rows split by cost: test/workflows/fault-matrix.test.ts). */
const MATRIX_SHARDS = 2;

/**
 * Seconds each long job took in CI230 (a fresh clone, 2 cores, two at a time; three at a time
 * each takes longer, the order stays), to start the longest first; a file not listed is taken as
 * 10 s. The runner prints each job's time at the end.
 */
const EXPECTED_SECONDS = [
  ['fault-matrix', 250],
  ['replay/histories', 112],
  ['e2e/history-limit', 105],
  ['e2e/cli-runs', 98],
  ['e2e/status-bounds', 73],
  ['e2e/break-glass-restore', 72],
  ['e2e/rollback-to-pilot', 55],
  ['workflows/incident-long-waits', 52],
  ['workflows/phased-reenablement', 49],
  ['e2e/worker-upgrade', 43],
  ['workflows/backstop', 42],
  ['e2e/stack', 42],
  ['reenablement-failures', 39],
  ['e2e/pending-activity-limit', 38],
  ['workflows/rollback-to-pilot', 32],
];
const expectedSeconds = (job) =>
  EXPECTED_SECONDS.find(([fragment]) => job.file.includes(fragment))?.[1] ?? 10;

/** The jobs for `files`: one per file, the fault matrix in shards when files run side by side. */
function jobsFor(files) {
  const jobs = files.flatMap((file) =>
    file.includes('fault-matrix') && TEST_CONCURRENCY > 1
      ? Array.from({ length: MATRIX_SHARDS }, (_, i) => ({
          file,
          label: `${path.relative(ROOT, file)} (shard ${i + 1}/${MATRIX_SHARDS})`,
          env: { FAULT_MATRIX_SHARD: `${i + 1}/${MATRIX_SHARDS}` },
        }))
      : [{ file, label: path.relative(ROOT, file), env: {} }],
  );
  return jobs.sort((a, b) => expectedSeconds(b) - expectedSeconds(a) || a.label.localeCompare(b.label));
}

/**
 * eslint (type-aware: it reads the TypeScript sources, not dist/) and prettier, started as soon as
 * node_modules is in place, so that they run while the Temporal binaries install and tsc compiles
 * (one after the other they took ~60 s of the CI's 2 cores before any test ran, tsc and the
 * bundling ~30 s more, each of them leaving a core mostly idle). Each one's output is printed when
 * both have ended; a failure stops the run before any test, as before (the promise rejects with its
 * SetupError). They are stopped if the process exits first (a setup step that failed).
 */
function startLint() {
  const began = Date.now();
  const children = [];
  const run = (label, script, args) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'node_modules', ...script), ...args], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      const output = collectOutput(child);
      child.on('error', (error) => resolve({ label, ok: false, output: `${output.text}${String(error)}\n` }));
      child.on('close', (code) => resolve({ label, ok: code === 0, output: output.text }));
    });
  const results = Promise.all([
    run('eslint found problems (see above).', ['eslint', 'bin', 'eslint.js'], ['.']),
    run(
      'prettier: files are not formatted (run npm run format).',
      ['prettier', 'bin', 'prettier.cjs'],
      ['--check', '--log-level', 'warn', '.'],
    ),
  ]);
  const stop = () => children.forEach((child) => child.kill());
  process.on('exit', stop);
  return results.then((ended) => {
    process.off('exit', stop);
    process.stdout.write(
      `• lint (eslint, prettier, alongside the build): ${((Date.now() - began) / 1000).toFixed(0)} s\n`,
    );
    for (const { output } of ended) process.stdout.write(output);
    const failed = ended.find((result) => !result.ok);
    if (failed) throw new SetupError(failed.label);
  });
}

async function main() {
  // A concurrency that is not a whole number would start no runner, and so pass with no test run.
  if (!Number.isInteger(TEST_CONCURRENCY) || TEST_CONCURRENCY < 1)
    throw new SetupError(
      `RUNBOOKS_TEST_CONCURRENCY must be a whole number of 1 or more, not ${JSON.stringify(process.env.RUNBOOKS_TEST_CONCURRENCY)}`,
    );
  await setup({ alongside: startLint });

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

  // Every file runs on the build's workflow bundle (test/fixtures/temporal.ts workflowBundle; each
  // made its own: 5 s, 7 s of CPU, ~35 times). A build whose bundles went missing since is given them.
  const { loadPrebuiltBundle } = require(path.join(ROOT, 'dist', 'src', 'worker', 'prebuilt-bundle.js'));
  const prebuilt = loadPrebuiltBundle('unversioned');
  if (!prebuilt.bundle) {
    process.stdout.write(`• bundling the workflow code (the build's bundle is ${prebuilt.why})\n`);
    const bundled = spawnSync(
      process.execPath,
      [path.join(ROOT, 'dist', 'src', 'worker', 'write-bundles.js')],
      {
        cwd: ROOT,
        stdio: 'inherit',
      },
    );
    if (bundled.status !== 0) throw new SetupError('the workflow code did not bundle (see above).');
  }

  // `npm test -- workflows/backstop e2e/cli`: only the files whose path contains a fragment.
  const fragments = process.argv.slice(2);
  const files = testFiles(path.join(ROOT, 'dist', 'test'))
    .filter((file) => fragments.length === 0 || fragments.some((fragment) => file.includes(fragment)))
    .sort();
  if (files.length === 0) throw new SetupError(`no test file matches ${fragments.join(', ')}`);
  const jobs = jobsFor(files);
  process.stdout.write(
    `• running ${files.length} test files as ${jobs.length} jobs, ${Math.min(TEST_CONCURRENCY, jobs.length)} at a time\n`,
  );
  let status = 1;
  try {
    const results = await runPool(jobs, env);
    status = results.length === jobs.length && results.every((r) => r.code === 0) ? 0 : 1;
    process.stdout.write('\n• jobs by time (s, passed / failed):\n');
    for (const r of [...results].sort((a, b) => b.seconds - a.seconds))
      process.stdout.write(
        `  ${r.seconds.toFixed(0).padStart(5)}  ${r.passed} / ${r.failed}  ${r.job.label}\n`,
      );
    const passed = results.reduce((sum, r) => sum + r.passed, 0);
    const failed = results.reduce((sum, r) => sum + r.failed, 0);
    process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  } finally {
    await postgres?.stop();
  }
  process.exit(status);
}

/** A child's stdout and stderr as they come, in one text (`.text`). */
function collectOutput(child) {
  const collected = { text: '' };
  for (const stream of [child.stdout, child.stderr])
    stream.on('data', (chunk) => (collected.text += chunk.toString('utf8')));
  return collected;
}

/** Runs `jobs` in TEST_CONCURRENCY processes at a time, in their order; each job's result. */
async function runPool(jobs, env) {
  const queue = [...jobs];
  const results = [];
  const runner = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) results.push(await runJob(job, env));
  };
  await Promise.all(Array.from({ length: Math.min(TEST_CONCURRENCY, jobs.length) }, runner));
  return results;
}

/** One node --test process over one job; its output when it ends (no interleaved lines), and its counts. */
function runJob(job, env) {
  // A file is allowed 15 min (the longest take 3–5 min on 2 cores, a fault-matrix shard 470–575 s
  // three at a time in CI235/CI236): past that it is hung, and node's runner prints what was still
  // running. The whole matrix in one file (concurrency 1) took 8–21 min on shared machines: 25.
  const whole = job.file.includes('fault-matrix') && !job.env?.FAULT_MATRIX_SHARD;
  const timeoutMs = whole ? 1_500_000 : 900_000;
  const began = Date.now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [TEST_SEMI_SPACE, '--test', `--test-timeout=${timeoutMs}`, '--test-reporter=spec', job.file],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, ...job.env } },
    );
    const collected = collectOutput(child);
    // A file's output comes at its end; one still running after 5 min says where it is meanwhile,
    // so a run stopped from outside (CI's own limit) still shows what hung.
    const progress = setInterval(() => {
      // Its last test result (a log line after it says less), colour codes taken out.
      const lines = collected.text
        .split('\n')
        .map((line) => line.replace(/\x1b\[[0-9;]*m/g, '').trim())
        .filter(Boolean);
      const last = (lines.findLast((line) => /^[✔✖﹣▶]/u.test(line)) ?? lines.at(-1) ?? '').slice(0, 200);
      const minutes = ((Date.now() - began) / 60_000).toFixed(0);
      process.stdout.write(
        `\n• still running: ${job.label}, ${minutes} min; its last line: ${last || '(none yet)'}\n`,
      );
    }, 300_000);
    progress.unref();
    child.on('close', (code, signal) => {
      clearInterval(progress);
      const seconds = (Date.now() - began) / 1000;
      process.stdout.write(
        `\n• ${job.label}: ${seconds.toFixed(0)} s, exit ${code ?? signal}\n${collected.text}`,
      );
      const count = (label) => Number(new RegExp(`ℹ ${label} (\\d+)`).exec(collected.text)?.[1] ?? 0);
      // A file that timed out is "cancelled", not "fail": it is a failure all the same, and a
      // runner that died without its summary is one failure more than it counted.
      const failed = count('fail') + count('cancelled');
      resolve({
        job,
        seconds,
        code: code ?? 1,
        passed: count('pass'),
        failed: failed === 0 && code !== 0 ? 1 : failed,
      });
    });
  });
}

main().catch(fail);
