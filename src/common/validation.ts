import type { z } from 'zod';
import { cutHead } from './text';

/**
 * Bad fields listed by name; the rest are counted. A payload pasted into the Web UI's signal box
 * can hold 60,000 unknown keys: listed in full, two such refusals made a run's status too large to
 * query (7.9 MB) and its result too large to complete (2.6 MB over Temporal's 2 MB), so the run
 * stayed RUNNING with its workflow task failing for ever.
 */
export const ISSUES_LISTED = 20;
/** A field's path is cut after this many characters (a key can be any length)… */
const PATH_MAX = 200;
/** …and its message after this many (ours can list a policy's names; zod's may quote a key). */
const MESSAGE_MAX = 2_000;
/** Unknown keys named in an `unrecognized_keys` issue; the rest are counted. */
const KEYS_NAMED = 10;

function issuePath(issue: z.core.$ZodIssue): string {
  return issue.path.length > 0 ? cutHead(issue.path.map(String).join('.'), PATH_MAX) : '(root)';
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys' && issue.keys.length > KEYS_NAMED) {
    const named = issue.keys.slice(0, KEYS_NAMED).map((key) => `"${cutHead(key, 40)}"`);
    return `Unrecognized keys: ${named.join(', ')} and ${issue.keys.length - KEYS_NAMED} more`;
  }
  return cutHead(issue.message, MESSAGE_MAX);
}

/**
 * Renders a zod error as one line per bad field, e.g.
 *   incidentId: must contain only letters, digits, "_" and "-"
 * so an operator sees every problem at once, not only the first (up to ISSUES_LISTED of them).
 */
export function describeIssues(error: z.ZodError, subject: string): string {
  const { issues } = error;
  const lines = issues
    .slice(0, ISSUES_LISTED)
    .map((issue) => `  ${issuePath(issue)}: ${issueMessage(issue)}`);
  if (issues.length > ISSUES_LISTED) lines.push(`  … and ${issues.length - ISSUES_LISTED} more problems`);
  return `${subject} is invalid:\n${lines.join('\n')}`;
}

/** describeIssues on one line, for refusal records and log lines. */
export function describeIssuesInline(error: z.ZodError, subject: string): string {
  return describeIssues(error, subject)
    .split('\n')
    .map((line) => line.trim())
    .join(' ');
}

/** The names of the bad fields, for structured error details (the first ISSUES_LISTED). */
export function badFields(error: z.ZodError): string[] {
  return [...new Set(error.issues.map(issuePath))].slice(0, ISSUES_LISTED);
}
