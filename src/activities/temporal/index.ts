import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/common';
import { z } from 'zod';
import { parseInput } from '../validation';

/**
 * Reads of other runs through the worker's own Temporal client (the activity context's): what a
 * runbook must know about a run it does not own, e.g. whether an incident is still open before its
 * freeze is lifted by hand. Read-only.
 */

const readIncidentRunInputSchema = z.object({ workflowId: z.string().min(1).max(300) }).strict();
export type ReadIncidentRunInput = z.input<typeof readIncidentRunInputSchema>;

/** The incident's run as Temporal has it, and what its status query says (when it answers). */
export type IncidentRunState =
  | { found: false; workflowId: string }
  | {
      found: true;
      workflowId: string;
      runId: string;
      /** RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, CONTINUED_AS_NEW… */
      status: string;
      open: boolean;
      commander?: string;
      resolution?: { at: string; by: string };
      freezeState?: string;
      /** The status query did not answer (why): the run's own account is unknown. */
      statusUnreadable?: string;
    };

/** What this reads of the incident's status query (the workflow's own definitions are not ours to import). */
interface IncidentStatusAnswer {
  detail: {
    commander: { handle: string };
    resolution?: { at: string; by: string };
    freeze?: { state: string };
  };
}

/** How long the incident's status query may take; unanswered, the run's own account is unknown. */
const QUERY_DEADLINE_MS = 10_000;

const awaitRunbookEndInputSchema = z
  .object({ workflowId: z.string().min(1).max(300), runId: z.string().min(1).max(100) })
  .strict();
export type AwaitRunbookEndInput = z.input<typeof awaitRunbookEndInputSchema>;

/** How a runbook run (and the runs it continued as) ended, as its incident records it. */
export type RunbookEnd =
  { state: 'completed'; outcome?: string; message?: string } | { state: 'failed'; message: string };

/** A long wait's heartbeat: a worker that dies is noticed, and the wait taken up by another. */
const FOLLOW_HEARTBEAT_MS = 20_000;

export function createTemporalActivities() {
  // The worker's own client (its connection, namespace and payload codec), per activity.
  const client = () => Context.current().client;
  return {
    /**
     * An incident's runbook started by an earlier run of the incident (before it continued as
     * new): waits for its end, following the runs it continues as, as the run that started it did.
     */
    async awaitRunbookEnd(raw: AwaitRunbookEndInput): Promise<RunbookEnd> {
      const { workflowId, runId } = parseInput(awaitRunbookEndInputSchema, raw, 'awaitRunbookEnd input');
      const context = Context.current();
      const beat = setInterval(() => context.heartbeat(), FOLLOW_HEARTBEAT_MS);
      try {
        const temporal = client();
        const result: unknown = await temporal.connection.withAbortSignal(context.cancellationSignal, () =>
          temporal.workflow.getHandle(workflowId, runId).result(),
        );
        const { outcome, message } = (result ?? {}) as { outcome?: unknown; message?: unknown };
        return {
          state: 'completed',
          ...(typeof outcome === 'string' ? { outcome } : {}),
          ...(typeof message === 'string' ? { message } : {}),
        };
      } catch (error) {
        if (context.cancellationSignal.aborted) throw error;
        // The client's WorkflowFailedError (its class is the client's, not ours to import here).
        if (error instanceof Error && error.name === 'WorkflowFailedError')
          return {
            state: 'failed',
            message: error.cause instanceof Error ? error.cause.message : error.message,
          };
        if (error instanceof WorkflowNotFoundError)
          return { state: 'failed', message: `${workflowId} (run ${runId}) is not known to Temporal` };
        throw error;
      } finally {
        clearInterval(beat);
      }
    },

    /** Freeze lift: whether the incident's run (by its workflow id) is open and resolved, and who commands it. */
    async readIncidentRun(raw: ReadIncidentRunInput): Promise<IncidentRunState> {
      const input = parseInput(readIncidentRunInputSchema, raw, 'readIncidentRun input');
      const { workflowId } = input;
      const handle = client().workflow.getHandle(workflowId);
      let described;
      try {
        described = await handle.describe();
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return { found: false, workflowId };
        throw error;
      }
      const base = {
        found: true as const,
        workflowId,
        runId: described.runId,
        status: described.status.name,
        open: described.status.name === 'RUNNING',
      };
      try {
        // A run whose worker is away would hold the query until the activity's own timeout.
        const status = await client().connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
          handle.query<IncidentStatusAnswer>('status'),
        );
        const { commander, resolution, freeze } = status.detail;
        return {
          ...base,
          commander: commander.handle,
          ...(resolution ? { resolution: { at: resolution.at, by: resolution.by } } : {}),
          ...(freeze ? { freezeState: freeze.state } : {}),
        };
      } catch (error) {
        return { ...base, statusUnreadable: error instanceof Error ? error.message : String(error) };
      }
    },
  };
}
