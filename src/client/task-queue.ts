import type { Client } from '@temporalio/client';
import { tsToDate } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';

/**
 * How recently a worker must have polled a task queue to count as serving it: a worker's long poll
 * lasts up to about a minute before it polls again, and the server forgets a poller after 5 min.
 */
export const POLLED_WITHIN_MS = 2 * 60_000;

/** Whether a worker serves `taskQueue` now, and when one last polled it (if the server remembers). */
export interface TaskQueueService {
  served: boolean;
  lastPolledAt?: Date;
}

/**
 * When a worker last polled the task queue's workflow tasks, by the server's record (it forgets a
 * poller after 5 min); undefined when none has. Rejects as the server does.
 */
export async function lastWorkflowPoll(
  client: Pick<Client, 'workflowService'>,
  namespace: string,
  taskQueue: string,
): Promise<Date | undefined> {
  const described = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  const times = (described.pollers ?? [])
    .map((poller) => (poller.lastAccessTime ? tsToDate(poller.lastAccessTime).getTime() : NaN))
    .filter(Number.isFinite);
  return times.length ? new Date(Math.max(...times)) : undefined;
}

/**
 * Whether a worker serves the task queue now. Undefined when the server cannot say (a credential
 * that may not describe task queues): the command then says nothing about workers.
 */
export async function taskQueueService(
  client: Pick<Client, 'workflowService'>,
  namespace: string,
  taskQueue: string,
  now = Date.now(),
): Promise<TaskQueueService | undefined> {
  try {
    const lastPolledAt = await lastWorkflowPoll(client, namespace, taskQueue);
    if (!lastPolledAt) return { served: false };
    return { served: now - lastPolledAt.getTime() <= POLLED_WITHIN_MS, lastPolledAt };
  } catch {
    return undefined;
  }
}

/** "since …" or "in the last 5 minutes", for a task queue no worker serves. */
export function noWorkerSince(service: TaskQueueService, taskQueue: string, namespace: string): string {
  const when = service.lastPolledAt
    ? `since ${service.lastPolledAt.toISOString()}`
    : 'in the last 5 minutes (or ever)';
  return `no worker has polled task queue ${taskQueue} (namespace ${namespace}) ${when}`;
}
