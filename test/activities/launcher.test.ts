import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { launchFile, type LaunchError, type LaunchOptions } from '../../src/activities/exec/launcher';
import { eventually } from '../fixtures/wait';

/** The worker's process launcher (src/activities/exec): execFile's behaviour, from another process. */

interface Ended {
  error: LaunchError | null;
  stdout: string;
  stderr: string;
}

function launch(file: string, args: string[], options: LaunchOptions = { timeout: 10_000 }): Promise<Ended> {
  return new Promise((resolve) =>
    launchFile(file, args, options, (error, stdout, stderr) => resolve({ error, stdout, stderr })),
  );
}

const node = (script: string, options?: LaunchOptions) => launch(process.execPath, ['-e', script], options);

const LAUNCHER = path.join(__dirname, '..', '..', 'src', 'activities', 'exec', 'launcher.js');

/** A process's state and parent from /proc (undefined once it is gone). */
function procStat(pid: number): { state: string; parent: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: state!, parent: Number(parent) };
  } catch {
    return undefined;
  }
}

/** Running: a process that exited and waits to be reaped (a zombie) is not. */
function alive(pid: number): boolean {
  const state = procStat(pid)?.state;
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** The pid of a live child process of `parent` (a worker's launcher), or 0. */
function childOf(parent: number): number {
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (pid > 0 && procStat(pid)?.parent === parent && alive(pid)) return pid;
  }
  return 0;
}

describe('the process launcher', () => {
  test('starts programs from its own process, not from the worker’s', async () => {
    const { error, stdout } = await node('process.stdout.write(String(process.ppid))');
    assert.equal(error, null);
    const parent = Number(stdout);
    assert.ok(
      parent > 0 && parent !== process.pid,
      `the program's parent is ${parent}, this process ${process.pid}`,
    );
    // One launcher for every call.
    assert.equal((await node('process.stdout.write(String(process.ppid))')).stdout, stdout);
  });

  test('answers as execFile: output, an exit code, a missing program, a timeout, stdin, the environment and directory', async () => {
    const ok = await node('process.stdout.write("out"); process.stderr.write("err")');
    assert.deepEqual(ok, { error: null, stdout: 'out', stderr: 'err' });

    const failed = await node('process.stderr.write("no such pod"); process.exit(3)');
    assert.equal(failed.error?.code, 3);
    assert.equal(failed.stderr, 'no such pod');

    const missing = await launch('durable-runbooks-no-such-program', []);
    assert.equal(missing.error?.code, 'ENOENT');

    const began = Date.now();
    const hung = await node('setTimeout(() => {}, 60_000)', { timeout: 300, killSignal: 'SIGKILL' });
    assert.equal(hung.error?.killed, true);
    assert.equal(hung.error?.signal, 'SIGKILL');
    assert.ok(Date.now() - began < 10_000);

    const echoed = await node('process.stdin.pipe(process.stdout)', {
      timeout: 10_000,
      input: 'signed text',
    });
    assert.equal(echoed.stdout, 'signed text');

    // The environment and directory at the call, not at the launcher's start.
    process.env.RUNBOOKS_LAUNCHER_TEST = 'set after the start';
    try {
      const seen = await node(
        'process.stdout.write(process.env.RUNBOOKS_LAUNCHER_TEST + " " + process.cwd())',
      );
      assert.equal(seen.stdout, `set after the start ${process.cwd()}`);
    } finally {
      delete process.env.RUNBOOKS_LAUNCHER_TEST;
    }

    const tooMuch = await node('process.stdout.write("x".repeat(4096))', { timeout: 10_000, maxBuffer: 100 });
    assert.equal(tooMuch.error?.code, 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER');
  });

  test('a launcher outlasts a Ctrl-C to the worker’s group; one that dies fails the calls it was running (ELAUNCHER), and the next call starts another', async () => {
    const first = Number((await node('process.stdout.write(String(process.ppid))')).stdout);
    // A Ctrl-C or SIGTERM to the worker's process group is the worker's to act on, not the launcher's.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.kill(first, signal);
    const same = await node('setTimeout(() => process.stdout.write(String(process.ppid)), 200)');
    assert.equal(Number(same.stdout), first, 'the launcher did not outlast SIGINT and SIGTERM');
    const running = node('setTimeout(() => {}, 60_000)', { timeout: 120_000 });
    // Started once the launcher has the request (the program's start is not observable from here).
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(first, 'SIGKILL');
    const ended = await running;
    assert.equal(ended.error?.code, 'ELAUNCHER');
    assert.match(ended.error?.message ?? '', /the process launcher exited \(SIGKILL\) before .* ended/);
    const next = await node('process.stdout.write(String(process.ppid))');
    assert.equal(next.error, null);
    assert.notEqual(Number(next.stdout), first);
  });

  test('neither keeps a process alive when idle nor lets it end while a program runs, and goes with a worker killed -9', async () => {
    // A process whose only work is one launched program: it waits for it, prints, and ends.
    const script = `require(${JSON.stringify(LAUNCHER)}).launchFile(process.execPath, ['-e', 'setTimeout(() => process.stdout.write(String(process.ppid)), 500)'], { timeout: 10000 }, (error, stdout) => process.stdout.write(error ? 'error ' + error.message : 'launcher ' + stdout + '\\n'));`;
    const oneCall = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let printed = '';
    oneCall.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => oneCall.on('exit', resolve));
    assert.equal(code, 0);
    const launcherPid = Number(/^launcher (\d+)$/m.exec(printed)?.[1]);
    assert.ok(launcherPid > 0, `printed: ${printed}`);
    await eventually(() => !alive(launcherPid), 'the launcher to end with its worker', 5_000);

    // A worker killed -9 with a program running: its launcher exits (the program goes on).
    const worker = spawn(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(LAUNCHER)}).launchFile(process.execPath, ['-e', 'process.stdout.write(String(process.ppid)); setTimeout(() => {}, 60000)'], { timeout: 120000 }, () => {}); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let pid = 0;
    await eventually(() => (pid = childOf(worker.pid!)) > 0, 'the worker’s launcher', 10_000);
    let program = 0;
    await eventually(() => (program = childOf(pid)) > 0, 'the launcher’s program', 10_000);
    try {
      worker.kill('SIGKILL');
      // At once, not when its program ends (in a minute).
      await eventually(() => !alive(pid), 'the launcher to end with a worker killed -9', 5_000);
    } finally {
      if (program > 0 && alive(program)) process.kill(program, 'SIGKILL');
    }
  });

  test('a launcher that ends before it is ready ran nothing: its calls, and every later one, start from the worker, once each', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'runbooks-launcher-'));
    const marks = path.join(dir, 'runs');
    const exits = path.join(dir, 'exits.js');
    writeFileSync(exits, 'process.exit(3);\n');
    // The worker's fork replaced by one of a launcher that exits at once, before saying it is ready.
    const script = `
      const childProcess = require('node:child_process');
      const fork = childProcess.fork;
      childProcess.fork = (_script, args, options) => fork(${JSON.stringify(exits)}, args, options);
      const { launchFile } = require(${JSON.stringify(LAUNCHER)});
      const mark = ['-e', 'require("node:fs").appendFileSync(${JSON.stringify(marks)}, "x"); process.stdout.write(String(process.ppid))'];
      launchFile(process.execPath, mark, { timeout: 10000 }, (error, first) =>
        launchFile(process.execPath, mark, { timeout: 10000 }, (again, second) =>
          process.stdout.write(JSON.stringify({ error: error?.message ?? again?.message, first, second, pid: process.pid }))));`;
    const worker = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    worker.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    worker.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    assert.equal(await new Promise((resolve) => worker.on('exit', resolve)), 0, stderr);
    const ended = JSON.parse(stdout) as { error?: string; first: string; second: string; pid: number };
    assert.equal(ended.error, undefined);
    assert.equal(Number(ended.first), ended.pid, 'the first call did not run from the worker');
    assert.equal(Number(ended.second), ended.pid, 'a later call did not run from the worker');
    assert.equal(readFileSync(marks, 'utf8'), 'xx', 'not run once each');
    assert.match(
      stderr,
      /the process launcher could not be started \(exited \(code 3\)\): the worker starts its programs itself/,
    );
  });
});
