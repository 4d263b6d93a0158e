import type { ChildProcess } from 'node:child_process';

/**
 * Writes `text` to a child's stdin and ends it. A child that exits without reading it (ssh-keygen
 * given a malformed signature) closes the pipe, and the write fails with EPIPE: an 'error' event
 * on the stream, which with no listener is thrown and ends the process (CI157: a forged signature
 * ended a test's in-process worker; in `npm run worker` it would end the worker). The child's exit
 * status says what happened; the failed write adds nothing to it.
 */
export function endStdin(child: ChildProcess, text: string): void {
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(text);
}
