import type { z } from 'zod';

/**
 * Renders a zod error as one line per bad field, e.g.
 *   incidentId: must contain only letters, digits, "_" and "-"
 * so an operator sees every problem at once, not only the first.
 */
export function describeIssues(error: z.ZodError, subject: string): string {
  const lines = error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
    return `  ${path}: ${issue.message}`;
  });
  return `${subject} is invalid:\n${lines.join('\n')}`;
}

/** describeIssues on one line, for refusal records and log lines. */
export function describeIssuesInline(error: z.ZodError, subject: string): string {
  return describeIssues(error, subject)
    .split('\n')
    .map((line) => line.trim())
    .join(' ');
}

/** The names of the bad fields, for structured error details. */
export function badFields(error: z.ZodError): string[] {
  return [
    ...new Set(
      error.issues.map((issue) => (issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)')),
    ),
  ];
}
