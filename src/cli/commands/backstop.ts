import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { handleSchema } from '../../common/identity';
import { storyIdSchema } from '../../common/names';
import {
  BACKSTOP_PROGRAM,
  backstopInputSchema,
  backstopStartOptions,
  backstopWorkflowId,
  recordDecisionSignal,
} from '../../workflows/backstop-program/definitions';
import { requiredText, UsageError, validateFlag, validateOptions } from '../args';
import type { Command } from '../command';
import { listRuns } from './runs';
import { sendDecision, startRun } from './helpers';

/** Seed 001 §6.bis: `backstop start <file> | list | decide …`. */

function readProgram(file: string | undefined): unknown {
  if (!file) throw new UsageError('backstop start <program.json>');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
}

export const backstopCommands: Command[] = [
  {
    name: 'backstop',
    group: 'Backstop T+30/60/90/120 of a merged story (seed 001 §6.bis)',
    usage: [
      'start <program.json> [--dry-run]   start the program; one per story (id backstop-<story>); the JSON has',
      '                                    storyId, mergeSha, mergedAt; the story (DRI, trackers, probe) is declared',
      '                                    in the worker policy under runbooks.backstop.stories; --dry-run: print the',
      '                                    checkpoints, what they read and how a revert runs, claim and send nothing',
      '  backstop list                     programs, with their step',
      '  backstop decide --story <id> --by <@handle> --decision self_review|waiver|revert|park --rationale "..."',
    ].join('\n'),
    prepare(values, positionals) {
      const sub = positionals[0];
      if (sub === 'list') return listRuns({ runbook: BACKSTOP_PROGRAM, empty: 'no backstop programs' });
      if (sub === 'start') {
        const file = positionals[1];
        const program = readProgram(file);
        const input = validateOptions(
          backstopInputSchema,
          values['dry-run'] && program && typeof program === 'object'
            ? { ...program, dryRun: true }
            : program,
          `backstop start ${file}`,
          { dryRun: '--dry-run' },
        );
        return startRun({
          workflowType: BACKSTOP_PROGRAM,
          workflowId: backstopWorkflowId(input.storyId),
          args: [input],
          follow: `--workflow-id ${backstopWorkflowId(input.storyId)}`,
          startOptions: backstopStartOptions(input),
        });
      }
      if (sub === 'decide') {
        const story = validateFlag(storyIdSchema, values.story, '--story');
        return sendDecision(
          { workflowId: backstopWorkflowId(story) },
          recordDecisionSignal.name,
          {
            by: validateFlag(handleSchema, values.by, '--by'),
            decision: validateFlag(
              z.enum(['self_review', 'waiver', 'revert', 'park']),
              values.decision,
              '--decision',
            ),
            rationale: requiredText('--rationale', values.rationale),
          },
          values,
        );
      }
      throw new UsageError('backstop start <file> | backstop list | backstop decide …');
    },
  },
];
