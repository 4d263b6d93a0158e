import { workflowInfo } from '@temporalio/workflow';
import { DAY_MS, formatDuration, utcIso } from '../../common/duration';
import { isPatched, PATCHES } from './patches';
import type { RunRecord } from './run-record';

/**
 * Temporal ends a run whose history passes its limit (51,200 events or 50 MiB on a default
 * server) by terminating it: none of the run's code runs, nobody is told, the pages stop. A run
 * waiting for a human writes about 11 events per page, reminder or retry it repeats (528 a day at
 * the fail-safe's 30 min re-page, measured): left in `needs_human` or at a CONFLICT hold, it was
 * ended so after about 97 days, and every replay of it (after an eviction) read all of them.
 *
 * Past this budget (Temporal's own warning threshold is 10,240 events and 10 MiB; a server that
 * suggests continue-as-new has its limits near too) what a run repeats comes at most once a day:
 * about 11 events a day per repetition, which leaves years before the limit.
 */
export const HISTORY_BUDGET = { events: 10_000, bytes: 10 * 1024 * 1024 } as const;

/** The interval of a repeated page, reminder or retry once the run is over its history budget. */
export const OVER_BUDGET_REPEAT_MS = DAY_MS;

/**
 * A wait repeats at its own interval for its first day whatever the budget: a run whose history
 * is long from its own work (a re-enablement's analyses) still pages every 30 min when a step
 * newly fails; only a wait nobody answered for a day slows down.
 */
export const FULL_CADENCE_MS = DAY_MS;

/** When the run went over its history budget, as its status shows it. */
export interface HistoryBudgetRecord {
  exceededAt: string;
  /** The history's length and size then (Temporal's own count; 0 bytes: the server does not say). */
  events: number;
  bytes: number;
  /** Why: the budget's events, its bytes, or the server's suggestion to continue as new. */
  reason: 'events' | 'bytes' | 'server_suggestion';
  /** What repeats now, and how often. */
  repeatsEvery: string;
}

/** The history's figures and why they are over the budget, or undefined while they are not. */
export function overBudget(): Pick<HistoryBudgetRecord, 'events' | 'bytes' | 'reason'> | undefined {
  const { historyLength: events, historySize: bytes, continueAsNewSuggested } = workflowInfo();
  const reason: HistoryBudgetRecord['reason'] | undefined =
    events >= HISTORY_BUDGET.events
      ? 'events'
      : bytes >= HISTORY_BUDGET.bytes
        ? 'bytes'
        : continueAsNewSuggested
          ? 'server_suggestion'
          : undefined;
  return reason && { events, bytes, reason };
}

/**
 * The wait before a page, reminder or retry that repeats until a human acts (the wait began at
 * `sinceMs`): `intervalMs`, or, once the wait has lasted a day and the run's history is over its
 * budget, a day. The first time the run slows a wait so, it says so in its record
 * (`history_budget`) and status (`historyBudget`); `note` is then the line for the notice that
 * repeats, so the people paged know why the next one comes later.
 */
export function repeatInterval(
  record: RunRecord<unknown>,
  intervalMs: number,
  sinceMs: number,
): { ms: number; note?: string } {
  if (intervalMs >= OVER_BUDGET_REPEAT_MS || Date.now() - sinceMs < FULL_CADENCE_MS)
    return { ms: intervalMs };
  let budget = record.status.historyBudget;
  if (!budget) {
    const over = overBudget();
    // Asked only when a run first goes over: a run that never does records nothing new.
    if (!over || !isPatched(PATCHES.repeatsSlowedOverHistoryBudget)) return { ms: intervalMs };
    budget = { exceededAt: utcIso(Date.now()), ...over, repeatsEvery: formatDuration(OVER_BUDGET_REPEAT_MS) };
    record.status.historyBudget = budget;
    record.event('history_budget', historyBudgetLine(budget));
  }
  return { ms: OVER_BUDGET_REPEAT_MS, note: historyBudgetLine(budget) };
}

function historyBudgetLine(budget: HistoryBudgetRecord): string {
  const size = budget.bytes ? ` (${(budget.bytes / 1024 / 1024).toFixed(1)} MiB)` : '';
  const why =
    budget.reason === 'server_suggestion'
      ? `the Temporal server suggested continuing as new at ${budget.events} events${size}`
      : `its history reached ${budget.events} events${size}, over the budget of ${HISTORY_BUDGET.events} events or ${HISTORY_BUDGET.bytes / 1024 / 1024} MiB`;
  return `This run's history is long: ${why} on ${budget.exceededAt}. Temporal ends a run at its history limit without telling anyone, so a page, reminder or retry unanswered for a day now repeats every ${budget.repeatsEvery}.`;
}
