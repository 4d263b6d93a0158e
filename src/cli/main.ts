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
  abortSignal,
  approveSignal,
  BREAK_GLASS_RESTORE,
  breakGlassRestoreInputSchema,
  breakGlassRestoreWorkflowId,
  checkReconciliationSignal,
  postMortemFiledSignal,
  rejectSignal,
  statusQuery,
  type BreakGlassRestoreInput,
  type BreakGlassRestoreStatus,
} from '../workflows/break-glass-restore/definitions';

/**
 * The runbooks CLI: start Procedure A, read its status, send the gate and obligation signals.
 * Everything it sends is validated with the same zod schemas the workflow uses, so a typo is
 * reported here, naming the field, before anything reaches Temporal.
 */

const USAGE = `Usage: npm run cli -- <command> [options]

Procedure A (break-glass restore from ftf_config_history):
  start-restore        --incident <id> --target <history id> --requested-by <@handle> --rationale "<one sentence>" [--dry-run]
  status               --incident <id> | --workflow-id <id>
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
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

function validate<S extends z.ZodType>(schema: S, value: unknown, subject: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(describeIssues(parsed.error, subject));
  return parsed.data;
}

function workflowIdOf(values: Values): string {
  if (values['workflow-id']) return values['workflow-id'];
  if (values.incident)
    return breakGlassRestoreWorkflowId(validate(incidentIdSchema, values.incident, '--incident'));
  throw new UsageError('name the run: --incident <id> (or --workflow-id <id>)');
}

function printStatus(status: BreakGlassRestoreStatus): void {
  const lines = [
    `${status.runbook} ${status.workflowId}  incident ${status.incidentId}`,
    `step:      ${status.step}${status.outcome ? `  (outcome: ${status.outcome})` : ''}`,
    `now:       ${status.currentDetails}`,
  ];
  const plan = status.detail.plan;
  if (plan) {
    lines.push(
      `plan:      restore history id ${plan.target.id} (${plan.target.version}) over live ${plan.live.version}: ` +
        `${plan.diff.changed} changed, ${plan.diff.added} added, ${plan.diff.removed} removed`,
      `planHash:  ${plan.planHash}`,
    );
    for (const change of plan.diff.changes.slice(0, 15)) {
      lines.push(`           ${change.key}: ${JSON.stringify(change.from)} -> ${JSON.stringify(change.to)}`);
    }
    if (plan.diff.changes.length > 15) lines.push(`           … ${plan.diff.changes.length - 15} more`);
  }
  if (status.detail.approval) lines.push(`approval:  ${status.detail.approval.line}`);
  if (status.detail.executesAt) lines.push(`executes:  ${status.detail.executesAt}`);
  for (const deadline of status.deadlines)
    lines.push(`deadline:  ${deadline.name} ${deadline.dueAt} (${deadline.state})`);
  for (const refused of status.refusedAttempts)
    lines.push(
      `refused:   ${refused.at} ${refused.signal} by ${refused.by ?? '?'}: ${refused.reason}: ${refused.detail}`,
    );
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
  let startInput: BreakGlassRestoreInput | undefined;
  if (command === 'start-restore') {
    const target =
      values.target === undefined
        ? undefined
        : /^\d+$/.test(values.target)
          ? Number(values.target)
          : values.target;
    startInput = validate(
      breakGlassRestoreInputSchema,
      {
        incidentId: values.incident,
        targetHistoryId: target,
        requestedBy: values['requested-by'],
        rationale: values.rationale,
        dryRun: values['dry-run'] ?? false,
      },
      'start-restore options (--incident, --target, --requested-by, --rationale)',
    );
  }

  const target = loadTemporalTarget();
  const connection = await connectClient(target);
  const client = new Client({ connection, namespace: target.namespace });
  const taskQueue = process.env.RUNBOOKS_TASK_QUEUE ?? DEFAULT_TASK_QUEUE;
  try {
    if (startInput) {
      const workflowId = breakGlassRestoreWorkflowId(startInput.incidentId);
      try {
        await client.workflow.start(BREAK_GLASS_RESTORE, { taskQueue, workflowId, args: [startInput] });
      } catch (error) {
        if (error instanceof WorkflowExecutionAlreadyStartedError) {
          throw new UsageError(
            `a break-glass restore for incident ${startInput.incidentId} already exists (${workflowId}); see: npm run cli -- status --incident ${startInput.incidentId}`,
          );
        }
        throw error;
      }
      process.stdout.write(
        `started ${workflowId} on task queue ${taskQueue}\nnext: npm run cli -- status --incident ${startInput.incidentId}\n`,
      );
      return;
    }

    const handle = client.workflow.getHandle(workflowIdOf(values));
    switch (command) {
      case 'status':
        printStatus((await handle.query(statusQuery)) as BreakGlassRestoreStatus);
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
