import type { WorkflowHandle } from '@temporalio/client';
import { handleSchema } from '../../common/identity';
import {
  INCIDENT,
  acknowledgeMessage,
  assignRoleMessage,
  breachNotifiedMessage,
  changeSeverityMessage,
  checklistMessage,
  declareBreachMessage,
  fileReviewMessage,
  incidentSchemas,
  incidentWorkflowId,
  postUpdateMessage,
  resolveMessage,
  startRunbookMessage,
} from '../../workflows/incident/definitions';
import {
  FREEZE_LIFT,
  freezeLiftInputSchema,
  freezeLiftWorkflowId,
  approveSignal,
  type FreezeLiftResult,
  type FreezeLiftStatus,
} from '../../workflows/freeze-lift/definitions';
import type { freezeLift } from '../../workflows';
import { jsonOption, list, UsageError, validateFlag, validateOptions, type Values } from '../args';
import type { Command, Prepared } from '../command';
import { runRef } from '../runs';
import { answerWaitSeconds, printed, sendDecision, startRun, type CommandContext } from './helpers';
import { signedPayload } from '../sign';

/** The incident itself (seed 004): declare it, then update, re-grade, resolve and file the review. */

const GROUP = 'Incident (seed 004: severity ladder, first 10 minutes, freeze, review)';

/** A message to the incident: `--by` plus the fields named (flag → payload field). */
function incidentMessage(
  name: string,
  usage: string,
  messageName: string,
  fields: Record<string, string>,
): Command {
  return {
    name,
    group: GROUP,
    usage: `--incident <id> --by <@handle> ${usage}`,
    prepare: (values: Values) => {
      const payload: Record<string, unknown> = { by: validateFlag(handleSchema, values.by, '--by') };
      for (const [flag, field] of Object.entries(fields)) {
        const value = values[flag as keyof Values];
        if (value !== undefined) payload[field] = value;
      }
      return sendDecision(runRef(values, 'incident'), messageName, payload, values);
    },
  };
}

export const incidentCommands: Command[] = [
  {
    name: 'declare-incident',
    group: GROUP,
    usage:
      '--incident <id> --severity P0|P1|P2|P3 --symptoms "..." --impact "..." --ic <@handle>\n' +
      '                           --requested-by <@handle> [--conditions app_down,db_down,...] [--customers-affected] [--environment production]\n' +
      '                           [--dry-run]   (who would be paged, what frozen, kept and posted; nothing sent)',
    prepare(values) {
      const input = validateOptions(
        incidentSchemas().input,
        {
          incidentId: values.incident,
          severity: values.severity,
          symptoms: values.symptoms,
          impact: values.impact,
          incidentCommander: values.ic,
          declaredBy: values['requested-by'],
          conditions: list(values.conditions),
          customersAffected: values['customers-affected'] === true,
          ...(values.environment ? { environment: values.environment } : {}),
          ...(values['dry-run'] ? { dryRun: true } : {}),
        },
        'declare-incident',
        {
          incidentId: '--incident',
          severity: '--severity',
          symptoms: '--symptoms',
          impact: '--impact',
          incidentCommander: '--ic',
          declaredBy: '--requested-by',
          conditions: '--conditions',
          environment: '--environment',
          dryRun: '--dry-run',
        },
      );
      return startRun({
        workflowType: INCIDENT,
        workflowId: incidentWorkflowId(input.incidentId),
        args: [input],
        follow: `--incident ${input.incidentId} --procedure incident`,
      });
    },
  },
  incidentMessage('incident-ack', '(P0: take command)', acknowledgeMessage.update.name, {}),
  incidentMessage('incident-update', '--text "..."', postUpdateMessage.update.name, { text: 'text' }),
  incidentMessage(
    'incident-severity',
    '--severity P0|P1|P2|P3 --reason "..."',
    changeSeverityMessage.update.name,
    {
      severity: 'severity',
      reason: 'reason',
    },
  ),
  incidentMessage(
    'incident-checklist',
    '--item stop_the_bleeding|freeze|preserve|communicate [--note "..."]',
    checklistMessage.update.name,
    { item: 'item', note: 'note' },
  ),
  incidentMessage(
    'incident-role',
    '--role incident_commander|ops_lead|comms_lead|scribe --handle <@handle>',
    assignRoleMessage.update.name,
    { role: 'role', handle: 'handle' },
  ),
  incidentMessage(
    'incident-breach',
    '--scope "..." [--aware-since <UTC>]',
    declareBreachMessage.update.name,
    {
      scope: 'scope',
      'aware-since': 'awareSince',
    },
  ),
  incidentMessage('incident-breach-notified', '--reference "..."', breachNotifiedMessage.update.name, {
    reference: 'reference',
  }),
  {
    name: 'incident-start-runbook',
    group: GROUP,
    usage:
      "--incident <id> --by <@handle> --runbook rollbackToPilot|breakGlassRestore|... --runbook-input '{json}'|@file.json",
    prepare: (values: Values) =>
      sendDecision(
        runRef(values, 'incident'),
        startRunbookMessage.update.name,
        {
          by: validateFlag(handleSchema, values.by, '--by'),
          runbook: values.runbook,
          input: jsonOption('--runbook-input', values['runbook-input']) ?? {},
        },
        values,
      ),
  },
  incidentMessage('resolve-incident', '--summary "..."', resolveMessage.update.name, { summary: 'summary' }),
  incidentMessage('incident-review-filed', '--link <url>', fileReviewMessage.update.name, {
    link: 'documentUrl',
  }),
  {
    name: 'lift-freeze',
    group: GROUP,
    usage:
      '--incident <id> --by <@handle> --reason "..." [--environment <env>] [--sign-key <ssh key file>] [--dry-run]\n' +
      "                           (when the incident's run cannot: cancelled, failed, or its lift skipped;\n" +
      '                           --sign-key: approve it at once as --by where the policy requires signed lifts;\n' +
      '                           --dry-run: say which freezes it would lift, lift nothing)',
    prepare(values) {
      const input = validateOptions(
        freezeLiftInputSchema(),
        {
          incidentId: values.incident,
          requestedBy: values.by,
          reason: values.reason,
          ...(values.environment !== undefined ? { environment: values.environment } : {}),
          ...(values['dry-run'] ? { dryRun: true } : {}),
        },
        'lift-freeze',
        {
          incidentId: '--incident',
          requestedBy: '--by',
          reason: '--reason',
          environment: '--environment',
          dryRun: '--dry-run',
        },
      );
      if (input.dryRun && values['sign-key'])
        throw new UsageError(
          'lift-freeze: --dry-run lifts nothing, so there is nothing to sign (drop --sign-key)',
        );
      const start = startRun({
        workflowType: FREEZE_LIFT,
        workflowId: freezeLiftWorkflowId(input.incidentId),
        args: [input],
        follow: `--incident ${input.incidentId} --procedure freeze-lift`,
      });
      const keyFile = values['sign-key'];
      return keyFile
        ? startAndSign(start, freezeLiftWorkflowId(input.incidentId), input.requestedBy, keyFile, values)
        : start;
    },
  },
];

/**
 * Starts the lift, waits (`--wait`, 30 s) until it asks for a signed approval, and approves it as
 * `approver` with `keyFile`: one command for a responder lifting a freeze under
 * requireSignedFreezeLifts. A lift that ends without asking (refused, not frozen, or a policy
 * without signed lifts) is reported as it ended.
 */
function startAndSign(
  start: Prepared,
  workflowId: string,
  approver: string,
  keyFile: string,
  values: Values,
): Prepared {
  const waitSeconds = answerWaitSeconds(values);
  return async (ctx) => {
    const started = await start(ctx);
    const handle = ctx.client.workflow.getHandle<typeof freezeLift>(workflowId);
    const reached = await gateOrEnd(ctx.client, handle, waitSeconds);
    if (!reached)
      return printed(
        started.json,
        `${started.text}\nthe lift did not ask for a signed approval within ${waitSeconds} s (is its worker running?); ` +
          `approve it later with: npm run cli -- approve --workflow-id ${workflowId} --approver ${approver} --plan-hash <hash> --sign-key ${keyFile}`,
        3,
      );
    if ('result' in reached) {
      const { outcome, message } = reached.result;
      return printed(
        { ...(started.json as object), outcome, message },
        `${started.text}\nended without asking for a signature: ${outcome}: ${message}`,
        outcome === 'lifted' ? 0 : 1,
      );
    }
    const approval = { approver, planHash: reached.planHash };
    const decided = await sendDecision(
      { workflowId },
      approveSignal.name,
      approval,
      values,
      signedPayload(keyFile, approval),
    )(ctx);
    return printed(
      { ...(started.json as object), approval: decided.json },
      `${started.text}\n${decided.text}`,
      decided.exitCode,
    );
  };
}

/** The lift's gate (its planHash) or its end, whichever comes first; undefined after `waitSeconds`. */
async function gateOrEnd(
  client: CommandContext['client'],
  handle: WorkflowHandle<typeof freezeLift>,
  waitSeconds: number,
): Promise<{ planHash: string } | { result: FreezeLiftResult } | undefined> {
  // One deadline for every call (a query to a run without a worker waits for one).
  const patience = new AbortController();
  const timer = setTimeout(() => patience.abort(), waitSeconds * 1_000);
  try {
    return await client.connection.withAbortSignal(patience.signal, async () => {
      for (;;) {
        const { status } = await handle.describe();
        if (status.name !== 'RUNNING') return { result: await handle.result() };
        const shown = await handle.query<FreezeLiftStatus>('status');
        if (shown.approval?.state === 'waiting') return { planHash: shown.approval.planHash };
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    });
  } catch (error) {
    if (patience.signal.aborted) return undefined;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
