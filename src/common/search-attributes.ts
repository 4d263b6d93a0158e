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

/** A keyword search attribute and its value, as a run writes it. */
export interface KeywordPair {
  key: typeof RunbookNameKey;
  value: string;
}

/**
 * The search attributes a run of `runbook` for `incidentId` holds from its start (its record
 * writes them as its first command unless its start already gave them, src/workflows/shared/run-record.ts).
 */
export function runStartSearchAttributes(runbook: string, incidentId: string): KeywordPair[] {
  return [
    { key: RunbookNameKey, value: runbook },
    { key: IncidentIdKey, value: incidentId },
  ];
}

/**
 * What a starter may give a run's start so that the run does not write it again: its start search
 * attributes and its memo (the summary). Given wrong or not at all (the Web UI), the run writes its
 * own, as before.
 */
export interface RunStartOptions {
  typedSearchAttributes: KeywordPair[];
  memo?: { summary: string };
}
