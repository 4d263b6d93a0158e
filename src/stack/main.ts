import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Pool } from 'pg';
import { ensureRunbookTables } from '../db/runbook-schema';
import {
  CRASH_LOOP_WINDOW_MS,
  isPortFree,
  postgresDataDir,
  restartDelayMs,
  startDevServer,
  startPostgres,
  waitForWorker,
  type RunningServer,
} from '../local/servers';
import { DEFAULT_POLICY_FILE, DEFAULT_TASK_QUEUE, redactUrl } from '../worker/config';
import { ConfigurationError } from '../common/errors';
import { REPO_ROOT } from '../local/paths';
import { loadPolicyFile } from '../worker/policy';
import { stackConnectionFile, stackDir, type StackConnection } from '../local/stack-connection';
import { StackProcesses, stopLeftoverProcesses } from '../local/stack-leftovers';
import { ensureDemoTarget } from './demo-data';
import { AesGcmPayloadCodec } from '../codec/aes-gcm';
import { generatePayloadKeyEntry, loadPayloadKeys, PAYLOAD_KEYS_FILE_ENV } from '../codec/keys';
import { startCodecServer } from '../codec/server';

/**
 * The local stack, left running until Ctrl-C:
 * - Temporal dev server on 127.0.0.1:7233 with the Web UI on :8233, state in .stack/temporal.sqlite
 *   (a restart keeps the runs), the runbooks' search attributes registered;
 * - embedded Postgres (data in .stack/postgres) with the demo target, unless DATABASE_URL is set;
 * - the worker on task queue "runbooks" with the shipped policy (or RUNBOOKS_POLICY_FILE).
 */

const STACK_DIR = stackDir();
const TEMPORAL_PORT = Number(process.env.STACK_TEMPORAL_PORT ?? 7233);
const UI_PORT = Number(process.env.STACK_UI_PORT ?? 8233);
const PG_PORT = Number(process.env.STACK_PG_PORT ?? 55432);
const CODEC_PORT = Number(process.env.STACK_CODEC_PORT ?? 8081);
/** The payload keys the stack generates once and keeps (encryption on locally, as in production). */
const PAYLOAD_KEYS_FILE = path.join(STACK_DIR, 'payload-keys');
const DRILL_LOG_DIR = path.join(STACK_DIR, 'drill-logs');
const BACKUP_DIR = path.join(STACK_DIR, 'backups');
const DATABASE = 'champollion';
const STAGING_DATABASE = 'champollion_staging';

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function requireFreePort(port: number, what: string, variable: string): Promise<void> {
  if (!(await isPortFree(port))) {
    throw new ConfigurationError(
      `port ${port} (${what}) is already in use on 127.0.0.1: is the stack already running? ` +
        `Stop it, or choose another port with ${variable}.`,
    );
  }
}

interface Databases {
  target: string;
  staging?: string;
}

async function prepareDatabase(url: string, label: string): Promise<void> {
  const db = new Pool({ connectionString: url, max: 2 });
  try {
    const target = await ensureDemoTarget(db);
    await ensureRunbookTables(db);
    say(
      target.seeded
        ? `  ${label}: demo target created: ${target.historyRows} history rows, live version ${target.liveVersion}`
        : `  ${label}: target present: ${target.historyRows} history rows, live version ${target.liveVersion ?? '(no live row)'}`,
    );
  } finally {
    await db.end();
  }
}

/** Starts a server and keeps it up (see keptUp); what a stop stops is in `stopList`. */
type Keep = <T extends RunningServer>(what: string, start: () => Promise<T>) => Promise<T>;

/**
 * A server the stack keeps up: when it exits on its own (killed, crashed), that is said and it is
 * started again on the same port and state. Before, a Temporal dev server that died left the stack
 * "up" with a worker retrying forever and a CLI saying "start the local stack", which refused to
 * start while its Postgres held the port. Returns the first server (its address and URLs stay).
 */
async function keptUp<T extends RunningServer>(
  what: string,
  start: () => Promise<T>,
  stopping: () => boolean,
  processes: StackProcesses,
  stopList: RunningServer[],
): Promise<T> {
  let current: RunningServer = await start();
  processes.add(what, current.pid);
  stopList.push({ address: current.address, stop: () => current.stop() });
  // Starts in a row that failed or died soon after: each waits longer (restartDelayMs).
  let failures = 0;
  let startedAt = Date.now();
  const retryIn = (): { ms: number; said: string } => {
    const ms = restartDelayMs(failures);
    return { ms, said: `${ms / 1000} s${failures > 1 ? ` (failure ${failures} in a row)` : ''}` };
  };
  const watch = (server: RunningServer): void =>
    void server.exited?.then((how) => {
      if (stopping() || server !== current) return;
      failures = Date.now() - startedAt < CRASH_LOOP_WINDOW_MS ? failures + 1 : 1;
      const wait = retryIn();
      say(`! ${what} exited (${how}); starting it again in ${wait.said}, with its state`);
      setTimeout(() => void restart(), wait.ms);
    });
  const restart = async (): Promise<void> => {
    if (stopping()) return;
    try {
      current = await start();
      startedAt = Date.now();
      processes.add(what, current.pid);
      say(`• ${what} is running again (pid ${current.pid})`);
      watch(current);
    } catch (error) {
      failures += 1;
      const wait = retryIn();
      say(
        `! ${what} did not start again (${error instanceof Error ? error.message : String(error)}); trying again in ${wait.said}`,
      );
      setTimeout(() => void restart(), wait.ms);
    }
  };
  const first = current as T;
  watch(first);
  return first;
}

async function startDatabases(keep: Keep): Promise<Databases> {
  const external = process.env.DATABASE_URL;
  if (external) {
    say(`• Postgres: using DATABASE_URL ${redactUrl(external)}`);
    await prepareDatabase(external, 'target');
    const staging = process.env.STAGING_DATABASE_URL;
    if (staging) await prepareDatabase(staging, 'staging');
    else say('  no STAGING_DATABASE_URL: the drill is unavailable');
    return { target: external, ...(staging ? { staging } : {}) };
  }
  await requireFreePort(PG_PORT, 'Postgres', 'STACK_PG_PORT');
  const dataDir = postgresDataDir(path.join(STACK_DIR, 'postgres'));
  say(`• Postgres: embedded, data in ${dataDir}, 127.0.0.1:${PG_PORT}`);
  const pg = await keep('Postgres', () => startPostgres({ dataDir, port: PG_PORT, detached: true }));
  const admin = new Pool({ connectionString: pg.url, max: 1 });
  for (const name of [DATABASE, STAGING_DATABASE]) {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${name}`);
  }
  await admin.end();
  await prepareDatabase(pg.urlFor(DATABASE), DATABASE);
  await prepareDatabase(pg.urlFor(STAGING_DATABASE), `${STAGING_DATABASE} (drill)`);
  return { target: pg.urlFor(DATABASE), staging: pg.urlFor(STAGING_DATABASE) };
}

/** The stack's payload keys: generated into its state folder on first start (owner-only), then reused. */
function ensurePayloadKeys(): string {
  if (!existsSync(PAYLOAD_KEYS_FILE)) {
    writeFileSync(PAYLOAD_KEYS_FILE, `${generatePayloadKeyEntry('local-1')}\n`, { mode: 0o600 });
    say(`• payload keys: generated ${path.relative(REPO_ROOT, PAYLOAD_KEYS_FILE)} (AES-256-GCM)`);
  }
  return PAYLOAD_KEYS_FILE;
}

function startWorker(databases: Databases, temporalAddress: string, policyFile: string): ChildProcess {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'src', 'worker', 'main.js')], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      DATABASE_URL: databases.target,
      ...(databases.staging ? { STAGING_DATABASE_URL: databases.staging } : {}),
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      RUNBOOKS_TASK_QUEUE: DEFAULT_TASK_QUEUE,
      RUNBOOKS_POLICY_FILE: policyFile,
      // Drill logs and rollback backups stay in the stack's state folder, out of the working tree.
      RUNBOOKS_DRILL_LOG_DIR: DRILL_LOG_DIR,
      RUNBOOKS_BACKUP_DIR: BACKUP_DIR,
      // A terminal reads text better; a log shipper gets JSON (the worker's default) when asked.
      RUNBOOKS_LOG_FORMAT: process.env.RUNBOOKS_LOG_FORMAT ?? 'text',
      // The stack's own keys win over any the caller's shell carries.
      RUNBOOKS_PAYLOAD_KEYS: '',
      [PAYLOAD_KEYS_FILE_ENV]: PAYLOAD_KEYS_FILE,
    },
  });
  return child;
}

/** A Web UI link that opens the Start Workflow form with the id, task queue and type filled in. */
function startLink(uiUrl: string, workflowId: string, workflowType: string): string {
  const query = new URLSearchParams({ workflowId, taskQueue: DEFAULT_TASK_QUEUE, workflowType });
  return `${uiUrl}/namespaces/default/workflows/start-workflow?${query.toString()}`;
}

function banner(uiUrl: string, temporalAddress: string, policyFile: string, codecUrl: string): void {
  const policy = loadPolicyFile(policyFile).policy.runbooks.breakGlassRestore;
  const approver = policy.approvers[0] ?? '@dococeven';
  const input = {
    incidentId: 'INC-4711',
    targetHistoryId: 5,
    requestedBy: approver,
    rationale: 'LGB 5M learning rate set to 0.0 by a Console typo; restoring the previous snapshot',
  };
  const defaultAddress = temporalAddress === '127.0.0.1:7233';
  say(`
────────────────────────────────────────────────────────────────────────────
 Durable Runbooks local stack is up.

 Temporal Web UI:   ${uiUrl}
 Temporal server:   ${temporalAddress}  (namespace default, task queue ${DEFAULT_TASK_QUEUE})
 Payloads:          encrypted (AES-256-GCM, keys in ${path.relative(REPO_ROOT, PAYLOAD_KEYS_FILE)}); the UI decodes
                    through the codec server ${codecUrl}; the temporal CLI with
                    --codec-endpoint ${codecUrl}
 The CLI finds this stack by itself (${path.relative(REPO_ROOT, stackConnectionFile())})${
   defaultAddress
     ? ''
     : `;
 other Temporal tools: TEMPORAL_ADDRESS=${temporalAddress}`
 }.

 Start Procedure A (break-glass restore) from the Web UI, form prefilled:
   ${startLink(uiUrl, 'break-glass-restore-INC-4711', 'breakGlassRestore')}
     Input (JSON):   ${JSON.stringify(input)}
 …or from a terminal:
   npm run cli -- start-restore --incident INC-4711 --target 5 --requested-by ${approver} --rationale "LGB 5M learning rate 0.0 typo"

 Read the plan and its planHash (UI: the run → Queries → status):
   npm run cli -- status --incident INC-4711
 Approve (UI: Send a Signal → approve, input {"approver":"${approver}","planHash":"<planHash>"}):
   npm run cli -- approve --incident INC-4711 --approver ${approver} --plan-hash <planHash>
 The SQL runs ${Math.round(policy.pause / 1000)} s after the approval; "abort" {"by","reason"} stops it until then.
 Then: reconcile with a Console write carrying change_reason='break-glass-INC-4711' within
 ${Math.round(policy.reconciliationDeadline / 60000)} min, and send "postMortemFiled" {"by","link"} within ${Math.round(policy.postMortemDeadline / 3600000)} h.

 Other runbooks, forms prefilled (put your incident id in the workflow id and the input):
   rollback to pilot:   ${startLink(uiUrl, 'rollback-to-pilot-INC-4711', 'rollbackToPilot')}
   re-enablement:       ${startLink(uiUrl, 'phased-reenablement-INC-4711', 'phasedReenablement')}
   all runs:            npm run cli -- list   (or --open, --runbook, --step, --outcome)

 Drill logs: ${path.relative(REPO_ROOT, DRILL_LOG_DIR)}/   rollback backups: ${path.relative(REPO_ROOT, BACKUP_DIR)}/
 Ctrl-C stops everything; runs and data persist in ${path.relative(REPO_ROOT, STACK_DIR) || STACK_DIR}/.
────────────────────────────────────────────────────────────────────────────`);
}

/**
 * Every signal stops the stack, not the first only: a second Ctrl-C (or the wrapper's forwarded
 * copy of the first) found no handler and ended the stack mid-stop, leaving Temporal and Postgres
 * (detached) running on its ports. A closed terminal (SIGHUP) stops it the same way, and a line
 * written to that terminal while stopping must not end the stop with EIO.
 */
function stopOnSignals(shutdown: (code: number) => Promise<never>, stopping: () => boolean): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(signal, () => {
      if (!stopping()) void shutdown(0);
      else say('• already stopping: the worker drains, then Temporal and Postgres stop');
    });
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
}

async function main(): Promise<void> {
  mkdirSync(STACK_DIR, { recursive: true });
  const policyFile = path.resolve(process.env.RUNBOOKS_POLICY_FILE ?? DEFAULT_POLICY_FILE);
  loadPolicyFile(policyFile); // fail fast on a bad policy, before starting anything
  const stopList: RunningServer[] = [];
  const processes = new StackProcesses(STACK_DIR);
  let worker: ChildProcess | undefined;
  let stopping = false;
  const shutdown = async (code: number): Promise<never> => {
    stopping = true;
    say('\n• stopping the stack');
    if (worker && worker.exitCode === null) {
      const exited = new Promise((resolve) => worker!.once('exit', resolve));
      worker.kill('SIGINT');
      await exited;
    }
    for (const server of stopList.reverse()) await server.stop().catch(() => undefined);
    // Only what this stack wrote: one refused at start keeps the running stack's record and address.
    if (processes.clear()) rmSync(stackConnectionFile(), { force: true });
    process.exit(code);
  };
  stopOnSignals(shutdown, () => stopping);

  // What a stack that did not stop left running (SIGKILL, a crash) holds the ports checked below.
  await stopLeftoverProcesses(STACK_DIR, say, stackConnectionFile());
  try {
    await requireFreePort(TEMPORAL_PORT, 'Temporal frontend', 'STACK_TEMPORAL_PORT');
    await requireFreePort(UI_PORT, 'Temporal Web UI', 'STACK_UI_PORT');
    await requireFreePort(CODEC_PORT, 'codec server', 'STACK_CODEC_PORT');
    const keep: Keep = (what, start) => keptUp(what, start, () => stopping, processes, stopList);
    const databases = await startDatabases(keep);
    const keys = loadPayloadKeys({ [PAYLOAD_KEYS_FILE_ENV]: ensurePayloadKeys() });
    if (keys === 'off') throw new ConfigurationError('the stack always encrypts payloads');
    const codec = await startCodecServer({
      codec: new AesGcmPayloadCodec(keys),
      allowedOrigins: [`http://127.0.0.1:${UI_PORT}`, `http://localhost:${UI_PORT}`],
      port: CODEC_PORT,
    });
    stopList.push({ address: codec.url, stop: () => codec.stop() });
    say(`• codec server: ${codec.url} (the Web UI decodes payloads through it)`);
    say(
      `• Temporal dev server: 127.0.0.1:${TEMPORAL_PORT}, Web UI :${UI_PORT}, state in .stack/temporal.sqlite`,
    );
    const temporal = await keep('the Temporal dev server', () =>
      startDevServer({
        port: TEMPORAL_PORT,
        uiPort: UI_PORT,
        dbFile: path.join(STACK_DIR, 'temporal.sqlite'),
        uiCodecEndpoint: codec.url,
        detached: true,
      }),
    );
    const connection: StackConnection = {
      address: temporal.address,
      namespace: 'default',
      ...(temporal.uiUrl ? { uiUrl: temporal.uiUrl } : {}),
      payloadKeysFile: PAYLOAD_KEYS_FILE,
      codecUrl: codec.url,
      pid: process.pid,
    };
    writeFileSync(stackConnectionFile(), `${JSON.stringify(connection, null, 2)}\n`);
    say('• worker: task queue runbooks');
    const launch = (): void => {
      worker = startWorker(databases, temporal.address, policyFile);
      processes.add('the worker', worker.pid);
      worker.once('exit', (code, signal) => {
        if (stopping) return;
        say(`! worker exited (${code ?? signal}); restarting in 3 s`);
        setTimeout(launch, 3_000);
      });
    };
    launch();
    if (!(await waitForWorker(temporal.address, 'default', DEFAULT_TASK_QUEUE))) {
      say('! the worker has not started polling after 60 s; see its output above');
    }
    banner(temporal.uiUrl ?? `http://127.0.0.1:${UI_PORT}`, temporal.address, policyFile, codec.url);
  } catch (error) {
    if (error instanceof ConfigurationError) process.stderr.write(`stack: ${error.message}\n`);
    else process.stderr.write(`stack failed: ${error instanceof Error ? error.message : String(error)}\n`);
    await shutdown(1);
  }
}

void main();
