import {
  BREAK_GLASS_CONSOLE_EDIT,
  breakGlassConsoleEditInputSchema,
  breakGlassConsoleEditWorkflowId,
} from '../../workflows/break-glass-console-edit/definitions';
import {
  BREAK_GLASS_DRILL,
  BREAK_GLASS_DRILL_SCHEDULE_ID,
  breakGlassDrillInputSchema,
} from '../../workflows/break-glass-drill/definitions';
import {
  BREAK_GLASS_OVERWRITE_RECOVERY,
  breakGlassOverwriteRecoveryInputSchema,
  breakGlassOverwriteRecoveryWorkflowId,
} from '../../workflows/break-glass-overwrite-recovery/definitions';
import {
  BREAK_GLASS_REBOOTSTRAP,
  breakGlassRebootstrapInputSchema,
  breakGlassRebootstrapWorkflowId,
} from '../../workflows/break-glass-rebootstrap/definitions';
import {
  BREAK_GLASS_RESTORE,
  breakGlassRestoreInputSchema,
  breakGlassRestoreWorkflowId,
  checkReconciliationSignal,
  postMortemFiledSignal,
} from '../../workflows/break-glass-restore/definitions';
import { requiredText, validateFlag, validateOptions, type Values } from '../args';
import type { Command } from '../command';
import { runRef } from '../runs';
import { ensureDrillSchedule } from '../schedule';
import { handleSchema } from '../../common/identity';
import { printed, sendDecision, startRun } from './helpers';

/** Seed 000: Procedures A–D, the drill and its Schedule, and the obligations' messages. */

const GROUP = 'Start a break-glass procedure (seed 000)';

const COMMON_FLAGS = {
  incidentId: '--incident',
  requestedBy: '--requested-by',
  rationale: '--rationale',
  dryRun: '--dry-run',
};

function common(values: Values) {
  return {
    incidentId: values.incident,
    requestedBy: values['requested-by'],
    rationale: values.rationale,
    dryRun: values['dry-run'] ?? false,
  };
}

function follow(incidentId: string, procedure: string): string {
  return `--incident ${incidentId} --procedure ${procedure}`;
}

export const breakGlassCommands: Command[] = [
  {
    name: 'start-restore',
    group: GROUP,
    usage:
      'A: --incident <id> --target <history id> --requested-by <@handle> --rationale "<one sentence>" [--dry-run]',
    prepare(values) {
      const target =
        values.target === undefined
          ? undefined
          : /^\d+$/.test(values.target)
            ? Number(values.target)
            : values.target;
      const input = validateOptions(
        breakGlassRestoreInputSchema,
        { ...common(values), targetHistoryId: target },
        'start-restore',
        {
          ...COMMON_FLAGS,
          targetHistoryId: '--target',
        },
      );
      return startRun({
        workflowType: BREAK_GLASS_RESTORE,
        workflowId: breakGlassRestoreWorkflowId(input.incidentId),
        args: [input],
        follow: follow(input.incidentId, 'A'),
      });
    },
  },
  {
    name: 'start-console-edit',
    group: GROUP,
    usage:
      'B: --incident <id> --model XGB|LGB|CB --timeframe 1M|5M|15M|30M|1H --param <PARAM> --value <v>\n' +
      '                              --requested-by <@handle> --rationale "..." --urgency "why it cannot wait" [--dry-run]',
    prepare(values) {
      const input = validateOptions(
        breakGlassConsoleEditInputSchema,
        {
          ...common(values),
          model: values.model,
          timeframe: values.timeframe,
          param: values.param,
          newValue: values.value,
          ...(values.urgency !== undefined ? { urgency: values.urgency } : {}),
        },
        'start-console-edit',
        {
          ...COMMON_FLAGS,
          model: '--model',
          timeframe: '--timeframe',
          param: '--param',
          newValue: '--value',
          urgency: '--urgency',
        },
      );
      return startRun({
        workflowType: BREAK_GLASS_CONSOLE_EDIT,
        workflowId: breakGlassConsoleEditWorkflowId(input.incidentId),
        args: [input],
        follow: follow(input.incidentId, 'B'),
      });
    },
  },
  {
    name: 'start-overwrite-recovery',
    group: GROUP,
    usage: 'C: --incident <id> --requested-by <@handle> --rationale "..." [--dry-run]',
    prepare(values) {
      const input = validateOptions(
        breakGlassOverwriteRecoveryInputSchema,
        common(values),
        'start-overwrite-recovery',
        COMMON_FLAGS,
      );
      return startRun({
        workflowType: BREAK_GLASS_OVERWRITE_RECOVERY,
        workflowId: breakGlassOverwriteRecoveryWorkflowId(input.incidentId),
        args: [input],
        follow: follow(input.incidentId, 'C'),
      });
    },
  },
  {
    name: 'start-rebootstrap',
    group: GROUP,
    usage: 'D: --incident <id> --requested-by <@handle> --rationale "..." [--dry-run]',
    prepare(values) {
      const input = validateOptions(
        breakGlassRebootstrapInputSchema,
        common(values),
        'start-rebootstrap',
        COMMON_FLAGS,
      );
      return startRun({
        workflowType: BREAK_GLASS_REBOOTSTRAP,
        workflowId: breakGlassRebootstrapWorkflowId(input.incidentId),
        args: [input],
        follow: follow(input.incidentId, 'D'),
      });
    },
  },
  {
    name: 'start-drill',
    group: GROUP,
    usage: 'the drill on the staging copy now [--requested-by <@handle>]',
    prepare(values) {
      const input = validateOptions(
        breakGlassDrillInputSchema,
        values['requested-by'] ? { requestedBy: values['requested-by'] } : {},
        'start-drill',
        { requestedBy: '--requested-by' },
      );
      const workflowId = `break-glass-drill-manual-${Date.now()}`;
      return startRun({
        workflowType: BREAK_GLASS_DRILL,
        workflowId,
        args: [input],
        follow: `--workflow-id ${workflowId}`,
      });
    },
  },
  {
    name: 'schedule-drill',
    group: GROUP,
    usage: 'create (or fix) the Schedule running the drill every 30 days',
    prepare:
      () =>
      async ({ client, taskQueue }) => {
        const state = await ensureDrillSchedule(client, taskQueue);
        return printed(
          { schedule: BREAK_GLASS_DRILL_SCHEDULE_ID, state, taskQueue },
          `Schedule ${BREAK_GLASS_DRILL_SCHEDULE_ID}: ${state} (every 30 days, workflow ${BREAK_GLASS_DRILL} on ${taskQueue})\n` +
            `list: temporal schedule list · pause: temporal schedule toggle --schedule-id ${BREAK_GLASS_DRILL_SCHEDULE_ID} --pause --reason "…" · ` +
            `run now: temporal schedule trigger --schedule-id ${BREAK_GLASS_DRILL_SCHEDULE_ID}`,
        );
      },
  },
  {
    name: 'check-reconciliation',
    group: 'Follow and drive a run',
    usage: '--incident <id> [--procedure A|B|D]   look for the reconciling Console write now',
    prepare: (values) => sendDecision(runRef(values), checkReconciliationSignal.name, {}, values),
  },
  {
    name: 'post-mortem-filed',
    group: 'Follow and drive a run',
    usage: '--incident <id> --by <@handle> --link <url>',
    prepare: (values) =>
      sendDecision(
        runRef(values),
        postMortemFiledSignal.name,
        {
          by: validateFlag(handleSchema, values.by, '--by'),
          link: requiredText('--link', values.link),
        },
        values,
      ),
  },
];
