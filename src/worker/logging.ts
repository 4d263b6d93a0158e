import { DefaultLogger, type LogEntry, type LogLevel } from '@temporalio/worker';
import { scrubSecrets } from '../common/scrub';

/**
 * The worker's log: one JSON object per line on stderr (`RUNBOOKS_LOG_FORMAT=json`, the default)
 * or the SDK's text lines (`text`). Workflow and activity lines carry the SDK's identifiers
 * (workflowId, runId, workflowType, activityType …) and a run's own events add runbook, step
 * and incidentId. Every string is scrubbed of the secrets given (they are filled in once the
 * channels' secrets are known) and of password/token-looking pairs.
 */
export function workerLogger(
  level: LogLevel,
  format: 'json' | 'text',
  secrets: readonly string[],
  write: (line: string) => void = (line) => process.stderr.write(line),
): DefaultLogger {
  if (format === 'text') return new DefaultLogger(level);
  return new DefaultLogger(level, (entry: LogEntry) =>
    write(`${JSON.stringify(jsonLine(entry, secrets))}\n`),
  );
}

function jsonLine(entry: LogEntry, secrets: readonly string[]): Record<string, unknown> {
  return {
    time: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(),
    level: entry.level,
    message: scrubSecrets(entry.message, secrets),
    ...(scrubbed(entry.meta ?? {}, secrets) as Record<string, unknown>),
  };
}

/** Strings scrubbed, errors as their name and message, nesting kept (cycles cut). */
function scrubbed(value: unknown, secrets: readonly string[], seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrubSecrets(value, secrets);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: scrubSecrets(value.message, secrets) };
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((item) => scrubbed(item, secrets, seen));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, scrubbed(item, secrets, seen)]));
}
