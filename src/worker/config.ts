import path from 'node:path';
import { z } from 'zod';
import { describeIssues } from '../common/validation';
import { ConfigurationError } from '../common/errors';
import { MIN_WORKER_HEAP_MIB } from './heap-preflight';
import { REPO_ROOT } from '../local/paths';
import { parseDuration } from '../common/duration';
import { getHeapStatistics } from 'node:v8';
import { isIPv4, isIPv6 } from 'node:net';

export const DEFAULT_POLICY_FILE = path.join(REPO_ROOT, 'policy', 'default-policy.json');
export const DEFAULT_TASK_QUEUE = 'runbooks';

const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// connection URL');

/** A deployment name or build id: what the Temporal CLI and UI show, so plain and short. */
const deploymentPart = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'letters, digits, ".", "_" and "-" (at most 100)');

/** An IP address and a port the SDK core can bind: `0.0.0.0:9464`, `[::]:9464` (port 0 would be unknowable). */
function isListenAddress(address: string): boolean {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(address);
  if (!match) return false;
  const port = Number(match[3]);
  return port >= 1 && port <= 65_535 && (match[1] ? isIPv6(match[1]) : isIPv4(match[2] ?? ''));
}

/**
 * Activities one workflow task's completion takes back with it (RUNBOOKS_MAX_EAGER_ACTIVITIES).
 * The SDK's default, 3, sent the fourth activity of a task through matching: after a restore the
 * run schedules three notices and the reconciliation read together, and the read, fourth, took
 * 19.3 / 19.8 ms at p50 against 16.6 / 14.5 ms with 8 (overhead bench, two runs of 20 each,
 * 2026-12-05). 10 covers a step's activity and its notices on a few channels each.
 */
export const DEFAULT_EAGER_ACTIVITIES = 10;

/**
 * Worker settings from the environment. The Temporal connection itself comes from Temporal's
 * standard environment configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS_*, or a TOML profile), so any cluster or Temporal Cloud works unchanged.
 */
const workerEnvSchema = z
  .object({
    DATABASE_URL: postgresUrl.describe('target database (ftf_config, ledger)'),
    STAGING_DATABASE_URL: postgresUrl.optional(),
    RUNBOOKS_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
    RUNBOOKS_POLICY_FILE: z.string().min(1).default(DEFAULT_POLICY_FILE),
    /** Where drill logs and rollback backups go, instead of the policy's folders (the local stack's state folder). */
    RUNBOOKS_DRILL_LOG_DIR: z.string().min(1).optional(),
    RUNBOOKS_BACKUP_DIR: z.string().min(1).optional(),
    /**
     * Worker Versioning (Worker Deployments): the deployment this worker belongs to and its build
     * id. Both or neither; without them the worker is unversioned (the local stack, the tests).
     */
    RUNBOOKS_DEPLOYMENT_NAME: deploymentPart.optional(),
    RUNBOOKS_BUILD_ID: deploymentPart.optional(),
    /** The heap `npm run worker` gives Node (--max-old-space-size); checked here, as Node takes 0 or -5 with a warning and goes on. */
    RUNBOOKS_WORKER_HEAP_MIB: z.coerce
      .number()
      .int('a whole number of MiB, like 384')
      .min(
        MIN_WORKER_HEAP_MIB,
        `at least ${MIN_WORKER_HEAP_MIB} MiB (with 96 the worker ran out of memory before it served)`,
      )
      .max(65_536, 'at most 65536 MiB')
      .optional(),
    /** Worker sizing (see workerSizing): how many runs stay in memory, how many tasks at once. */
    RUNBOOKS_WORKFLOW_CACHE_SIZE: z.coerce.number().int().min(0).max(100_000).optional(),
    RUNBOOKS_MAX_WORKFLOW_TASKS: z.coerce.number().int().min(2).max(1_000).default(20),
    RUNBOOKS_MAX_ACTIVITIES: z.coerce.number().int().min(1).max(1_000).default(50),
    RUNBOOKS_MAX_EAGER_ACTIVITIES: z.coerce
      .number()
      .int()
      .min(0)
      .max(1_000)
      .default(DEFAULT_EAGER_ACTIVITIES),
    RUNBOOKS_WORKFLOW_TASK_POLLERS: z.coerce.number().int().min(2).max(200).default(10),
    RUNBOOKS_NON_STICKY_POLL_RATIO: z.coerce.number().gt(0).max(1).default(0.8),
    RUNBOOKS_STICKY_QUEUE_TIMEOUT: z
      .string()
      .default('10s')
      .refine((text) => (parseDuration(text) ?? 0) >= 1_000, 'a duration of at least 1s, like 10s'),
    RUNBOOKS_LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
    /** One JSON object per line (default), or the SDK's text lines for a terminal. */
    RUNBOOKS_LOG_FORMAT: z.enum(['json', 'text']).default('json'),
    /** Prometheus: where the worker serves /metrics (SDK and runbook metrics); off when unset. */
    RUNBOOKS_METRICS_ADDRESS: z
      .string()
      .refine(
        isListenAddress,
        'host:port, like 0.0.0.0:9464 or 127.0.0.1:9464: an IP address (the SDK core does not resolve a name) and a port from 1 to 65535',
      )
      .optional(),
    /** How often the open-run gauges are read from Temporal visibility (runs waiting for a human). */
    RUNBOOKS_METRICS_VISIBILITY_INTERVAL: z
      .string()
      .default('30s')
      .refine((text) => (parseDuration(text) ?? 0) >= 1_000, 'a duration of at least 1s, like 30s'),
    /** How often every open run is listed for the by-step gauge (a listing per run asleep costs the server). */
    RUNBOOKS_METRICS_FULL_LISTING_INTERVAL: z
      .string()
      .default('5m')
      .refine((text) => (parseDuration(text) ?? 0) >= 1_000, 'a duration of at least 1s, like 5m'),
  })
  .superRefine((env, ctx) => {
    for (const [given, missing] of [
      ['RUNBOOKS_DEPLOYMENT_NAME', 'RUNBOOKS_BUILD_ID'],
      ['RUNBOOKS_BUILD_ID', 'RUNBOOKS_DEPLOYMENT_NAME'],
    ] as const)
      if (env[given] !== undefined && env[missing] === undefined)
        ctx.addIssue({
          code: 'custom',
          path: [missing],
          message: `is required with ${given} (a versioned worker needs both its deployment name and its build id)`,
        });
  });

export interface WorkerConfig {
  databaseUrl: string;
  stagingDatabaseUrl?: string;
  taskQueue: string;
  policyFile: string;
  drillLogDirectory?: string;
  backupDirectory?: string;
  /** Worker Versioning: this worker's deployment version (absent: unversioned). */
  deployment?: WorkerDeploymentVersion;
  sizing: WorkerSizing;
  log: { level: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR'; format: 'json' | 'text' };
  /** Prometheus endpoint (absent: no metrics exported). */
  metrics?: { address: string; visibilityIntervalMs: number; fullListingIntervalMs: number };
}

/**
 * What bounds the worker's memory and concurrency. Runs in the workflow cache cost memory (about
 * PER_CACHED_RUN_MIB each for our runbooks, measured with `npm run bench -- sleepers`); one evicted
 * is replayed from its history at its next task (a sleeping programme wakes once a checkpoint, so
 * that costs a replay per wake-up, not a crash). The SDK's own default assumes much smaller
 * workflows (600 per GiB of heap), which filled the heap before the cap applied.
 */
export interface WorkerSizing {
  maxCachedWorkflows: number;
  maxConcurrentWorkflowTaskExecutions: number;
  maxConcurrentActivityTaskExecutions: number;
  /**
   * Activities a workflow task's completion may take back with it (eager dispatch: the server
   * answers the completion with them, no poll or matching between); the rest of that task's
   * activities go through matching. 0 turns eager dispatch off.
   */
  maxEagerActivitiesPerWorkflowTask: number;
  stickyQueueScheduleToStartTimeoutMs: number;
  /**
   * Workflow task polls at once, and the share of them on the task queue itself rather than this
   * worker's sticky queue. The SDK's 10 and 0.2 leave two polls for every task of a run not in
   * this worker's cache, which here is most of them: each new run's first task, and each wake-up
   * of the many programmes a small cache cannot hold. With them 1,000 new programmes went to sleep
   * at 40–45/s with a quarter of the 2-core machine idle; with 8 of 10 polls on the task queue, at
   * 50.8/s with 15 % idle (README "Benchmarks"). A run's tasks while it stays cached (a break-glass
   * run's) still have 2 polls on the sticky queue, as many as new runs had.
   */
  maxConcurrentWorkflowTaskPolls: number;
  nonStickyToStickyPollRatio: number;
}

export function describeSizing(sizing: WorkerSizing): string {
  return (
    `${sizing.maxCachedWorkflows} cached runs, ${sizing.maxConcurrentWorkflowTaskExecutions} workflow tasks and ${sizing.maxConcurrentActivityTaskExecutions} activities at once (${sizing.maxEagerActivitiesPerWorkflowTask} taken back eagerly per workflow task), ` +
    `${sizing.maxConcurrentWorkflowTaskPolls} workflow task polls (${sizing.nonStickyToStickyPollRatio} of them on the task queue), sticky timeout ${sizing.stickyQueueScheduleToStartTimeoutMs} ms`
  );
}

/**
 * The heap `npm run worker` gives the worker (`--max-old-space-size`, from RUNBOOKS_WORKER_HEAP_MIB):
 * a small pod's. With it the cache is 91 runs and 10,000 sleeping programmes held 480 MiB of RSS
 * (448: 536 MiB; Node's own 4 GiB: 733–894 MiB, as V8 collects lazily). The price is GC: 15.7
 * programmes/s to asleep against 23 (README "Benchmarks"). Defined in heap-preflight.ts, which
 * checks the heap before the worker loads anything else.
 */
export { DEFAULT_WORKER_HEAP_MIB, MIN_WORKER_HEAP_MIB } from './heap-preflight';

/** Measured heap per cached run of our workflows (~0.85 MiB of RSS), with a margin (README "Benchmarks"). */
export const PER_CACHED_RUN_MIB = 2;
/** Heap kept for everything else (the bundle, activities, connections, buffers). */
const HEAP_RESERVED_MIB = 250;
/**
 * Past this, a bigger cache buys little: most runs sleep for days and replay once per wake-up,
 * while a big cache keeps the heap (and RSS, as V8 collects lazily) high. Measured: 2,000 sleeping
 * programmes with 100 cached and a 448 MiB heap held 450 MiB RSS, woke faster than with 936 cached.
 */
const DEFAULT_CACHE_CAP = 200;

/** The cache this process's heap affords: (heap limit - reserve) / per-run cost, between 10 and 200. */
export function defaultWorkflowCacheSize(
  heapLimitMiB = getHeapStatistics().heap_size_limit / 1024 / 1024,
): number {
  return Math.min(
    DEFAULT_CACHE_CAP,
    Math.max(10, Math.floor((heapLimitMiB - HEAP_RESERVED_MIB) / PER_CACHED_RUN_MIB)),
  );
}

export interface WorkerDeploymentVersion {
  deploymentName: string;
  buildId: string;
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  const parsed = workerEnvSchema.safeParse(env);
  if (!parsed.success) {
    // The database hint only when DATABASE_URL is what is wrong (it followed every mistake).
    const databaseHint = parsed.error.issues.some((issue) => issue.path[0] === 'DATABASE_URL')
      ? 'Set DATABASE_URL to the target Postgres (e.g. postgres://user@127.0.0.1:5432/champollion); '
      : '';
    throw new ConfigurationError(
      `${describeIssues(parsed.error, 'Worker environment')}\n${databaseHint}see README "Configuration".`,
    );
  }
  return {
    databaseUrl: parsed.data.DATABASE_URL,
    ...(parsed.data.STAGING_DATABASE_URL ? { stagingDatabaseUrl: parsed.data.STAGING_DATABASE_URL } : {}),
    taskQueue: parsed.data.RUNBOOKS_TASK_QUEUE,
    policyFile: path.resolve(parsed.data.RUNBOOKS_POLICY_FILE),
    ...(parsed.data.RUNBOOKS_DRILL_LOG_DIR
      ? { drillLogDirectory: path.resolve(parsed.data.RUNBOOKS_DRILL_LOG_DIR) }
      : {}),
    ...(parsed.data.RUNBOOKS_BACKUP_DIR
      ? { backupDirectory: path.resolve(parsed.data.RUNBOOKS_BACKUP_DIR) }
      : {}),
    ...(parsed.data.RUNBOOKS_DEPLOYMENT_NAME && parsed.data.RUNBOOKS_BUILD_ID
      ? {
          deployment: {
            deploymentName: parsed.data.RUNBOOKS_DEPLOYMENT_NAME,
            buildId: parsed.data.RUNBOOKS_BUILD_ID,
          },
        }
      : {}),
    log: { level: parsed.data.RUNBOOKS_LOG_LEVEL, format: parsed.data.RUNBOOKS_LOG_FORMAT },
    ...(parsed.data.RUNBOOKS_METRICS_ADDRESS
      ? {
          metrics: {
            address: parsed.data.RUNBOOKS_METRICS_ADDRESS,
            visibilityIntervalMs: parseDuration(parsed.data.RUNBOOKS_METRICS_VISIBILITY_INTERVAL)!,
            fullListingIntervalMs: parseDuration(parsed.data.RUNBOOKS_METRICS_FULL_LISTING_INTERVAL)!,
          },
        }
      : {}),
    sizing: {
      maxCachedWorkflows: parsed.data.RUNBOOKS_WORKFLOW_CACHE_SIZE ?? defaultWorkflowCacheSize(),
      maxConcurrentWorkflowTaskExecutions: parsed.data.RUNBOOKS_MAX_WORKFLOW_TASKS,
      maxConcurrentActivityTaskExecutions: parsed.data.RUNBOOKS_MAX_ACTIVITIES,
      maxEagerActivitiesPerWorkflowTask: parsed.data.RUNBOOKS_MAX_EAGER_ACTIVITIES,
      stickyQueueScheduleToStartTimeoutMs: parseDuration(parsed.data.RUNBOOKS_STICKY_QUEUE_TIMEOUT)!,
      maxConcurrentWorkflowTaskPolls: parsed.data.RUNBOOKS_WORKFLOW_TASK_POLLERS,
      nonStickyToStickyPollRatio: parsed.data.RUNBOOKS_NON_STICKY_POLL_RATIO,
    },
  };
}

const tracesUrlSchema = z
  .url({ protocol: /^https?$/, message: 'an http(s) URL, like http://127.0.0.1:4318/v1/traces' })
  .optional();

/** Where a run's spans go and how the collector is authenticated (src/worker/tracing.ts). */
export interface TracesExport {
  url: string;
  /** Sent with every export; their values are secrets (scrubbed from every log line). */
  headers: Record<string, string>;
  /** The URL as log lines say it: scheme, host and path (a query may hold a key). */
  logUrl: string;
}

/**
 * RUNBOOKS_OTLP_TRACES_URL (worker and CLI) and the collector's headers from OpenTelemetry's own
 * variables (OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TRACES_HEADERS winning per key),
 * checked; undefined: tracing off. Credentials in the URL are refused: fetch will not send them
 * (every export would fail) and a URL is what a failed export's log line names.
 */
export function tracesExportFrom(env: NodeJS.ProcessEnv): TracesExport | undefined {
  const parsed = tracesUrlSchema.safeParse(env[TRACES_URL_ENV] || undefined);
  if (!parsed.success)
    throw new ConfigurationError(
      `${TRACES_URL_ENV}: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`,
    );
  if (parsed.data === undefined) return undefined;
  const url = new URL(parsed.data);
  if (url.username || url.password)
    throw new ConfigurationError(
      `${TRACES_URL_ENV}: credentials in the URL are refused (they would be written in log lines, and ` +
        `the export cannot send them): give the collector's token as a header, e.g. ` +
        `${TRACES_HEADERS_ENV}=authorization=Bearer%20<token>`,
    );
  return {
    url: parsed.data,
    headers: {
      ...otlpHeadersFrom(env, OTLP_HEADERS_ENV),
      ...otlpHeadersFrom(env, TRACES_HEADERS_ENV),
    },
    logUrl: `${url.origin}${url.pathname}${url.search ? ' (query not shown)' : ''}`,
  };
}

/** For the worker's start line: where spans go and which headers are sent (names only). */
export function describeTracesExport(exportTo: TracesExport | undefined): string {
  if (!exportTo) return `off (${TRACES_URL_ENV})`;
  const names = Object.keys(exportTo.headers);
  return names.length ? `${exportTo.logUrl}, headers ${names.join(', ')}` : exportTo.logUrl;
}

export const TRACES_URL_ENV = 'RUNBOOKS_OTLP_TRACES_URL';
export const OTLP_HEADERS_ENV = 'OTEL_EXPORTER_OTLP_HEADERS';
export const TRACES_HEADERS_ENV = 'OTEL_EXPORTER_OTLP_TRACES_HEADERS';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the exporter sets itself. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host']);

/**
 * OpenTelemetry's header list, `key1=value1,key2=value2` with URL-encoded values. A bad entry is
 * named by its position and key, never by its value (a value is usually a token).
 */
function otlpHeadersFrom(env: NodeJS.ProcessEnv, variable: string): Record<string, string> {
  const text = env[variable]?.trim();
  if (!text) return {};
  const headers: Record<string, string> = {};
  const problems: string[] = [];
  text.split(',').forEach((entry, index) => {
    const at = `entry ${index + 1}`;
    const equals = entry.indexOf('=');
    const key = (equals < 0 ? entry : entry.slice(0, equals)).trim().toLowerCase();
    if (equals < 0 || !HEADER_NAME.test(key)) {
      problems.push(`${at}: not key=value with a header name as key`);
      return;
    }
    if (RESERVED_HEADERS.has(key)) {
      problems.push(`${at} (${key}): set by the exporter itself`);
      return;
    }
    let value: string;
    try {
      value = decodeURIComponent(entry.slice(equals + 1).trim());
    } catch {
      problems.push(`${at} (${key}): its value is not URL-encoded text`);
      return;
    }
    if (!value || /[\r\n\0]/.test(value)) problems.push(`${at} (${key}): an empty value or a line break`);
    else headers[key] = value;
  });
  if (problems.length) throw new ConfigurationError(`${variable}: ${problems.join('; ')}`);
  return headers;
}

/** What the worker says at start about its own configuration (no secrets: URLs masked). */
export function describeWorkerConfig(config: WorkerConfig): Record<string, string> {
  return {
    taskQueue: config.taskQueue,
    workerVersion: config.deployment
      ? `${config.deployment.deploymentName}:${config.deployment.buildId} (make it current: temporal worker deployment set-current-version)`
      : 'unversioned',
    sizing: `${describeSizing(config.sizing)}, heap limit ${Math.round(getHeapStatistics().heap_size_limit / 1024 / 1024)} MiB`,
    database: redactUrl(config.databaseUrl),
    staging: config.stagingDatabaseUrl
      ? redactUrl(config.stagingDatabaseUrl)
      : 'none (the drill needs STAGING_DATABASE_URL)',
    metrics: config.metrics ? `http://${config.metrics.address}/metrics` : 'off (RUNBOOKS_METRICS_ADDRESS)',
  };
}

/** A connection URL with its password masked, for log lines and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
