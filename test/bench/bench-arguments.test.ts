import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT } from '../../src/local/paths';

/** The benches are figure printers, not tests; what is tested here is that they start as documented. */
const bench = (name: string, args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist', 'bench', `${name}.bench.js`), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env,
  });

describe('benchmarks', () => {
  for (const [name, arg] of [
    ['sleepers', 'abc'],
    ['sleepers', '0'],
    ['overhead', '-3'],
    ['replay', '2.5'],
    ['launcher', 'many'],
    ['sleepers', '1000000'],
  ] as const)
    test(`\`npm run bench -- ${name} ${arg}\` stops at once, naming N and what it takes`, () => {
      const run = bench(name, [arg]);
      assert.equal(run.status, 2, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(
          `^npm run bench -- ${name} N: N must be a whole number from 1 to [\\d,]+; got "${arg}"\\n$`,
        ),
      );
      assert.equal(run.stdout, '', 'nothing started');
    });

  test('`npm run bench -- overhead N` without psql on PATH stops before it starts anything, saying what to install', () => {
    const run = bench('overhead', ['2'], {
      ...process.env,
      PATH: mkdtempSync(path.join(tmpdir(), 'no-psql-')),
    });
    assert.equal(run.status, 2, run.stderr);
    assert.match(
      run.stderr,
      /^npm run bench -- overhead: the psql baseline needs psql on PATH .*postgresql-client/,
    );
    assert.equal(run.stdout, '', 'nothing started');
  });

  test('`npm run bench` (Procedure A) measures its activities and completes a whole run on the time-skipping server', () => {
    // The default bench had been failing every run's first workflow task (its worker lacked the
    // client's payload keys) and waited on a step the run no longer takes (the CONFLICT hold).
    const run = bench('restore', [], { ...process.env, BENCH_ITERATIONS: '2', BENCH_RUNS: '1' });
    assert.equal(run.status, 0, run.stderr);
    for (const activity of ['planRestore', 'executeRestore \\(commit\\)', 'verifyRestore'])
      assert.match(run.stdout, new RegExp(`^  ${activity} +p50 [\\d.]+ ms .*\\(n=2\\)$`, 'm'));
    assert.match(run.stdout, /^ {2}wall clock per run +p50 [\d.]+ ms .*\(n=1\)$/m);
    assert.doesNotMatch(run.stderr, /Failing workflow task/);
  });

  test('`npm run bench -- replay N` finds a recorded programme asleep (the newest up to this release) and replays it', () => {
    const run = bench('replay', ['3']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(
      run.stdout,
      /^\d+\.\d+\.\d+\/backstop-program-mid-sleep-t30\.json: \d+ events; \d+ promises/,
    );
    assert.equal(run.stdout.match(/^round \d: 3 replays, [\d.]+ ms CPU/gm)?.length, 3, run.stdout);
  });
});
