import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isAlive } from './stack-connection';

/**
 * The processes `npm run stack` starts outside its own (Temporal and Postgres run detached, so
 * that a Ctrl-C reaches them through the stack's orderly stop, after the worker), recorded in the
 * state folder. A stack that could not stop them (killed with SIGKILL, crashed, its terminal
 * closed) left them holding its ports, and every later `npm run stack` refused to start ("is the
 * stack already running?") until someone found them by hand. The next stack stops them first.
 */

/** One process the stack started. */
export interface StackProcess {
  what: string;
  pid: number;
  /** Its command line when started (/proc): a pid the system has since reused is never signalled. */
  commandLine: string;
}

interface ProcessRecord {
  stackPid: number;
  stackCommandLine: string;
  processes: StackProcess[];
}

export function stackProcessesFile(stackDir: string): string {
  return path.join(stackDir, 'processes.json');
}

/** A process's command line (Linux), or undefined when it is gone or cannot be read. */
export function commandLineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
}

/** The running stack's record of what it started; cleared when it has stopped them. */
export class StackProcesses {
  private processes: StackProcess[] = [];

  constructor(private readonly stackDir: string) {}

  /** Records `what` (replacing an earlier one of the same name: a restarted worker). */
  add(what: string, pid: number | undefined): void {
    const commandLine = pid === undefined ? undefined : commandLineOf(pid);
    if (pid === undefined || commandLine === undefined) return;
    this.processes = [...this.processes.filter((entry) => entry.what !== what), { what, pid, commandLine }];
    const record: ProcessRecord = {
      stackPid: process.pid,
      stackCommandLine: commandLineOf(process.pid) ?? '',
      processes: this.processes,
    };
    writeFileSync(stackProcessesFile(this.stackDir), `${JSON.stringify(record, null, 2)}\n`);
  }

  /** Forgets what this stack recorded; false if it recorded nothing (refused at start). */
  clear(): boolean {
    if (!this.processes.length) return false;
    rmSync(stackProcessesFile(this.stackDir), { force: true });
    return true;
  }
}

/**
 * Stops what a stack that is gone left running (see above), and forgets its address. Nothing is
 * done while the recorded stack still runs: the port check then says it is running.
 */
export async function stopLeftoverProcesses(
  stackDir: string,
  say: (line: string) => void,
  connectionFile: string = path.join(stackDir, 'connection.json'),
): Promise<void> {
  const file = stackProcessesFile(stackDir);
  if (!existsSync(file)) return;
  let record: ProcessRecord;
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as ProcessRecord;
  } catch {
    rmSync(file, { force: true });
    return;
  }
  if (isAlive(record.stackPid) && commandLineOf(record.stackPid) === record.stackCommandLine) return;
  // The reverse of their start: the worker stops acting before Temporal and Postgres go.
  for (const entry of [...record.processes].reverse()) {
    if (commandLineOf(entry.pid) !== entry.commandLine) continue;
    say(
      `• stopping ${entry.what} (pid ${entry.pid}) left running by a stack that did not stop it (pid ${record.stackPid})`,
    );
    // Postgres's SIGINT is its fast shutdown (open transactions rolled back, a checkpoint).
    await stopProcess(entry.pid, entry.what === 'Postgres' ? 'SIGINT' : 'SIGTERM');
  }
  rmSync(file, { force: true });
  rmSync(connectionFile, { force: true });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Signals a process and waits for it to go; SIGKILL after `graceMs`. */
async function stopProcess(pid: number, signal: NodeJS.Signals, graceMs = 30_000): Promise<void> {
  const signalled = (name: NodeJS.Signals): boolean => {
    try {
      process.kill(pid, name);
      return true;
    } catch {
      return false; // gone already
    }
  };
  if (!signalled(signal)) return;
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (!isAlive(pid) || !signalled('SIGKILL')) return;
  const killDeadline = Date.now() + 5_000;
  while (isAlive(pid) && Date.now() < killDeadline) await sleep(100);
}
