import { proxyActivities } from '@temporalio/workflow';
import type { CheckChangeFreezeInput, FreezeCheck, RunbookActivities } from '../../activities';
import { utcIso } from '../../common/duration';
import { normalizeHandle } from '../../common/identity';
import type { FreezeOverride } from './freeze-override';
import { databaseRead } from '../activity-options';
import type { FailSafe, StepOutcome } from './fail-safe';
import { isPatched, PATCHES } from './patches';
import type { RunRecord } from './run-record';

const { checkChangeFreeze } = proxyActivities<RunbookActivities>(databaseRead);

/**
 * Before a mutating runbook's gate: the freezes in force on the environment it acts on. Without an
 * override a freeze ends the run refused (returned: why, and how to cross it); with one the
 * crossing is recorded and the run goes on. A check that fails for good waits for a human (retry
 * or abort: acting blind on a possibly frozen environment is not an option); an abort there is
 * returned as such, for the run to end aborted.
 */
export async function refusedByChangeFreeze(args: {
  record: RunRecord<unknown>;
  failSafe: FailSafe;
  override: FreezeOverride | undefined;
  /** The check made with the policy read at the run's opening, if it was (used instead of reading again). */
  checkedAhead?: FreezeCheck | undefined;
  /** Told which incidents' freezes the override crossed (a long run checks again later). */
  onCrossed?: (incidentIds: string[]) => void;
}): Promise<{ kind: 'refused' | 'aborted'; message: string } | undefined> {
  if (!isPatched(PATCHES.changeFreezeChecked)) return undefined;
  const { record, override } = args;
  const checked = await readChangeFreezes(args.record, args.failSafe, override, args.checkedAhead);
  if (checked.kind !== 'done')
    return {
      // Before the patch such a run ended refused_change_freeze though no freeze refused it.
      kind: isPatched(PATCHES.freezeCheckAbortIsAborted) ? 'aborted' : 'refused',
      message: `aborted by ${checked.by} while the change freezes could not be read${checked.reason ? `: ${checked.reason}` : ''}; nothing was changed`,
    };
  const check = checked.value;
  if (!check.frozen) return undefined;
  const freezes = describeFreezes(check.freezes);
  if (check.crossed && override) {
    record.flag(
      'change_freeze_crossed',
      `${check.environment} is frozen by ${freezes}: crossed by @${normalizeHandle(override.by)}: ${override.reason}`,
    );
    args.onCrossed?.(check.freezes.map((freeze) => freeze.incidentId));
    return undefined;
  }
  return {
    kind: 'refused',
    message: `${check.environment} is under a change freeze (${freezes}): no change until the incident is green (seed 004 §1.3). Nothing was changed. To act anyway, start again with "freezeOverride": {"by": "@you", "reason": "why this cannot wait"}`,
  };
}

/**
 * A long run's later check (before each change it makes): the freezes in force now that it did
 * not cross at its start, described; 'clear' when there are none.
 */
export async function freezeNotCrossed(args: {
  record: RunRecord<unknown>;
  failSafe: FailSafe;
  crossed: readonly string[];
}): Promise<
  { kind: 'clear' } | { kind: 'frozen'; text: string } | { kind: 'aborted'; by: string; reason?: string }
> {
  const checked = await readChangeFreezes(args.record, args.failSafe, undefined);
  if (checked.kind !== 'done')
    return { kind: 'aborted', by: checked.by, ...(checked.reason ? { reason: checked.reason } : {}) };
  const check = checked.value;
  const fresh = check.frozen
    ? check.freezes.filter((freeze) => !args.crossed.includes(freeze.incidentId))
    : [];
  return fresh.length
    ? { kind: 'frozen', text: `${check.environment} is frozen by ${describeFreezes(fresh)}` }
    : { kind: 'clear' };
}

/** The check's input for the run (with an override, the check records the crossing). */
export function changeFreezeAsk(
  record: RunRecord<unknown>,
  override: FreezeOverride | undefined,
): CheckChangeFreezeInput {
  const { runbook, incidentId, workflowId, runId } = record.status;
  return {
    runbook,
    incidentId,
    workflowId,
    runId,
    at: utcIso(Date.now()),
    ...(override ? { override: { by: `@${normalizeHandle(override.by)}`, reason: override.reason } } : {}),
  };
}

function describeFreezes(freezes: Extract<FreezeCheck, { frozen: true }>['freezes']): string {
  return freezes
    .map((freeze) => `incident ${freeze.incidentId} since ${freeze.frozenAt} (${freeze.frozenBy})`)
    .join('; ');
}

/** The freezes in force on the run's environment (an override is recorded as a crossing). */
async function readChangeFreezes(
  record: RunRecord<unknown>,
  failSafe: FailSafe,
  override: FreezeOverride | undefined,
  checkedAhead?: FreezeCheck,
): Promise<StepOutcome<FreezeCheck>> {
  record.enterSubStep('check_change_freeze', 'reading the change freezes in force (seed 004 §1.3)');
  const checked: StepOutcome<FreezeCheck> = checkedAhead
    ? { kind: 'done', value: checkedAhead }
    : await failSafe.step({ name: 'check_change_freeze', what: 'read the change freezes in force' }, () =>
        checkChangeFreeze(changeFreezeAsk(record, override)),
      );
  if (checked.kind === 'done') {
    record.noteStep(
      checked.value.frozen
        ? `${checked.value.environment} frozen`
        : `${checked.value.environment} not frozen`,
    );
    record.resumeStep();
  }
  return checked;
}
