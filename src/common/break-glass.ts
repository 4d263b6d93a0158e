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
