import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { incidentIdSchema } from '../common/break-glass';
import { handleSchema } from '../common/identity';
import { describeIssues } from '../common/validation';
import { DEFAULT_TASK_QUEUE } from '../worker/config';
import { connectClient, loadTemporalTarget } from '../worker/connection';
import { ConfigurationError } from '../common/errors';
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
import {
  PHASED_REENABLEMENT,
  pauseSignal,
  phasedReenablementInputSchema,
  phasedReenablementWorkflowId,
  resumeSignal,
} from '../workflows/phased-reenablement/definitions';
import {
  confirmRollbackSignal,
  rcaFiledSignal,
  ROLLBACK_TO_PILOT,
  rollbackToPilotInputSchema,
  rollbackToPilotWorkflowId,
} from '../workflows/rollback-to-pilot/definitions';
import { storyIdSchema } from '../common/names';
import {
  BACKSTOP_PROGRAM,
  backstopInputSchema,
  backstopWorkflowId,
  recordDecisionSignal,
} from '../workflows/backstop-program/definitions';
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

Rollback to pilot scope (RB-LAUNCH-002) and phased re-enablement:
  start-rollback           --incident <id> --severity P1|P2|P3|P4 --reason "..." --ic <@handle>
                           [--repos a,b,c] [--facts '<json>' | --facts @facts.json] [--dry-run]
  confirm-rollback         --incident <id> --by <@handle> --decision go|cancel [--note "..."]   (P2 after the triage hold)
  rca-filed                --incident <id> --by <@handle> --link <url>
  start-reenablement       --incident <id> --requested-by <@handle> --pilot <repo> --canary <repo> --phase2 a,b,c
                           [--remaining d,e,...] [--canary-hold 4h] [--phase2-hold 24h] [--batch-hold 24h]
  pause | resume           --incident <id> --by <@handle> [--reason "..."]                      (re-enablement)

Backstop T+30/60/90/120 of a merged story (seed 001 §6.bis):
  backstop start <program.json>   start the program (JSON: storyId, mergeSha, mergedAt, dri, openProject, github,
                                  consoleRestoreProbeUrl); one program per story (id backstop-<story>)
  backstop list                   programs, with their step
  backstop decide --story <id> --by <@handle> --decision self_review|waiver|revert|park --rationale "..."
  status --workflow-id backstop-<story>

Follow and drive a run (--procedure A|B|C|D|rollback|reenablement picks the run for an incident;
default A, or the runbook the command belongs to):
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
  severity: { type: 'string' },
  ic: { type: 'string' },
  repos: { type: 'string' },
  facts: { type: 'string' },
  decision: { type: 'string' },
  note: { type: 'string' },
  pilot: { type: 'string' },
  canary: { type: 'string' },
  phase2: { type: 'string' },
  remaining: { type: 'string' },
  'canary-hold': { type: 'string' },
  'phase2-hold': { type: 'string' },
  'batch-hold': { type: 'string' },
  story: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

function validate<S extends z.ZodType>(schema: S, value: unknown, subject: string): z.output<S> {
  if (value === undefined && subject.startsWith('--')) throw new UsageError(`${subject} is required`);
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(describeIssues(parsed.error, subject));
  return parsed.data;
}

const WORKFLOW_ID_FOR: Record<string, (incidentId: string) => string> = {
  A: breakGlassRestoreWorkflowId,
  B: breakGlassConsoleEditWorkflowId,
  C: breakGlassOverwriteRecoveryWorkflowId,
  D: breakGlassRebootstrapWorkflowId,
  ROLLBACK: rollbackToPilotWorkflowId,
  REENABLEMENT: phasedReenablementWorkflowId,
};

/** The runbook a command's signal belongs to, when it belongs to one. */
const DEFAULT_PROCEDURE: Record<string, string> = {
  'confirm-rollback': 'ROLLBACK',
  'rca-filed': 'ROLLBACK',
  pause: 'REENABLEMENT',
  resume: 'REENABLEMENT',
};

function workflowIdOf(values: Values, command: string): string {
  if (values['workflow-id']) return values['workflow-id'];
  if (values.incident) {
    const procedure = (values.procedure ?? DEFAULT_PROCEDURE[command] ?? 'A').toUpperCase();
    const idFor = WORKFLOW_ID_FOR[procedure];
    if (!idFor)
      throw new UsageError(
        `--procedure must be A, B, C, D, rollback or reenablement (got "${values.procedure}")`,
      );
    return idFor(validate(incidentIdSchema, values.incident, '--incident'));
  }
  throw new UsageError(
    'name the run: --incident <id> [--procedure A|B|C|D|rollback|reenablement] (or --workflow-id <id>)',
  );
}

/** "a,b , c" → ["a","b","c"]; undefined stays undefined (the schema's default applies). */
function list(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);
}

/** --facts '{"crashLoopMinutes": 20}' or --facts @file.json */
function facts(value: string | undefined): unknown {
  if (value === undefined) return undefined;
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = readFileSync(value.slice(1), 'utf8');
    } catch (error) {
      throw new UsageError(`--facts: cannot read ${value.slice(1)}: ${(error as Error).message}`);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`--facts: not valid JSON: ${(error as Error).message}`);
  }
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
    case 'start-rollback': {
      const input = validate(
        rollbackToPilotInputSchema,
        {
          incidentId: values.incident,
          severity: values.severity,
          reason: values.reason,
          incidentCommander: values.ic,
          affectedRepos: list(values.repos),
          facts: facts(values.facts),
          dryRun: values['dry-run'] ?? false,
        },
        'start-rollback options (--incident, --severity, --reason, --ic, --repos, --facts)',
      );
      return {
        workflowType: ROLLBACK_TO_PILOT,
        workflowId: rollbackToPilotWorkflowId(input.incidentId),
        args: [input],
        incidentId: input.incidentId,
        procedure: 'rollback',
      };
    }
    case 'start-reenablement': {
      const holdOverrides = Object.fromEntries(
        (
          [
            ['canaryHold', values['canary-hold']],
            ['phase2Hold', values['phase2-hold']],
            ['batchHold', values['batch-hold']],
          ] as const
        ).filter(([, hold]) => hold !== undefined),
      );
      const input = validate(
        phasedReenablementInputSchema,
        {
          incidentId: values.incident,
          requestedBy: values['requested-by'],
          pilotRepo: values.pilot,
          canaryRepo: values.canary,
          phase2Repos: list(values.phase2),
          remainingRepos: list(values.remaining),
          holdOverrides,
        },
        'start-reenablement options (--pilot, --canary, --phase2, --remaining, --*-hold)',
      );
      return {
        workflowType: PHASED_REENABLEMENT,
        workflowId: phasedReenablementWorkflowId(input.incidentId),
        args: [input],
        incidentId: input.incidentId,
        procedure: 'reenablement',
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

interface SignalRequest {
  name: string;
  payload: unknown;
}

const text = (subject: string, value: string | undefined): string =>
  validate(z.string().trim().min(1, 'is required'), value, subject);

/** The signal a command sends, its payload validated the way the workflow will. */
function signalRequest(command: string, values: Values): SignalRequest | undefined {
  const by = (): string => validate(handleSchema, values.by, '--by');
  switch (command) {
    case 'approve':
      return {
        name: approveSignal.name,
        payload: {
          approver: validate(handleSchema, values.approver, '--approver'),
          planHash: validate(
            z.string().regex(/^[0-9a-f]{64}$/, 'must be the 64-hex planHash from "status"'),
            values['plan-hash'],
            '--plan-hash',
          ),
          ...(values.rationale ? { rationale: values.rationale } : {}),
        },
      };
    case 'reject':
      return {
        name: rejectSignal.name,
        payload: {
          approver: validate(handleSchema, values.approver, '--approver'),
          reason: text('--reason', values.reason),
        },
      };
    case 'abort':
      return { name: abortSignal.name, payload: { by: by(), reason: text('--reason', values.reason) } };
    case 'check-reconciliation':
      return { name: checkReconciliationSignal.name, payload: {} };
    case 'post-mortem-filed':
      return { name: postMortemFiledSignal.name, payload: { by: by(), link: text('--link', values.link) } };
    case 'rca-filed':
      return { name: rcaFiledSignal.name, payload: { by: by(), link: text('--link', values.link) } };
    case 'confirm-rollback':
      return {
        name: confirmRollbackSignal.name,
        payload: {
          by: by(),
          decision: validate(z.enum(['go', 'cancel']), values.decision, '--decision'),
          ...(values.note ? { note: values.note } : {}),
        },
      };
    case 'pause':
    case 'resume':
      return {
        name: command === 'pause' ? pauseSignal.name : resumeSignal.name,
        payload: { by: by(), ...(values.reason ? { reason: values.reason } : {}) },
      };
    default:
      return undefined;
  }
}

interface AnyPlan {
  planHash?: string;
  current?: string[];
  next?: string[];
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
  if (plan?.next && plan.current)
    lines.push(`plan:      allowlist ${plan.current.join(',')} -> ${plan.next.join(',')}`);
  if (plan?.planHash) lines.push(`planHash:  ${plan.planHash}`);
  if (typeof detail.phase === 'string' && Array.isArray(detail.reposLive))
    lines.push(`phase:     ${detail.phase}; live: ${(detail.reposLive as string[]).join(',')}`);
  const next = detail.nextAction as { what: string; at: string } | undefined;
  if (next) lines.push(`next:      ${next.what} at ${next.at}`);
  const paused = detail.paused as { by: string; reason: string; since: string } | undefined;
  if (paused)
    lines.push(`PAUSED:    since ${paused.since} by ${paused.by}: ${paused.reason} (send "resume")`);
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
    'backstop',
    'start-restore',
    'start-console-edit',
    'start-overwrite-recovery',
    'start-rebootstrap',
    'start-drill',
    'schedule-drill',
    'start-rollback',
    'confirm-rollback',
    'rca-filed',
    'start-reenablement',
    'pause',
    'resume',
    'status',
    'approve',
    'reject',
    'abort',
    'check-reconciliation',
    'post-mortem-filed',
    'result',
  ];
  const isBackstop = command === 'backstop';
  if (!known.includes(command)) throw new UsageError(`unknown command "${command}"`);

  // Validate before connecting: a typo never reaches Temporal.
  const backstop = isBackstop ? backstopRequest(positionals.slice(1), values) : undefined;
  const start = backstop ? backstop.start : startRequest(command, values);
  const signal = backstop ? backstop.signal : signalRequest(command, values);
  const workflowId = backstop
    ? backstop.workflowId
    : start || command === 'schedule-drill'
      ? undefined
      : workflowIdOf(values, command);

  const target = loadTemporalTarget();
  const connection = await connectClient(target);
  const client = new Client({ connection, namespace: target.namespace });
  const taskQueue = process.env.RUNBOOKS_TASK_QUEUE ?? DEFAULT_TASK_QUEUE;
  try {
    if (isBackstop && !start && !signal) return await listBackstops(client);
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

    const handle = client.workflow.getHandle(workflowId!);
    if (command === 'status') {
      printStatus((await handle.query(statusQuery)) as RunbookStatus<Record<string, unknown>>);
      return;
    }
    if (command === 'result') {
      process.stdout.write(`${JSON.stringify(await handle.result(), null, 2)}\n`);
      return;
    }
    await handle.signal(signal!.name, signal!.payload);
    process.stdout.write(
      `sent "${signal!.name}" to ${handle.workflowId}; the decision is in: npm run cli -- status --workflow-id ${handle.workflowId}\n`,
    );
  } catch (error) {
    if (error instanceof WorkflowNotFoundError)
      throw new UsageError(`no such run: ${error.workflowId ?? ''}`);
    throw error;
  } finally {
    await connection.close();
  }
}

/** `backstop start <file> | list | decide …` as the same start / signal requests as the other commands. */
function backstopRequest(
  args: string[],
  values: Values,
): { start?: StartRequest; signal?: SignalRequest; workflowId?: string } {
  const sub = args[0];
  if (sub === 'list') return {};
  if (sub === 'start') {
    if (!args[1]) throw new UsageError('backstop start <program.json>');
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(args[1], 'utf8')) as unknown;
    } catch (error) {
      throw new UsageError(`${args[1]}: ${(error as Error).message}`);
    }
    const input = validate(backstopInputSchema, raw, args[1]);
    return {
      start: { workflowType: BACKSTOP_PROGRAM, workflowId: backstopWorkflowId(input.storyId), args: [input] },
    };
  }
  if (sub === 'decide') {
    const story = validate(storyIdSchema, values.story, '--story');
    return {
      workflowId: backstopWorkflowId(story),
      signal: {
        name: recordDecisionSignal.name,
        payload: {
          by: validate(handleSchema, values.by, '--by'),
          decision: validate(
            z.enum(['self_review', 'waiver', 'revert', 'park']),
            values.decision,
            '--decision',
          ),
          rationale: text('--rationale', values.rationale),
        },
      },
    };
  }
  throw new UsageError('backstop start <file> | backstop list | backstop decide …');
}

async function listBackstops(client: Client): Promise<void> {
  const lines: string[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowType = '${BACKSTOP_PROGRAM}'` })) {
    const step = execution.searchAttributes?.RunbookStep?.[0];
    lines.push(
      `${execution.workflowId}  ${execution.status.name}  started ${execution.startTime.toISOString()}${step ? `  step ${String(step)}` : ''}`,
    );
  }
  process.stdout.write(lines.length ? `${lines.join('\n')}\n` : 'no backstop programs\n');
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
