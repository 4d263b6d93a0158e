import { z } from 'zod';
import { handleSchema } from '../../common/identity';
import {
  confirmRollbackSignal,
  rcaFiledSignal,
  ROLLBACK_DRILL_SCHEDULE_ID,
  ROLLBACK_TO_PILOT,
  rollbackToPilotInputSchema,
  rollbackToPilotWorkflowId,
} from '../../workflows/rollback-to-pilot/definitions';
import { jsonOption, list, requiredText, validateFlag, validateOptions } from '../args';
import type { Command } from '../command';
import { runRef } from '../runs';
import { printed, sendDecision, startRun } from './helpers';
import { ensureRollbackDrillSchedule } from '../schedule';

/** RB-LAUNCH-002 (seed 002): rollback to pilot scope. */

const GROUP = 'Rollback to pilot scope (RB-LAUNCH-002) and phased re-enablement';

export const rollbackCommands: Command[] = [
  {
    name: 'schedule-rollback-drill',
    group: GROUP,
    usage: 'create (or fix) the Schedule running the rollback drill (dry run, < 20 min) every 13 weeks',
    prepare:
      () =>
      async ({ client, taskQueue }) => {
        const state = await ensureRollbackDrillSchedule(client, taskQueue);
        return printed(
          { schedule: ROLLBACK_DRILL_SCHEDULE_ID, state, taskQueue },
          `Schedule ${ROLLBACK_DRILL_SCHEDULE_ID}: ${state} (every 13 weeks, workflow ${ROLLBACK_TO_PILOT} as a dry-run drill on ${taskQueue})\n` +
            `run now: temporal schedule trigger --schedule-id ${ROLLBACK_DRILL_SCHEDULE_ID}`,
        );
      },
  },
  {
    name: 'start-rollback',
    group: GROUP,
    usage:
      '--incident <id> --severity P1|P2|P3|P4 --reason "..." --ic <@handle>\n' +
      "                           [--repos a,b,c] [--facts '<json>' | --facts @facts.json] [--dry-run]",
    prepare(values) {
      const input = validateOptions(
        rollbackToPilotInputSchema,
        {
          incidentId: values.incident,
          severity: values.severity,
          reason: values.reason,
          incidentCommander: values.ic,
          affectedRepos: list(values.repos),
          facts: jsonOption('--facts', values.facts),
          dryRun: values['dry-run'] ?? false,
        },
        'start-rollback',
        {
          incidentId: '--incident',
          severity: '--severity',
          reason: '--reason',
          incidentCommander: '--ic',
          affectedRepos: '--repos',
          facts: '--facts',
          dryRun: '--dry-run',
        },
      );
      return startRun({
        workflowType: ROLLBACK_TO_PILOT,
        workflowId: rollbackToPilotWorkflowId(input.incidentId),
        args: [input],
        follow: `--incident ${input.incidentId} --procedure rollback`,
      });
    },
  },
  {
    name: 'confirm-rollback',
    group: GROUP,
    usage: '--incident <id> --by <@handle> --decision go|cancel [--note "..."]   (P2 after the triage hold)',
    prepare: (values) =>
      sendDecision(
        runRef(values, 'rollback'),
        confirmRollbackSignal.name,
        {
          by: validateFlag(handleSchema, values.by, '--by'),
          decision: validateFlag(z.enum(['go', 'cancel']), values.decision, '--decision'),
          ...(values.note ? { note: values.note } : {}),
        },
        values,
      ),
  },
  {
    name: 'rca-filed',
    group: GROUP,
    usage: '--incident <id> --by <@handle> --link <url>',
    prepare: (values) =>
      sendDecision(
        runRef(values, 'rollback'),
        rcaFiledSignal.name,
        {
          by: validateFlag(handleSchema, values.by, '--by'),
          link: requiredText('--link', values.link),
        },
        values,
      ),
  },
];
