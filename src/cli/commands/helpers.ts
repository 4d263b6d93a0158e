import {
  type WorkflowHandle,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { decide, notTakenOf } from '../../client/decide';
import { statusQuery, type DecisionAnswer } from '../../workflows/shared/messages';
import type { RunbookStatus } from '../../workflows/shared/run-record';
import type { CommandContext } from '../client';
import { z } from 'zod';
import { UsageError, validateFlag, type Values } from '../args';
import type { Printed, Prepared } from '../command';
import { resolveRun, type RunRef } from '../runs';
import { noWorkerSince, taskQueueService } from '../../client/task-queue';
import type { RunStartOptions } from '../../common/search-attributes';

/** What starting a runbook needs, validated. */
export interface StartRequest {
  workflowType: string;
  workflowId: string;
  args: unknown[];
  /** How to follow it with `status` (e.g. "--incident INC-1 --procedure B"). */
  follow: string;
  /** Search attributes and memo the run holds from its start (it then writes none of them again). */
  startOptions?: RunStartOptions;
}

/**
 * Starts the run, then asks the server whether a worker serves its task queue: a run started
 * where none does waits, doing nothing, and before the CLI said only "started" (at 3 a.m. with the
 * worker down, or TEMPORAL_NAMESPACE / RUNBOOKS_TASK_QUEUE not the worker's). It is started all
 * the same (it runs when a worker comes; a second start would be refused as already running).
 */
export function startRun(request: StartRequest): Prepared {
  return async ({ client, taskQueue, namespace }) => {
    let runId: string;
    try {
      const handle = await client.workflow.start(request.workflowType, {
        taskQueue,
        workflowId: request.workflowId,
        args: request.args,
        ...request.startOptions,
      });
      runId = handle.firstExecutionRunId;
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError)
        throw new UsageError(
          `${request.workflowId} is already running; see: npm run cli -- status --workflow-id ${request.workflowId}`,
        );
      throw error;
    }
    const service = await taskQueueService(client, namespace, taskQueue);
    // Unserved by the pollers' times (the server's clock) and no answer to a short query either.
    const unserved =
      service &&
      !service.served &&
      !(await statusWithin(client.workflow.getHandle(request.workflowId, runId)));
    const warning = unserved
      ? `WARNING: ${noWorkerSince(service, taskQueue, namespace)}: this run waits, doing nothing, until a worker serves it. ` +
        'Start one (npm run worker) with the same TEMPORAL_NAMESPACE and RUNBOOKS_TASK_QUEUE.'
      : undefined;
    return {
      json: {
        started: request.workflowId,
        runId,
        workflowType: request.workflowType,
        taskQueue,
        ...(service ? { workerPolling: !unserved } : {}),
      },
      text: `started ${request.workflowId} on task queue ${taskQueue}\n${warning ? `${warning}\n` : ''}next: npm run cli -- status ${request.follow}`,
    };
  };
}

/** How long the CLI waits for a run to answer a decision (its worker must pick the Update up). */
const ANSWER_WAIT_SECONDS = 30;

/**
 * A decision to a run. By default an Update: the run answers at once whether it counted and why
 * not, and a refusal exits 1. `--signal` sends it fire-and-forget (the run records whether it
 * counted; `status` shows it); a run whose code predates Updates gets the signal automatically.
 */
export function sendDecision(
  ref: RunRef,
  name: string,
  payload: unknown,
  values: Values,
  /** Completes the payload once the run is known (e.g. signs it). */
  complete?: (payload: unknown, run: { namespace: string; workflowId: string }) => Promise<unknown>,
): Prepared {
  const asSignal = values.signal === true;
  const waitSeconds = answerWaitSeconds(values);
  return async ({ client, namespace }) => {
    const workflowId = await resolveRun(client, ref);
    const handle = client.workflow.getHandle(workflowId);
    if (complete) payload = await complete(payload, { namespace, workflowId });
    const signal = async (why: string): Promise<Printed> => {
      await handle.signal(name, payload);
      return printed(
        { sent: name, workflowId, as: 'signal' },
        `sent "${name}" to ${workflowId} as a signal${why}; whether it counted is in: npm run cli -- status --workflow-id ${workflowId}`,
      );
    };
    try {
      if (asSignal) return await signal('');
      const unserved = (await statusWithin(handle))
        ? undefined
        : await unservedQueue(handle, (await handle.describe()).taskQueue);
      if (unserved) {
        // An Update nobody can take lives only in the server's memory: a signal is kept in the
        // run's history and counts (or is refused) when a worker comes, once.
        await handle.signal(name, payload);
        return printed(
          { decision: name, workflowId, accepted: null, detail: 'no worker', sent: name, as: 'signal' },
          `NOT CONFIRMED: ${unserved}, so nothing can answer "${name}" now. Sent it as a signal instead: ` +
            `it is kept in the run's history and counts, or is refused, when a worker serves the run. Do not send it again; ` +
            `once a worker runs: npm run cli -- status --workflow-id ${workflowId}`,
          3,
        );
      }
      const answer = await decideWithin(client, handle, name, payload, waitSeconds);
      if (!answer) return notConfirmed(workflowId, name, waitSeconds);
      const json = { decision: name, workflowId, ...answer };
      if (answer.accepted) {
        // The run answers as it takes the decision, before it acts on it: an approval answered
        // "step now: awaiting_approval", which at 3 a.m. reads as "still waiting" and invites a
        // second approval. Where the run went is in its status once the answer is in.
        const stepNow = (await statusWithin(handle))?.step ?? answer.step;
        return printed({ ...json, stepNow }, `accepted: ${name} on ${workflowId} (step now: ${stepNow})`);
      }
      return printed(
        json,
        `REFUSED (${answer.reason}): ${answer.detail}\n${name} on ${workflowId} did not count`,
        1,
      );
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new UsageError(`no such run: ${workflowId}`);
      if (error instanceof WorkflowUpdateFailedError) {
        const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
        if (/no registered handler for update/i.test(cause))
          return signal(" (this run's code predates Updates)");
        // Sent again for as long as the answer was waited for, and still handing over.
        if (notTakenOf(error) !== undefined)
          return printed(
            { decision: name, workflowId, accepted: null, detail: 'not taken' },
            `${cause}\nNothing was recorded in ${waitSeconds} s of trying; send it again (or with --signal: held, and acted on by the next run)`,
            3,
          );
        return printed(
          { decision: name, workflowId, accepted: false, reason: 'invalid_payload', detail: cause },
          `REFUSED (invalid_payload): ${cause}`,
          1,
        );
      }
      throw error;
    }
  };
}

/**
 * The run's answer to the decision, or undefined when none came within `waitSeconds` (our own
 * timer decides "no answer": what the client throws on a cut call varies). An Update the run did
 * not take in while it handed over is sent again meanwhile, saying so on stderr.
 */
async function decideWithin(
  client: CommandContext['client'],
  handle: WorkflowHandle,
  name: string,
  payload: unknown,
  waitSeconds: number,
): Promise<DecisionAnswer | undefined> {
  const patience = new AbortController();
  const timer = setTimeout(() => patience.abort(), waitSeconds * 1_000);
  try {
    return await client.connection.withAbortSignal(patience.signal, () =>
      decide<unknown>(handle, name, payload, {
        // Given up a little before the patience: "not taken" (nothing recorded) is then what is
        // said, not "no answer" (which may yet be applied).
        retryForMs: Math.max(0, waitSeconds - 2) * 1_000,
        onNotTaken: (message) => process.stderr.write(`${message} (the CLI sends it again)\n`),
      }),
    );
  } catch (error) {
    if (patience.signal.aborted) return undefined;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** How long a run a command may find unserved is given to answer a query. */
const UNSERVED_QUERY_TIMEOUT_MS = 3_000;

/**
 * The run's status if its worker answers within 3 s, else undefined. A query changes nothing, so
 * it is the first thing asked of a run a command may find unserved: an answer settles it in one
 * call, where the pollers' times (the server's clock, against this machine's) could take a live
 * worker for gone on a machine whose clock runs ahead.
 */
export function statusWithin(
  handle: WorkflowHandle,
): Promise<RunbookStatus<Record<string, unknown>> | undefined> {
  return handle.client
    .withDeadline(Date.now() + UNSERVED_QUERY_TIMEOUT_MS, () => handle.query(statusQuery))
    .then(
      (status) => status as RunbookStatus<Record<string, unknown>>,
      () => undefined,
    );
}

/** Why no worker serves `taskQueue` now (none polls it), or undefined if one does or it cannot be told. */
export async function unservedQueue(handle: WorkflowHandle, taskQueue: string): Promise<string | undefined> {
  const namespace = handle.client.options.namespace;
  const service = await taskQueueService(handle.client, namespace, taskQueue);
  return service && !service.served ? noWorkerSince(service, taskQueue, namespace) : undefined;
}

/** `--wait`: how long to wait for a run to answer (default 30 s). */
export function answerWaitSeconds(values: Values): number {
  return values.wait === undefined
    ? ANSWER_WAIT_SECONDS
    : validateFlag(z.coerce.number().int().min(1).max(600), values.wait, '--wait');
}

function notConfirmed(workflowId: string, name: string, waitSeconds: number): Printed {
  return printed(
    { decision: name, workflowId, accepted: null, detail: 'no answer' },
    `NOT CONFIRMED: ${workflowId} did not answer "${name}" within ${waitSeconds} s (is its worker running?). ` +
      `It may still be applied when a worker picks it up: check "npm run cli -- status --workflow-id ${workflowId}" before sending it again.`,
    3,
  );
}

/** A finished printout. */
export function printed(json: unknown, text: string, exitCode?: number): Printed {
  return { json, text, ...(exitCode !== undefined ? { exitCode } : {}) };
}

export type { CommandContext };
