import { execFile, type ExecFileException } from 'node:child_process';
import { endStdin } from '../child-stdin';
import type { LaunchOptions } from './protocol';

/**
 * execFile (an argument array, no shell) with the launch options, its stdin written and closed
 * when given: what the launcher runs for the worker, and the worker itself when it has no launcher.
 */
export function runProgram(
  file: string,
  args: string[],
  options: LaunchOptions & { env?: Record<string, string>; cwd?: string },
  callback: (error: ExecFileException | null, stdout: string, stderr: string) => void,
): void {
  const child = execFile(
    file,
    args,
    {
      timeout: options.timeout,
      ...(options.maxBuffer !== undefined ? { maxBuffer: options.maxBuffer } : {}),
      ...(options.killSignal ? { killSignal: options.killSignal } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.cwd ? { cwd: options.cwd } : {}),
      encoding: 'utf8',
    },
    callback,
  );
  if (options.input !== undefined) endStdin(child, options.input);
}
