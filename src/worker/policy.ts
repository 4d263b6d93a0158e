import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { policySchema, type Policy } from '../common/policy';
import { describeIssues } from '../common/validation';
import { ConfigurationError } from '../common/errors';

export interface LoadedPolicy {
  policy: Policy;
  /** The canonical `base_env` the verification step compares against. */
  canonicalPayload: Record<string, string | number | boolean>;
  file: string;
  /** The drill's log folder, resolved against the policy file's folder. */
  drillLogDirectory: string;
  /** The rollback's backup folder, resolved against the policy file's folder. */
  backupDirectory: string;
}

const canonicalPayloadSchema = z.record(
  z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'keys must be upper-case env names'),
  z.union([z.string(), z.number(), z.boolean()]),
);

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`Cannot read the ${what} ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ConfigurationError(`The ${what} ${file} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Reads and validates the policy file and its canonical payload; any problem is a ConfigurationError. */
export function loadPolicyFile(file: string): LoadedPolicy {
  const parsed = policySchema.safeParse(readJson(file, 'policy file'));
  if (!parsed.success) {
    throw new ConfigurationError(describeIssues(parsed.error, `Policy file ${file}`));
  }
  const policy = parsed.data;
  const payloadFile = path.resolve(path.dirname(file), policy.canonicalPayloadPath);
  const payload = canonicalPayloadSchema.safeParse(readJson(payloadFile, 'canonical payload'));
  if (!payload.success) {
    throw new ConfigurationError(describeIssues(payload.error, `Canonical payload ${payloadFile}`));
  }
  return {
    policy,
    canonicalPayload: payload.data,
    file,
    drillLogDirectory: path.resolve(path.dirname(file), policy.runbooks.breakGlassDrill.logDirectory),
    backupDirectory: path.resolve(
      path.dirname(file),
      policy.runbooks.rollbackToPilot.postgres.backupDirectory,
    ),
  };
}
