import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { endStdin } from '../../src/activities/child-stdin';

describe('a child that exits without reading its stdin', () => {
  test('is answered by its exit status: the failed write (EPIPE) does not end this process', async () => {
    // More than a pipe holds, to a child that exits at once: the write cannot complete, every time.
    const text = 'x'.repeat(4 * 1024 * 1024);
    for (let round = 0; round < 3; round++) {
      const code = await new Promise<number | null>((resolve) => {
        const child = execFile(process.execPath, ['-e', 'process.exit(3)'], (error) =>
          resolve(error ? (typeof error.code === 'number' ? error.code : null) : 0),
        );
        endStdin(child, text);
      });
      assert.equal(code, 3);
    }
  });
});
