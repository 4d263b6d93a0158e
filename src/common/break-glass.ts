import { z } from 'zod';

/** Seed 000 rule 3: incident ids are alphanumeric plus "_" and "-" only. */
export const incidentIdSchema = z
  .string()
  .min(1, 'is required')
  .max(64, 'must be at most 64 characters')
  .regex(/^[a-zA-Z0-9_-]+$/, 'must contain only letters, digits, "_" and "-" (seed 000 rule 3)');

export const historyIdSchema = z
  .number({ error: 'must be a number (the ftf_config_history.id to restore)' })
  .int('must be an integer')
  .positive('must be a positive ftf_config_history.id')
  .max(Number.MAX_SAFE_INTEGER);

/** The value `changed_by` / `updated_by` carries for break-glass writes of an incident. */
export function breakGlassActor(incidentId: string): string {
  return `break-glass-${incidentId}`;
}

/** The seed's approval line (gating ritual, step 1). */
export function renderApprovalLine(args: {
  incidentId: string;
  story: string;
  rationale: string;
  approver: string;
  approvalTs: string;
  /** Signed approvals: the verified key fingerprints, in the approvers' order. */
  keys?: string[];
}): string {
  const rationale = args.rationale.replace(/\s+/g, ' ').trim().replace(/'/g, "''");
  return (
    `event=break_glass_approval incident_id=${args.incidentId} story=${args.story} ` +
    `rationale='${rationale}' approver=${args.approver} approval_ts=${args.approvalTs}` +
    (args.keys ? ` approver_keys=${args.keys.join(',')}` : '')
  );
}

/** Seed 000 rule 4: the key parts are enum-constrained. */
export const MODELS = ['XGB', 'LGB', 'CB'] as const;
export const TIMEFRAMES = ['1M', '5M', '15M', '30M', '1H'] as const;

export const hpoKeyFields = {
  model: z.enum(MODELS, { error: 'must be one of XGB, LGB, CB (seed 000 rule 4)' }),
  timeframe: z.enum(TIMEFRAMES, { error: 'must be one of 1M, 5M, 15M, 30M, 1H (seed 000 rule 4)' }),
  param: z
    .string()
    .min(1, 'is required')
    .max(64)
    .regex(/^[A-Z_]+$/, 'must match ^[A-Z_]+$ (seed 000 rule 4)'),
};

export function hpoKeyOf(parts: { model: string; timeframe: string; param: string }): string {
  return `CVN_HPO_${parts.model}_${parts.timeframe}_${parts.param}`;
}

/** Seed 000 rule 1: what a numeric value looks like. */
export const NUMERIC_VALUE = /^-?[0-9]+(\.[0-9]+)?$/;

/**
 * Seed 000 rules 1–5: a value the operator cannot confirm visually (quotes, statement or comment
 * characters, control characters, surrounding spaces, or too long to read) needs a second
 * operator's pair review before it is written. Returns why, or undefined for a plain value.
 */
export function unconfirmableValue(value: string): string | undefined {
  if (NUMERIC_VALUE.test(value)) return undefined;
  if (value.length > 200) return `it is ${value.length} characters long (at most 200 can be checked by eye)`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'it contains control characters (a newline, a tab…)';
  if (value.trim() !== value) return 'it starts or ends with spaces';
  const risky = ["'", '"', '\\', ';', '--', '/*', '*/', '`', '$$'].filter((mark) => value.includes(mark));
  return risky.length ? `it contains ${risky.map((mark) => JSON.stringify(mark)).join(', ')}` : undefined;
}
