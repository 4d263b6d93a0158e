import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes every runbook sets, so the Web UI can list "all break-glass runs for
 * incident 4711 that are awaiting approval". The stack registers them on the dev server.
 */
export const RunbookNameKey = defineSearchAttributeKey('RunbookName', SearchAttributeType.KEYWORD);
export const IncidentIdKey = defineSearchAttributeKey('IncidentId', SearchAttributeType.KEYWORD);
export const RunbookStepKey = defineSearchAttributeKey('RunbookStep', SearchAttributeType.KEYWORD);
export const RunbookOutcomeKey = defineSearchAttributeKey('RunbookOutcome', SearchAttributeType.KEYWORD);
/** "true" on a run under a test-only policy (durations below the seeds'): never a real incident. */
export const RunbookTestOnlyKey = defineSearchAttributeKey('RunbookTestOnly', SearchAttributeType.KEYWORD);

export const RUNBOOK_SEARCH_ATTRIBUTES = [
  RunbookNameKey,
  IncidentIdKey,
  RunbookStepKey,
  RunbookOutcomeKey,
  RunbookTestOnlyKey,
] as const;

/** The runbooks' search attributes a namespace's custom attributes (by name) lack. */
export function missingRunbookSearchAttributes(custom: Record<string, unknown>): string[] {
  return RUNBOOK_SEARCH_ATTRIBUTES.map((key) => key.name).filter((name) => custom[name] === undefined);
}
