import { DefaultLogger, type LogEntry, type LogLevel } from '@temporalio/worker';
import { inspect } from 'node:util';
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
  // The text lines are the SDK's own layout, written here so that they are scrubbed too (the
  // SDK's default writer printed secrets as they came).
  return new DefaultLogger(level, (entry: LogEntry) =>
    write(format === 'text' ? textLine(entry, secrets) : `${JSON.stringify(jsonLine(entry, secrets))}\n`),
  );
}

function textLine(entry: LogEntry, secrets: readonly string[]): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta =
    entry.meta === undefined ? '' : ` ${inspect(scrubbed(entry.meta, secrets, true), { depth: 6 })}`;
  return `${time} [${entry.level}] ${scrubSecrets(entry.message, secrets)}${meta}\n`;
}

function jsonLine(entry: LogEntry, secrets: readonly string[]): Record<string, unknown> {
  return {
    time: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(),
    level: entry.level,
    message: scrubSecrets(entry.message, secrets),
    ...(scrubbed(entry.meta ?? {}, secrets) as Record<string, unknown>),
  };
}

/** Strings scrubbed, errors as their name and message (and stack, for text), nesting kept (cycles cut). */
function scrubbed(
  value: unknown,
  secrets: readonly string[],
  withStack = false,
  seen = new WeakSet<object>(),
): unknown {
  if (typeof value === 'string') return scrubSecrets(value, secrets);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) {
    const message = scrubSecrets(value.message, secrets);
    if (!withStack) return { name: value.name, message };
    // An Error again, so that the text line prints its (scrubbed) stack as the SDK's did.
    const copy = new Error(message);
    copy.name = value.name;
    copy.stack = scrubSecrets(value.stack ?? `${value.name}: ${message}`, secrets);
    return copy;
  }
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  const inner = (item: unknown): unknown => scrubbed(item, secrets, withStack, seen);
  if (Array.isArray(value)) return value.map(inner);
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, inner(item)]));
}
