import { z } from 'zod';
import { sharedSchemas } from './shared-schemas';

/**
 * Approver and operator handles are compared case-insensitively and without the leading "@"
 * that Slack/GitHub users habitually type, so "@DocOceven" and "dococeven" are one person.
 */
export function normalizeHandle(handle: string): string {
  return handle.trim().replace(/^@+/, '').toLowerCase();
}

/** The form a run records and shows: "@dococeven" for "DocOceven" or "@@dococeven". */
export function atHandle(handle: string): string {
  return `@${normalizeHandle(handle)}`;
}

export function sameHandle(a: string, b: string): boolean {
  return normalizeHandle(a) === normalizeHandle(b);
}

/** A person's handle as typed in inputs and signals ("@dococeven" or "dococeven"). */
export const { handleSchema } = sharedSchemas('common/identity', () => ({
  handleSchema: z
    .string()
    .trim()
    .min(1, 'must name a person')
    .max(100, 'must be at most 100 characters')
    .regex(
      /^@?[A-Za-z0-9][A-Za-z0-9._-]*$/,
      'must be a handle like "@dococeven" (letters, digits, ".", "_", "-")',
    ),
}));
