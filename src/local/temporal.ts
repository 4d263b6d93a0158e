import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import { lastWorkflowPoll } from '../client/task-queue';
import { RUNBOOK_SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { TEMPORAL_CLI } from './paths';
import {
  captureOutput,
  exitOf,
  freePort,
  requireTool,
  stopChild,
  track,
  type RunningServer,
} from './processes';

/**
 * The Temporal CLI dev server and the time-skipping test server, started by us (rather than
 * through the SDK's 5-second ephemeral-server helper) and waited for with a generous timeout.
 */

/** Waits until a Temporal frontend answers, or the child dies, or the timeout passes. */
async function waitForTemporal(
  address: string,
  child: ChildProcess,
  output: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `Temporal server exited (${child.exitCode ?? child.signalCode}) while starting:\n${output()}`,
      );
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(
    `Temporal server at ${address} did not answer within ${timeoutMs} ms: ${String(lastError)}\n${output()}`,
  );
}

export interface DevServerOptions {
  /** Own process group: a terminal Ctrl-C reaches only the stack, which stops things in order. */
  detached?: boolean;
  port?: number;
  uiPort?: number;
  /** SQLite file for persistence; omitted = in-memory. */
  dbFile?: string;
  headless?: boolean;
  /** The Web UI decodes payloads through this codec server (Temporal's remote codec convention). */
  uiCodecEndpoint?: string;
  log?: (line: string) => void;
  startTimeoutMs?: number;
  /** Server settings (`--dynamic-config-value KEY=VALUE`), e.g. a lower per-run limit for a test. */
  dynamicConfig?: Record<string, number | string | boolean>;
}

export interface RunningDevServer extends RunningServer {
  readonly uiUrl?: string;
}

/** The Temporal CLI dev server with the runbooks' search attributes registered. */
export async function startDevServer(options: DevServerOptions = {}): Promise<RunningDevServer> {
  requireTool(TEMPORAL_CLI, 'The Temporal CLI');
  // A port found free can be taken by another process (another server starting) before the dev
  // server binds it; when it was one we chose (not the caller's), choose again rather than fail.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServerOnce(options);
    } catch (error) {
      const given = [options.port, options.uiPort];
      if (attempt >= 4 || !(error instanceof PortTakenError) || given.includes(error.port)) throw error;
      options.log?.(`port ${error.port} was taken before the server bound it; retrying (${attempt}/4)`);
    }
  }
}

/** The server exited because a port was bound by someone else in the meantime. */
class PortTakenError extends Error {
  constructor(
    message: string,
    readonly port: number | undefined,
  ) {
    super(message);
  }
}

async function startDevServerOnce(options: DevServerOptions): Promise<RunningDevServer> {
  const port = options.port ?? (await freePort());
  const uiPort = options.headless ? undefined : (options.uiPort ?? (await freePort()));
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--http-port',
    String(await freePort()),
    '--metrics-port',
    String(await freePort()),
    '--log-level',
    'warn',
    ...(options.dbFile ? ['--db-filename', options.dbFile] : []),
    ...(uiPort ? ['--ui-port', String(uiPort), '--ui-disable-news-fetch'] : ['--headless']),
    ...(uiPort && options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : []),
    ...RUNBOOK_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
    ...Object.entries(options.dynamicConfig ?? {}).flatMap(([key, value]) => [
      '--dynamic-config-value',
      `${key}=${JSON.stringify(value)}`,
    ]),
  ];
  const child = spawn(TEMPORAL_CLI, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  track(child);
  const exited = exitOf(child);
  const output = captureOutput(child, options.log);
  const address = `127.0.0.1:${port}`;
  try {
    await waitForTemporal(address, child, output, options.startTimeoutMs ?? 60_000);
  } catch (error) {
    await stopChild(child);
    const taken = /listen tcp [\d.]+:(\d+): bind: address already in use/i.exec(output());
    if (taken)
      throw new PortTakenError(error instanceof Error ? error.message : String(error), Number(taken[1]));
    throw error;
  }
  return {
    address,
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    exited,
    ...(uiPort ? { uiUrl: `http://127.0.0.1:${uiPort}` } : {}),
    stop: () => stopChild(child),
  };
}

const LIBFAKETIME_CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1',
  '/usr/lib/faketime/libfaketimeMT.so.1',
  '/usr/local/lib/faketime/libfaketimeMT.so.1',
];

/** libfaketime (Debian "faketime"), which starts a test server's clock on a chosen date; undefined if missing. */
export function findLibfaketime(): string | undefined {
  return LIBFAKETIME_CANDIDATES.find((candidate) => existsSync(candidate));
}

// ---------------------------------------------------------------------------------------------
// Embedded PostgreSQL

/** Waits until a worker polls `taskQueue` for workflow tasks (so the banner is printed when it can serve). */
export async function waitForWorker(
  address: string,
  namespace: string,
  taskQueue: string,
  timeoutMs = 60_000,
): Promise<boolean> {
  const connection = await Connection.connect({ address });
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await lastWorkflowPoll(connection, namespace, taskQueue)) return true;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return false;
  } finally {
    await connection.close();
  }
}
