import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { badFields, describeIssues } from '../common/validation';

/**
 * Parses an activity's input at the boundary, before any SQL or command runs. A bad input is a
 * non-retryable `InvalidInput` failure whose message names every bad field.
 */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown, subject: string): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(describeIssues(parsed.error, subject), 'InvalidInput', {
      badFields: badFields(parsed.error),
    });
  }
  return parsed.data;
}

/** An optional policy section an activity needs: absent is a configuration error, never retried. */
export function requiredSection<T>(section: T | undefined, path: string): T {
  if (section === undefined)
    throw ApplicationFailure.create({
      type: 'ConfigurationError',
      nonRetryable: true,
      message: `the policy has no ${path} section`,
    });
  return section;
}
