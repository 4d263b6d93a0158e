import type { WorkflowService } from '@temporalio/client';
import type { DefaultLogger } from '@temporalio/worker';
import { ConfigurationError } from '../common/errors';
import type { RunbookName, UnservedRunbook } from '../common/policy';
import { WORKFLOW_VERSIONING } from '../common/workflow-versioning';

/**
 * The workflow types whose runs read a runbook's policy section: at their start, and again each
 * time they continue as new (an incident at a hand-over, a backstop programme after a checkpoint).
 * A runbook not listed is read by the workflow type of its own name.
 */
const READ_BY: Partial<Record<RunbookName, string[]>> = {
  incident: ['incident', 'freezeLift'],
  backstop: ['backstopProgram'],
};

/** Runs named in the refusal; the count says how many more. */
const NAMED = 5;

interface OpenRunsOfUnserved {
  runbook: RunbookName;
  reason: string;
  open: number;
  workflowIds: string[];
}

/**
 * Refuses to start a worker whose policy cannot serve a runbook that has runs open on its task
 * queue. Such a run fails when it next reads its section: an incident at its next hand-over ends
 * FAILED, with its freeze set and nobody told, rather than waiting for a human. A deploy that
 * removes a section (or the channel it names) while its runs are open is a mistake said at once:
 * the worker exits naming the runs, and the old workers go on serving them (a rolling deploy
 * stops at the first new pod that does not start).
 *
 * A versioned worker (Worker Versioning) leaves out the PINNED types: their runs stay on the build
 * that started them, whose workers keep its policy. Visibility that cannot answer (a store without
 * the filter, a missing permission) is not a reason to stay down: said in a warning, and the
 * worker starts.
 */
export async function refuseUnservedOpenRuns(
  service: WorkflowService,
  namespace: string,
  taskQueue: string,
  unserved: UnservedRunbook[],
  versioned: boolean,
  logger: DefaultLogger,
): Promise<void> {
  const found: OpenRunsOfUnserved[] = [];
  const movesToThisBuild = (type: string): boolean =>
    !versioned || WORKFLOW_VERSIONING[type as keyof typeof WORKFLOW_VERSIONING] !== 'PINNED';
  for (const { runbook, reason } of unserved) {
    const types = (READ_BY[runbook] ?? [runbook]).filter(movesToThisBuild);
    if (types.length === 0) continue;
    const query = `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running' AND (${types.map((type) => `WorkflowType = '${type}'`).join(' OR ')})`;
    try {
      const [{ count }, page] = await Promise.all([
        service.countWorkflowExecutions({ namespace, query }),
        service.listWorkflowExecutions({ namespace, query, pageSize: NAMED }),
      ]);
      const workflowIds = (page.executions ?? []).map((run) => run.execution?.workflowId ?? '?');
      const open = Math.max(Number(count ?? 0), workflowIds.length);
      if (open > 0) found.push({ runbook, reason, open, workflowIds });
    } catch (error) {
      logger.warn(
        `could not list open ${runbook} runs: a run of it would fail when it next reads its policy`,
        {
          runbook,
          error: error instanceof Error ? error.message : String(error),
        },
      );
    }
  }
  if (found.length === 0) return;
  throw new ConfigurationError(
    [
      `the policy cannot serve runbooks that have runs open on task queue ${taskQueue}; each would fail when it next reads its policy section (an incident at its next hand-over):`,
      ...found.map(
        ({ runbook, reason, open, workflowIds }) =>
          `  ${runbook}: ${reason}; ${open} open: ${workflowIds.join(', ')}${open > workflowIds.length ? `, and ${open - workflowIds.length} more` : ''}`,
      ),
      'Restore what the policy lost (or deploy the previous one), or end those runs first (cancel each from the Web UI: it reaches its safe state and says so); then start the worker again.',
    ].join('\n'),
  );
}
