import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import { badFields, describeIssues } from '../../common/validation';
import { askPatchFold } from './patches';

/**
 * Parses a workflow's input before anything else happens. A bad input fails the run at once,
 * non-retryably, with a message naming every bad field (shown in the Web UI as the failure). A
 * good one is followed by the run's first command: the patch fold's marker (askPatchFold).
 */
export function parseWorkflowInput<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  subject: string,
): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw ApplicationFailure.create({
      message: describeIssues(parsed.error, subject),
      type: 'InvalidInput',
      nonRetryable: true,
      details: [{ badFields: badFields(parsed.error) }],
    });
  }
  askPatchFold();
  return parsed.data;
}

/**
 * A run's hand-over to its next run (`continued`) is set by the run itself when it continues as
 * new; in the input of a run someone started it would skip what the hand-over says is done.
 */
export function refuseCarryOnFreshStart(subject: string, carried: unknown, skipped: string): void {
  if (carried !== undefined && !workflowInfo().continuedFromExecutionRunId)
    throw ApplicationFailure.create({
      type: 'InvalidInput',
      nonRetryable: true,
      message: `${subject}: continued: set only by ${skipped}`,
    });
}

/** A runbook's policy section; without it (or unserved) the run fails at its start, saying why. */
export function servedSection<T>(
  runbook: string,
  snapshot: { unserved?: string; runbook: T | undefined },
): T {
  if (snapshot.unserved || snapshot.runbook === undefined)
    throw ApplicationFailure.create({
      type: 'RunbookNotServed',
      nonRetryable: true,
      message: `${runbook} cannot run on this worker's policy: ${snapshot.unserved ?? `no ${runbook} section`}`,
    });
  return snapshot.runbook;
}
