import { readFileSync } from 'node:fs';
import type { parseArgs } from 'node:util';
import { z } from 'zod';
import { handleSchema } from '../common/identity';

/** Options every command understands, their parsing, and validation that names the flags typed. */

export class UsageError extends Error {}

export const OPTIONS = {
  incident: { type: 'string' },
  'workflow-id': { type: 'string' },
  target: { type: 'string' },
  'requested-by': { type: 'string' },
  rationale: { type: 'string' },
  'dry-run': { type: 'boolean' },
  approver: { type: 'string' },
  'plan-hash': { type: 'string' },
  reason: { type: 'string' },
  by: { type: 'string' },
  link: { type: 'string' },
  procedure: { type: 'string' },
  model: { type: 'string' },
  timeframe: { type: 'string' },
  param: { type: 'string' },
  value: { type: 'string' },
  severity: { type: 'string' },
  ic: { type: 'string' },
  repos: { type: 'string' },
  facts: { type: 'string' },
  decision: { type: 'string' },
  note: { type: 'string' },
  pilot: { type: 'string' },
  canary: { type: 'string' },
  phase2: { type: 'string' },
  remaining: { type: 'string' },
  'canary-hold': { type: 'string' },
  'phase2-hold': { type: 'string' },
  'batch-hold': { type: 'string' },
  story: { type: 'string' },
  runbook: { type: 'string' },
  step: { type: 'string' },
  outcome: { type: 'string' },
  open: { type: 'boolean' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  'keep-live': { type: 'boolean' },
  /** Re-enablement: ask for the staging soak to be waived (the reason). */
  'waive-soak': { type: 'string' },
  /** Send a decision as a signal (no answer) instead of an Update. */
  signal: { type: 'boolean' },
  /** Sign the approval with this SSH key (private key file, or its .pub with the key in ssh-agent). */
  'sign-key': { type: 'string' },
  /** Seconds to wait for the run's answer to a decision (default 30). */
  wait: { type: 'string' },
  symptoms: { type: 'string' },
  impact: { type: 'string' },
  conditions: { type: 'string' },
  'customers-affected': { type: 'boolean' },
  environment: { type: 'string' },
  text: { type: 'string' },
  item: { type: 'string' },
  role: { type: 'string' },
  handle: { type: 'string' },
  scope: { type: 'string' },
  'aware-since': { type: 'string' },
  reference: { type: 'string' },
  summary: { type: 'string' },
  'runbook-input': { type: 'string' },
  urgency: { type: 'string' },
  sha: { type: 'string' },
  mechanism: { type: 'string' },
  'pin-tag': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type Values = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>['values'];

/** Input field → the flag that sets it, so an error names what the user typed. */
export type FlagNames = Record<string, string>;

function flagFor(path: PropertyKey[], flags: FlagNames): string {
  const dotted = path.map(String).join('.');
  if (dotted === '') return '(options)';
  // The longest mapped prefix wins: "holdOverrides.canaryHold" before "holdOverrides".
  for (let length = path.length; length > 0; length -= 1) {
    const prefix = path.slice(0, length).map(String).join('.');
    const flag = flags[prefix];
    if (flag) {
      const rest = path.slice(length);
      const where = rest.length
        ? typeof rest[0] === 'number'
          ? ` item ${rest[0] + 1}${rest.length > 1 ? ` ${rest.slice(1).join('.')}` : ''}`
          : ` ${rest.map(String).join('.')}`
        : '';
      return `${flag}${where} (${dotted})`;
    }
  }
  return dotted;
}

/** Validates with the workflow's own schema; every bad field is reported under its flag. */
export function validateOptions<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  command: string,
  flags: FlagNames,
): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => `  ${flagFor(issue.path, flags)}: ${issue.message}`);
  throw new UsageError(`${command}: invalid options:\n${lines.join('\n')}`);
}

/** Validates one flag's value. */
export function validateFlag<S extends z.ZodType>(schema: S, value: unknown, flag: string): z.output<S> {
  if (value === undefined) throw new UsageError(`${flag} is required`);
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new UsageError(
      `${flag} is invalid: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`,
    );
  return parsed.data;
}

/**
 * The approver of `approve` and `reject`: `--approver`, or `--by` as every other decision names
 * its person (typed at 3 a.m. after an `abort --by`, it used to be refused as "--approver is required").
 */
export function approverFlag(values: Values): string {
  const { approver, by } = values;
  if (approver !== undefined && by !== undefined && approver !== by)
    throw new UsageError(`--approver ${approver} and --by ${by} name two people: give one of them`);
  return approver === undefined && by !== undefined
    ? validateFlag(handleSchema, by, '--by')
    : validateFlag(handleSchema, approver, '--approver');
}

export const requiredText = (flag: string, value: string | undefined): string =>
  validateFlag(z.string().trim().min(1, 'is required'), value, flag);

/** "a,b , c" → ["a","b","c"]; undefined stays undefined (the schema's default applies). */
export function list(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);
}

/** A JSON option given inline or as @file.json. */
export function jsonOption(flag: string, value: string | undefined): unknown {
  if (value === undefined) return undefined;
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = readFileSync(value.slice(1), 'utf8');
    } catch (error) {
      throw new UsageError(`${flag}: cannot read ${value.slice(1)}: ${(error as Error).message}`);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`${flag}: not valid JSON: ${(error as Error).message}`);
  }
}
