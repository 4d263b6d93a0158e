/**
 * What an activity's log lines say of the run that scheduled it: the workflow code puts it in a
 * header of every activity it schedules (src/workflows/interceptors.ts) and the worker's activity
 * interceptor adds it to the activity's logger (src/worker/log-context.ts). Before, an activity's
 * lines ("notice delivered", "Activity failed", the SQL's) had the workflow's id and type only, so a
 * search of the log by incident id or runbook missed every one of them.
 *
 * Headers are not sealed by the payload codec: this holds only what the run's search attributes
 * already show in clear (RunbookName, IncidentId, RunbookStep).
 */
export const RUN_LOG_CONTEXT_HEADER = 'runbook-log-context';

export interface RunLogContext {
  runbook: string;
  incidentId: string;
  /** The run's step when it scheduled the activity. */
  step: string;
}
