import { WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { incidentIdSchema } from '../../common/break-glass';
import { handleSchema } from '../../common/identity';
import {
  IncidentIdKey,
  RunbookNameKey,
  RunbookOutcomeKey,
  RunbookStepKey,
} from '../../common/search-attributes';
import { acknowledgeConflictSignal } from '../../workflows/shared/break-glass/definitions';
import {
  abortSignal,
  approveSignal,
  rejectSignal,
  statusQuery,
  stepDecisionSignal,
} from '../../workflows/shared/messages';
import type { RunbookStatus } from '../../workflows/shared/run-record';
import { approverFlag, requiredText, UsageError, validateFlag, type Values } from '../args';
import type { Command, Prepared } from '../command';
import { renderStatus } from '../status';
import { resolveRun, runRef } from '../runs';
import { signedPayload } from '../sign';
import { printed, sendDecision, statusWithin, unservedQueue } from './helpers';
import { RUNBOOK_NAMES } from '../../client/runbooks';

/** Commands on any run: status, result, the gate's decisions, and the list of runs. */

const GROUP = 'Follow and drive a run';
const keyword = z
  .string()
  .regex(/^[A-Za-z0-9_+.-]{1,100}$/, 'must be a step or outcome name (letters, digits, _ + . -)');

/** Runs found through the search attributes (newest first). */
export function listRuns(filter: {
  runbook?: string;
  step?: string;
  outcome?: string;
  incidentId?: string;
  open?: boolean;
  limit?: number;
  empty?: string;
}): Prepared {
  // Every value was validated against a closed pattern, so quoting it is safe.
  const clauses = [
    filter.runbook ? `${RunbookNameKey.name} = '${filter.runbook}'` : `${RunbookNameKey.name} IS NOT NULL`,
    ...(filter.step ? [`${RunbookStepKey.name} = '${filter.step}'`] : []),
    ...(filter.outcome ? [`${RunbookOutcomeKey.name} = '${filter.outcome}'`] : []),
    ...(filter.incidentId ? [`${IncidentIdKey.name} = '${filter.incidentId}'`] : []),
    ...(filter.open ? [`ExecutionStatus = 'Running'`] : []),
  ];
  const query = clauses.join(' AND ');
  const limit = filter.limit ?? 50;
  return async ({ client }) => {
    const runs = [];
    for await (const execution of client.workflow.list({ query })) {
      const attribute = (name: string): string | undefined => {
        const value = execution.searchAttributes?.[name]?.[0];
        return value === undefined ? undefined : String(value);
      };
      runs.push({
        workflowId: execution.workflowId,
        runbook: attribute(RunbookNameKey.name) ?? execution.type,
        incidentId: attribute(IncidentIdKey.name),
        step: attribute(RunbookStepKey.name),
        outcome: attribute(RunbookOutcomeKey.name),
        status: execution.status.name,
        startedAt: execution.startTime.toISOString(),
      });
      if (runs.length >= limit) break;
    }
    const text = runs.length
      ? runs
          .map(
            (run) =>
              `${run.workflowId}  ${run.status}  ${run.runbook}  step ${run.step ?? '?'}${run.outcome ? `  outcome ${run.outcome}` : ''}  started ${run.startedAt}`,
          )
          .join('\n')
      : (filter.empty ?? `no runs match: ${query}`);
    return printed(runs, text);
  };
}

/**
 * A run's status is its worker's answer to a query. With no worker on the run's task queue the
 * query waited about 30 s and failed ("Failed to query Workflow"); now the command says within 3 s
 * that no worker serves it and what Temporal itself knows (state, start, the step and outcome from
 * the search attributes), and exits 1.
 */
function status(values: Values): Prepared {
  const ref = runRef(values);
  return async ({ client }) => {
    const workflowId = await resolveRun(client, ref);
    const handle = client.workflow.getHandle(workflowId);
    const quick = await statusWithin(handle);
    if (quick) return printed(quick, renderStatus(quick));
    let described;
    try {
      described = await handle.describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new UsageError(`no such run: ${workflowId}`);
      throw error;
    }
    const unserved = await unservedQueue(handle, described.taskQueue);
    if (unserved) {
      const attribute = (key: typeof RunbookStepKey): string | undefined =>
        described.typedSearchAttributes.get(key);
      const known = {
        workflowId,
        runbook: attribute(RunbookNameKey) ?? described.type,
        state: described.status.name,
        startedAt: described.startTime.toISOString(),
        step: attribute(RunbookStepKey),
        outcome: attribute(RunbookOutcomeKey),
        taskQueue: described.taskQueue,
        workerPolling: false,
      };
      return printed(
        known,
        [
          `${unserved}: the run's status is read from its worker, so it cannot be read now.`,
          `What Temporal knows: ${known.runbook} ${workflowId}, ${known.state} since ${known.startedAt}` +
            `${known.step ? `, step ${known.step}` : ''}${known.outcome ? `, outcome ${known.outcome}` : ''}.`,
          known.state === 'RUNNING'
            ? 'Start a worker (npm run worker) with the same TEMPORAL_NAMESPACE and RUNBOOKS_TASK_QUEUE: until one serves it, the run makes no progress.'
            : 'The run has ended; a worker (npm run worker) with the same TEMPORAL_NAMESPACE and RUNBOOKS_TASK_QUEUE reads its full status.',
        ].join('\n'),
        1,
      );
    }
    // A worker serves the queue but took longer than the quick query: its full patience.
    try {
      const answer = (await handle.query(statusQuery)) as RunbookStatus<Record<string, unknown>>;
      return printed(answer, renderStatus(answer));
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new UsageError(`no such run: ${workflowId}`);
      throw error;
    }
  };
}

export const runCommands: Command[] = [
  {
    name: 'status',
    group: GROUP,
    usage: '--incident <id> [--procedure X] | --workflow-id <id>',
    prepare: status,
  },
  {
    name: 'list',
    group: GROUP,
    usage: '[--runbook <type>] [--step <step>] [--outcome <outcome>] [--incident <id>] [--open] [--limit 50]',
    prepare(values) {
      const runbook =
        values.runbook === undefined
          ? undefined
          : validateFlag(z.enum(RUNBOOK_NAMES), values.runbook, '--runbook');
      return listRuns({
        ...(runbook ? { runbook } : {}),
        ...(values.step !== undefined ? { step: validateFlag(keyword, values.step, '--step') } : {}),
        ...(values.outcome !== undefined
          ? { outcome: validateFlag(keyword, values.outcome, '--outcome') }
          : {}),
        ...(values.incident !== undefined
          ? { incidentId: validateFlag(incidentIdSchema, values.incident, '--incident') }
          : {}),
        ...(values.open ? { open: true } : {}),
        ...(values.limit !== undefined
          ? { limit: validateFlag(z.coerce.number().int().min(1).max(1_000), values.limit, '--limit') }
          : {}),
      });
    },
  },
  {
    name: 'approve',
    group: GROUP,
    usage:
      '--incident <id> --approver <@handle> (or --by) --plan-hash <hash> [--rationale "..."] [--sign-key <ssh key file>]',
    prepare(values) {
      const approval = {
        approver: approverFlag(values),
        planHash: validateFlag(
          z.string().regex(/^[0-9a-f]{64}$/, 'must be the 64-hex planHash from "status"'),
          values['plan-hash'],
          '--plan-hash',
        ),
        ...(values.rationale ? { rationale: values.rationale } : {}),
      };
      const keyFile = values['sign-key'];
      return sendDecision(
        runRef(values),
        approveSignal.name,
        approval,
        values,
        keyFile ? signedPayload(keyFile, approval) : undefined,
      );
    },
  },
  {
    name: 'reject',
    group: GROUP,
    usage: '--incident <id> --approver <@handle> (or --by) --reason "..."',
    prepare: (values) =>
      sendDecision(
        runRef(values),
        rejectSignal.name,
        {
          approver: approverFlag(values),
          reason: requiredText('--reason', values.reason),
        },
        values,
      ),
  },
  {
    name: 'abort',
    group: GROUP,
    usage:
      '--incident <id> --by <@handle> --reason "..." [--keep-live]   (re-enablement: --keep-live leaves the allowlist as it is)',
    prepare: (values) =>
      sendDecision(
        runRef(values),
        abortSignal.name,
        {
          by: validateFlag(handleSchema, values.by, '--by'),
          reason: requiredText('--reason', values.reason),
          ...(values['keep-live'] ? { keepLive: true } : {}),
        },
        values,
      ),
  },
  stepDecisionCommand('retry', 'run the step that failed again (safe: every write is idempotent)'),
  stepDecisionCommand('skip', 'go on without the step that failed, where the runbook allows it'),
  {
    name: 'acknowledge-conflict',
    group: GROUP,
    usage: '--incident <id> --by <@handle> --note "what you verified"   release a CONFLICT hold (A, D)',
    prepare: (values) =>
      sendDecision(
        runRef(values),
        acknowledgeConflictSignal.name,
        {
          by: validateFlag(handleSchema, values.by, '--by'),
          note: requiredText('--note', values.note),
        },
        values,
      ),
  },
  {
    name: 'result',
    group: GROUP,
    usage: '--incident <id>          (waits for the run to finish, prints the result JSON)',
    prepare(values) {
      const ref = runRef(values);
      return async ({ client }) => {
        const workflowId = await resolveRun(client, ref);
        const result: unknown = await client.workflow.getHandle(workflowId).result();
        return printed(result, JSON.stringify(result, null, 2));
      };
    },
  },
];

/** retry / skip a step shown as `needs_human` (abort is the `abort` command). */
function stepDecisionCommand(decision: 'retry' | 'skip', what: string): Command {
  return {
    name: decision,
    group: GROUP,
    usage: `--incident <id> --by <@handle> [--reason "..."]   ${what}`,
    prepare: (values) =>
      sendDecision(
        runRef(values),
        stepDecisionSignal.name,
        {
          by: validateFlag(handleSchema, values.by, '--by'),
          decision,
          ...(values.reason ? { reason: values.reason } : {}),
        },
        values,
      ),
  };
}
