import { parseArgs } from 'node:util';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { incidentIdSchema } from '../common/break-glass';
import { handleSchema } from '../common/identity';
import { describeIssues } from '../common/validation';
import { DEFAULT_TASK_QUEUE } from '../worker/config';
import { connectClient, loadTemporalTarget } from '../worker/connection';
import { ConfigurationError } from '../worker/errors';
import {
  BREAK_GLASS_CONSOLE_EDIT,
  breakGlassConsoleEditInputSchema,
  breakGlassConsoleEditWorkflowId,
} from '../workflows/break-glass-console-edit/definitions';
import {
  BREAK_GLASS_DRILL,
  BREAK_GLASS_DRILL_SCHEDULE_ID,
  breakGlassDrillInputSchema,
} from '../workflows/break-glass-drill/definitions';
import {
  BREAK_GLASS_OVERWRITE_RECOVERY,
  breakGlassOverwriteRecoveryInputSchema,
  breakGlassOverwriteRecoveryWorkflowId,
} from '../workflows/break-glass-overwrite-recovery/definitions';
import {
  BREAK_GLASS_REBOOTSTRAP,
  breakGlassRebootstrapInputSchema,
  breakGlassRebootstrapWorkflowId,
} from '../workflows/break-glass-rebootstrap/definitions';
import {
  abortSignal,
  approveSignal,
  BREAK_GLASS_RESTORE,
  breakGlassRestoreInputSchema,
  breakGlassRestoreWorkflowId,
  checkReconciliationSignal,
  postMortemFiledSignal,
  rejectSignal,
  statusQuery,
} from '../workflows/break-glass-restore/definitions';
import type { RunbookStatus } from '../workflows/shared/run-record';
import { ensureDrillSchedule } from './schedule';

/**
 * The runbooks CLI: start Procedure A, read its status, send the gate and obligation signals.
 * Everything it sends is validated with the same zod schemas the workflow uses, so a typo is
 * reported here, naming the field, before anything reaches Temporal.
 */

const USAGE = `Usage: npm run cli -- <command> [options]

Start a break-glass procedure (seed 000):
  start-restore            A: --incident <id> --target <history id> --requested-by <@handle> --rationale "<one sentence>" [--dry-run]
  start-console-edit       B: --incident <id> --model XGB|LGB|CB --timeframe 1M|5M|15M|30M|1H --param <PARAM> --value <v>
                              --requested-by <@handle> --rationale "..." [--dry-run]
  start-overwrite-recovery C: --incident <id> --requested-by <@handle> --rationale "..." [--dry-run]
  start-rebootstrap        D: --incident <id> --requested-by <@handle> --rationale "..." [--dry-run]
  start-drill              the drill on the staging copy now [--requested-by <@handle>]
  schedule-drill           create (or fix) the Schedule running the drill every 30 days

Follow and drive a run (--procedure A|B|C|D picks the run for an incident; default A):
  status               --incident <id> [--procedure X] | --workflow-id <id>
  approve              --incident <id> --approver <@handle> --plan-hash <hash> [--rationale "..."]
  reject               --incident <id> --approver <@handle> --reason "..."
  abort                --incident <id> --by <@handle> --reason "..."
  check-reconciliation --incident <id>
  post-mortem-filed    --incident <id> --by <@handle> --link <url>
  result               --incident <id>          (waits for the run to finish, prints the result JSON)

Connection: Temporal's environment configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_*, TEMPORAL_PROFILE); defaults to 127.0.0.1:7233 / default. Task queue: RUNBOOKS_TASK_QUEUE (runbooks).`;

class UsageError extends Error {}

const options = {
  incident: { type: 'string' },
  'workflow-id': { type: 'string' },
  target: { type: 'string' },
  'requested-by': { type: 'string' },
  rationale: { type: 'string' },
  'dry-run': { type: 'boolean' },
  approver: { type: 'string' },
  'plan-hash': { type: 'string' },
  reason: { type: 'string' },
  by: { type: 'string' },
  link: { type: 'string' },
  procedure: { type: 'string' },
  model: { type: 'string' },
  timeframe: { type: 'string' },
  param: { type: 'string' },
  value: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

function validate<S extends z.ZodType>(schema: S, value: unknown, subject: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(describeIssues(parsed.error, subject));
  return parsed.data;
}

const WORKFLOW_ID_FOR: Record<string, (incidentId: string) => string> = {
  A: breakGlassRestoreWorkflowId,
  B: breakGlassConsoleEditWorkflowId,
  C: breakGlassOverwriteRecoveryWorkflowId,
  D: breakGlassRebootstrapWorkflowId,
};

function workflowIdOf(values: Values): string {
  if (values['workflow-id']) return values['workflow-id'];
  if (values.incident) {
    const procedure = (values.procedure ?? 'A').toUpperCase();
    const idFor = WORKFLOW_ID_FOR[procedure];
    if (!idFor) throw new UsageError(`--procedure must be A, B, C or D (got "${values.procedure}")`);
    return idFor(validate(incidentIdSchema, values.incident, '--incident'));
  }
  throw new UsageError('name the run: --incident <id> [--procedure A|B|C|D] (or --workflow-id <id>)');
}

interface StartRequest {
  workflowType: string;
  workflowId: string;
  args: unknown[];
  incidentId?: string;
  procedure?: string;
}

/** Validates a start command's options with the workflow's own input schema. */
function startRequest(command: string, values: Values): StartRequest | undefined {
  const common = {
    incidentId: values.incident,
    requestedBy: values['requested-by'],
    rationale: values.rationale,
    dryRun: values['dry-run'] ?? false,
  };
  switch (command) {
    case 'start-restore': {
      const target =
        values.target === undefined
          ? undefined
          : /^\d+$/.test(values.target)
            ? Number(values.target)
            : values.target;
      const input = validate(
        breakGlassRestoreInputSchema,
        { ...common, targetHistoryId: target },
        'start-restore options',
      );
      return {
        workflowType: BREAK_GLASS_RESTORE,
        workflowId: breakGlassRestoreWorkflowId(input.incidentId),
        args: [input],
        incidentId: input.incidentId,
        procedure: 'A',
      };
    }
    case 'start-console-edit': {
      const input = validate(
        breakGlassConsoleEditInputSchema,
        {
          ...common,
          model: values.model,
          timeframe: values.timeframe,
          param: values.param,
          newValue: values.value,
        },
        'start-console-edit options (--model, --timeframe, --param, --value, …)',
      );
      return {
        workflowType: BREAK_GLASS_CONSOLE_EDIT,
        workflowId: breakGlassConsoleEditWorkflowId(input.incidentId),
        args: [input],
        incidentId: input.incidentId,
        procedure: 'B',
      };
    }
    case 'start-overwrite-recovery': {
      const input = validate(
        breakGlassOverwriteRecoveryInputSchema,
        common,
        'start-overwrite-recovery options',
      );
      return {
        workflowType: BREAK_GLASS_OVERWRITE_RECOVERY,
        workflowId: breakGlassOverwriteRecoveryWorkflowId(input.incidentId),
        args: [input],
        incidentId: input.incidentId,
        procedure: 'C',
      };
    }
    case 'start-rebootstrap': {
      const input = validate(breakGlassRebootstrapInputSchema, common, 'start-rebootstrap options');
      return {
        workflowType: BREAK_GLASS_REBOOTSTRAP,
        workflowId: breakGlassRebootstrapWorkflowId(input.incidentId),
        args: [input],
        incidentId: input.incidentId,
        procedure: 'D',
      };
    }
    case 'start-drill': {
      const input = validate(
        breakGlassDrillInputSchema,
        values['requested-by'] ? { requestedBy: values['requested-by'] } : {},
        'start-drill options',
      );
      return {
        workflowType: BREAK_GLASS_DRILL,
        workflowId: `break-glass-drill-manual-${Date.now()}`,
        args: [input],
      };
    }
    default:
      return undefined;
  }
}

interface AnyPlan {
  planHash?: string;
  target?: { id: number; version: string };
  live?: { version: string };
  diff?: {
    changed: number;
    added: number;
    removed: number;
    changes: { key: string; from?: unknown; to?: unknown }[];
  };
  key?: string;
  currentValue?: unknown;
  newValue?: unknown;
  source?: { kind: string; historyId?: number; keyCount?: number };
}

function printStatus(status: RunbookStatus<Record<string, unknown>>): void {
  const lines = [
    `${status.runbook} ${status.workflowId}  incident ${status.incidentId}`,
    `step:      ${status.step}${status.outcome ? `  (outcome: ${status.outcome})` : ''}`,
    `now:       ${status.currentDetails}`,
  ];
  const detail = status.detail;
  const plan = detail.plan as AnyPlan | undefined;
  if (plan?.target && plan.diff) {
    lines.push(
      `plan:      restore history id ${plan.target.id} (${plan.target.version}) over live ${plan.live?.version ?? '?'}: ` +
        `${plan.diff.changed} changed, ${plan.diff.added} added, ${plan.diff.removed} removed`,
    );
    for (const change of plan.diff.changes.slice(0, 15)) {
      lines.push(`           ${change.key}: ${JSON.stringify(change.from)} -> ${JSON.stringify(change.to)}`);
    }
    if (plan.diff.changes.length > 15) lines.push(`           … ${plan.diff.changes.length - 15} more`);
  } else if (plan?.key) {
    lines.push(
      `plan:      set ${plan.key}: ${JSON.stringify(plan.currentValue)} -> ${JSON.stringify(plan.newValue)}`,
    );
  } else if (plan?.source) {
    lines.push(
      `plan:      re-bootstrap from ${plan.source.kind === 'history' ? `history id ${plan.source.historyId}` : `the canonical payload (${plan.source.keyCount} keys)`}`,
    );
  }
  if (plan?.planHash) lines.push(`planHash:  ${plan.planHash}`);
  const approval = detail.approval as { line?: string } | undefined;
  if (approval?.line) lines.push(`approval:  ${approval.line}`);
  if (typeof detail.executesAt === 'string') lines.push(`executes:  ${detail.executesAt}`);
  const child = detail.child as { workflowId?: string; state?: string } | undefined;
  if (child?.workflowId)
    lines.push(
      `child:     ${child.workflowId} (${child.state}) — approve it with --workflow-id ${child.workflowId}`,
    );
  for (const deadline of status.deadlines)
    lines.push(`deadline:  ${deadline.name} ${deadline.dueAt} (${deadline.state})`);
  for (const refused of status.refusedAttempts) {
    lines.push(
      `refused:   ${refused.at} ${refused.signal} by ${refused.by ?? '?'}: ${refused.reason}: ${refused.detail}`,
    );
  }
  for (const finding of status.nonConformities)
    lines.push(`NON-CONFORMING: ${finding.code}: ${finding.message}`);
  for (const finding of status.flags) lines.push(`FLAG:      ${finding.code}: ${finding.message}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }

  const known = [
    'start-restore',
    'status',
    'approve',
    'reject',
    'abort',
    'check-reconciliation',
    'post-mortem-filed',
    'result',
  ];
  if (!known.includes(command)) throw new UsageError(`unknown command "${command}"`);

  // Validate before connecting: a typo never reaches Temporal.
  const start = startRequest(command, values);

  const target = loadTemporalTarget();
  const connection = await connectClient(target);
  const client = new Client({ connection, namespace: target.namespace });
  const taskQueue = process.env.RUNBOOKS_TASK_QUEUE ?? DEFAULT_TASK_QUEUE;
  try {
    if (command === 'schedule-drill') {
      const state = await ensureDrillSchedule(client, taskQueue);
      process.stdout.write(
        `Schedule ${BREAK_GLASS_DRILL_SCHEDULE_ID}: ${state} (every 30 days, workflow ${BREAK_GLASS_DRILL} on ${taskQueue})\n` +
          `list: temporal schedule list · pause: temporal schedule toggle --schedule-id ${BREAK_GLASS_DRILL_SCHEDULE_ID} --pause --reason "…" · ` +
          `run now: temporal schedule trigger --schedule-id ${BREAK_GLASS_DRILL_SCHEDULE_ID}\n`,
      );
      return;
    }
    if (start) {
      try {
        await client.workflow.start(start.workflowType, {
          taskQueue,
          workflowId: start.workflowId,
          args: start.args,
        });
      } catch (error) {
        if (error instanceof WorkflowExecutionAlreadyStartedError) {
          throw new UsageError(
            `${start.workflowId} is already running; see: npm run cli -- status --workflow-id ${start.workflowId}`,
          );
        }
        throw error;
      }
      const follow = start.incidentId
        ? `--incident ${start.incidentId} --procedure ${start.procedure}`
        : `--workflow-id ${start.workflowId}`;
      process.stdout.write(
        `started ${start.workflowId} on task queue ${taskQueue}\nnext: npm run cli -- status ${follow}\n`,
      );
      return;
    }

    const handle = client.workflow.getHandle(workflowIdOf(values));
    switch (command) {
      case 'status':
        printStatus((await handle.query(statusQuery)) as RunbookStatus<Record<string, unknown>>);
        return;
      case 'approve':
        await handle.signal(approveSignal, {
          approver: validate(handleSchema, values.approver, '--approver'),
          planHash: validate(
            z.string().regex(/^[0-9a-f]{64}$/, 'must be the 64-hex planHash from "status"'),
            values['plan-hash'],
            '--plan-hash',
          ),
          ...(values.rationale ? { rationale: values.rationale } : {}),
        });
        break;
      case 'reject':
        await handle.signal(rejectSignal, {
          approver: validate(handleSchema, values.approver, '--approver'),
          reason: validate(z.string().min(1, 'is required'), values.reason, '--reason'),
        });
        break;
      case 'abort':
        await handle.signal(abortSignal, {
          by: validate(handleSchema, values.by, '--by'),
          reason: validate(z.string().min(1, 'is required'), values.reason, '--reason'),
        });
        break;
      case 'check-reconciliation':
        await handle.signal(checkReconciliationSignal, {});
        break;
      case 'post-mortem-filed':
        await handle.signal(postMortemFiledSignal, {
          by: validate(handleSchema, values.by, '--by'),
          link: validate(z.string().min(1, 'is required'), values.link, '--link'),
        });
        break;
      case 'result':
        process.stdout.write(`${JSON.stringify(await handle.result(), null, 2)}\n`);
        return;
    }
    process.stdout.write(
      `sent "${command}" to ${handle.workflowId}; the decision is in: npm run cli -- status --workflow-id ${handle.workflowId}\n`,
    );
  } catch (error) {
    if (error instanceof WorkflowNotFoundError)
      throw new UsageError(`no such run: ${error.workflowId ?? ''}`);
    throw error;
  } finally {
    await connection.close();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || error instanceof ConfigurationError) {
    process.stderr.write(`runbooks: ${error.message}\n`);
    if (error instanceof UsageError) process.stderr.write('run "npm run cli -- --help" for usage\n');
  } else {
    process.stderr.write(`runbooks: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
});
