import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { CommandContext } from '../client';
import { UsageError } from '../args';
import type { Printed, Prepared } from '../command';
import { resolveRun, type RunRef } from '../runs';

/** What starting a runbook needs, validated. */
export interface StartRequest {
  workflowType: string;
  workflowId: string;
  args: unknown[];
  /** How to follow it with `status` (e.g. "--incident INC-1 --procedure B"). */
  follow: string;
}

export function startRun(request: StartRequest): Prepared {
  return async ({ client, taskQueue }) => {
    let runId: string;
    try {
      const handle = await client.workflow.start(request.workflowType, {
        taskQueue,
        workflowId: request.workflowId,
        args: request.args,
      });
      runId = handle.firstExecutionRunId;
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError)
        throw new UsageError(
          `${request.workflowId} is already running; see: npm run cli -- status --workflow-id ${request.workflowId}`,
        );
      throw error;
    }
    return {
      json: { started: request.workflowId, runId, workflowType: request.workflowType, taskQueue },
      text: `started ${request.workflowId} on task queue ${taskQueue}\nnext: npm run cli -- status ${request.follow}`,
    };
  };
}

/** A message (signal) to a run; the workflow records whether it counted, `status` shows it. */
export function sendSignal(ref: RunRef, name: string, payload: unknown): Prepared {
  return async ({ client }) => {
    const workflowId = await resolveRun(client, ref);
    try {
      await client.workflow.getHandle(workflowId).signal(name, payload);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new UsageError(`no such run: ${workflowId}`);
      throw error;
    }
    return {
      json: { sent: name, workflowId },
      text: `sent "${name}" to ${workflowId}; the decision is in: npm run cli -- status --workflow-id ${workflowId}`,
    };
  };
}

/** A finished printout. */
export function printed(json: unknown, text: string, exitCode?: number): Printed {
  return { json, text, ...(exitCode !== undefined ? { exitCode } : {}) };
}

export type { CommandContext };
