import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './paths';

/** The stack's state folder: `.stack/` in the repository, or RUNBOOKS_STACK_DIR. */
export function stackDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.RUNBOOKS_STACK_DIR ?? path.join(REPO_ROOT, '.stack'));
}

/** Where `npm run stack` writes the address of the stack it runs, for the CLI to find. */
export function stackConnectionFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(stackDir(env), 'connection.json');
}

export interface StackConnection {
  address: string;
  namespace: string;
  uiUrl?: string;
  /** The payload keys the stack generated (its worker, codec server and the CLI use them). */
  payloadKeysFile?: string;
  /** The stack's codec server (the Web UI decodes through it). */
  codecUrl?: string;
  pid: number;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The local stack this machine runs (its connection file and a live process), if any. */
export function runningStack(env: NodeJS.ProcessEnv = process.env): StackConnection | undefined {
  const file = stackConnectionFile(env);
  if (!existsSync(file)) return undefined;
  try {
    const stack = JSON.parse(readFileSync(file, 'utf8')) as StackConnection;
    return isAlive(stack.pid) ? stack : undefined;
  } catch {
    return undefined;
  }
}
