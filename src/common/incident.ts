/**
 * The incident's vocabulary (seed 004), shared by the policy, the workflow and the CLI: severities,
 * the conditions of the paging matrix, the first-10-minutes checklist, roles, and the business-day
 * arithmetic of the post-incident review. Pure functions only: workflow code imports it.
 */

/** Seed 004 §0: P0 production down / data loss / security; P1 major feature broken; P2 degraded; P3 cosmetic. */
export const SEVERITIES = ['P0', 'P1', 'P2', 'P3'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Seed 004 §8 "Who to page". */
export const INCIDENT_CONDITIONS = [
  'app_down',
  'db_down',
  'security_incident',
  'customer_facing',
  'llm_cost_spike',
  'data_breach',
] as const;
export type IncidentCondition = (typeof INCIDENT_CONDITIONS)[number];

/** Seed 004 §1: the first 10 minutes of any P0/P1, in order. */
export const FIRST_STEPS = ['declare', 'stop_the_bleeding', 'freeze', 'preserve', 'communicate'] as const;
export type FirstStep = (typeof FIRST_STEPS)[number];

/** Seed 004 §4 (one person may hold several). */
export const INCIDENT_ROLES = ['incident_commander', 'ops_lead', 'comms_lead', 'scribe'] as const;
export type IncidentRole = (typeof INCIDENT_ROLES)[number];

/** P0 and P1 carry the ladder's timed obligations (first 10 minutes, freeze, update cadence). */
export function isMajor(severity: Severity): boolean {
  return severity === 'P0' || severity === 'P1';
}

const DAY_MS = 86_400_000;

export interface BusinessCalendar {
  /** 0 = Sunday … 6 = Saturday (UTC). */
  weekendDays: readonly number[];
  /** "YYYY-MM-DD" (UTC). */
  holidays: readonly string[];
}

export function isBusinessDay(dayStartMs: number, calendar: BusinessCalendar): boolean {
  const day = new Date(dayStartMs);
  return (
    !calendar.weekendDays.includes(day.getUTCDay()) &&
    !calendar.holidays.includes(day.toISOString().slice(0, 10))
  );
}

/**
 * "Within N business days" of `fromMs`: the end (next 00:00Z) of the N-th business day after the
 * day of `fromMs`. Resolved on a Friday with a Sat/Sun weekend and N = 3: due Thursday 00:00Z
 * (Mon, Tue, Wed are the three days).
 */
export function businessDaysDueMs(fromMs: number, days: number, calendar: BusinessCalendar): number {
  let dayStart = Math.floor(fromMs / DAY_MS) * DAY_MS;
  let counted = 0;
  // A calendar with no business day is refused by the policy; the bound is a guard, not a rule.
  for (let guard = 0; counted < days && guard < 3_660; guard += 1) {
    dayStart += DAY_MS;
    if (isBusinessDay(dayStart, calendar)) counted += 1;
  }
  return dayStart + DAY_MS;
}
