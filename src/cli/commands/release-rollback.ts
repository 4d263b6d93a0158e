import {
  RELEASE_ROLLBACK,
  releaseRollbackInputSchema,
  releaseRollbackWorkflowId,
} from '../../workflows/release-rollback/definitions';
import { validateOptions } from '../args';
import type { Command } from '../command';
import { startRun } from './helpers';

/** Seed 001 §5: the binary-layer rollback of a merge. */
export const releaseRollbackCommands: Command[] = [
  {
    name: 'start-release-rollback',
    group: 'Release rollback of a merge (seed 001 §5: helm tag pin < 5 min, else merge revert < 30 min)',
    usage:
      '--story <id> --sha <merge sha> --by <@handle> --reason "..." [--incident <id>]\n' +
      '                           [--mechanism helm_pin_then_merge_revert|merge_revert] [--pin-tag <tag>] [--dry-run]',
    prepare(values) {
      const input = validateOptions(
        releaseRollbackInputSchema(),
        {
          storyId: values.story,
          mergeSha: values.sha,
          requestedBy: values.by,
          reason: values.reason,
          ...(values.incident !== undefined ? { incidentId: values.incident } : {}),
          ...(values.mechanism !== undefined ? { mechanism: values.mechanism } : {}),
          ...(values['pin-tag'] !== undefined ? { pinTag: values['pin-tag'] } : {}),
          ...(values['dry-run'] ? { dryRun: true } : {}),
        },
        'start-release-rollback',
        {
          storyId: '--story',
          mergeSha: '--sha',
          requestedBy: '--by',
          reason: '--reason',
          incidentId: '--incident',
          mechanism: '--mechanism',
          pinTag: '--pin-tag',
          dryRun: '--dry-run',
        },
      );
      const workflowId = releaseRollbackWorkflowId(input.storyId, input.mergeSha);
      return startRun({
        workflowType: RELEASE_ROLLBACK,
        workflowId,
        args: [input],
        follow: `--workflow-id ${workflowId}`,
      });
    },
  },
];
