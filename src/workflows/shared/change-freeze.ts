import { patched, proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { utcIso } from '../../common/duration';
import { normalizeHandle } from '../../common/identity';
import type { FreezeOverride } from './freeze-override';
import { databaseRead } from '../activity-options';
import type { FailSafe } from './fail-safe';
import { PATCHES } from './patches';
import type { RunRecord } from './run-record';

const { checkChangeFreeze } = proxyActivities<RunbookActivities>(databaseRead);

/**
 * Before a mutating runbook's gate: the freezes in force on the environment it acts on. Without an
 * override a freeze ends the run refused (returned: why, and how to cross it); with one the
 * crossing is recorded and the run goes on. A check that fails for good waits for a human (retry
 * or abort: acting blind on a possibly frozen environment is not an option).
 */
export async function refusedByChangeFreeze(args: {
  record: RunRecord<unknown>;
  failSafe: FailSafe;
  override: FreezeOverride | undefined;
}): Promise<string | undefined> {
  if (!patched(PATCHES.changeFreezeChecked)) return undefined;
  const { record, failSafe, override } = args;
  const { runbook, incidentId, workflowId, runId } = record.status;
  const previous = record.status.step;
  record.enterStep('check_change_freeze', 'reading the change freezes in force (seed 004 §1.3)');
  const checked = await failSafe.step(
    { name: 'check_change_freeze', what: 'read the change freezes in force' },
    () =>
      checkChangeFreeze({
        runbook,
        incidentId,
        workflowId,
        runId,
        at: utcIso(Date.now()),
        ...(override
          ? { override: { by: `@${normalizeHandle(override.by)}`, reason: override.reason } }
          : {}),
      }),
  );
  if (checked.kind !== 'done')
    return `aborted by ${checked.by} while the change freezes could not be read${checked.reason ? `: ${checked.reason}` : ''}; nothing was changed`;
  const check = checked.value;
  record.noteStep(check.frozen ? `${check.environment} frozen` : `${check.environment} not frozen`);
  record.enterStep(previous, record.status.currentDetails);
  if (!check.frozen) return undefined;
  const freezes = check.freezes
    .map((freeze) => `incident ${freeze.incidentId} since ${freeze.frozenAt} (${freeze.frozenBy})`)
    .join('; ');
  if (check.crossed && override) {
    record.flag(
      'change_freeze_crossed',
      `${check.environment} is frozen by ${freezes}: crossed by @${normalizeHandle(override.by)}: ${override.reason}`,
    );
    return undefined;
  }
  return `${check.environment} is under a change freeze (${freezes}): no change until the incident is green (seed 004 §1.3). Nothing was changed. To act anyway, start again with "freezeOverride": {"by": "@you", "reason": "why this cannot wait"}`;
}
