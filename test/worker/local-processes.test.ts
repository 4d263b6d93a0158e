import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { captureOutput, restartDelayMs } from '../../src/local/processes';

describe('local servers: what a dead child printed', () => {
  test('the first lines (a Go panic names its cause there) and the last, with how many were left out', async () => {
    const child = spawn(
      process.execPath,
      [
        '-e',
        "console.error('panic: could not build arguments for function'); for (let i = 1; i <= 200; i++) console.error('goroutine ' + i)",
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output = captureOutput(child);
    await once(child, 'close');
    const lines = output().split('\n');
    assert.ok(lines.includes('panic: could not build arguments for function'), output());
    assert.equal(lines.at(-1), 'goroutine 200');
    assert.ok(lines.includes('… (141 lines not kept)'), output());
    assert.equal(lines.length, 20 + 1 + 40);
  });
});

describe('local stack: a server that keeps dying is started again less and less often', () => {
  test('3 s after a first death, then 10, 20, 40 s… and never more than 5 min apart', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 20].map(restartDelayMs),
      [3_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000],
    );
  });
});
