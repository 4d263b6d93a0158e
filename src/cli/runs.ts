import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { incidentIdSchema } from '../common/break-glass';
import { breakGlassConsoleEditWorkflowId } from '../workflows/break-glass-console-edit/definitions';
import { breakGlassOverwriteRecoveryWorkflowId } from '../workflows/break-glass-overwrite-recovery/definitions';
import { breakGlassRebootstrapWorkflowId } from '../workflows/break-glass-rebootstrap/definitions';
import { breakGlassRestoreWorkflowId } from '../workflows/break-glass-restore/definitions';
import { freezeLiftWorkflowId } from '../workflows/freeze-lift/definitions';
import { incidentWorkflowId } from '../workflows/incident/definitions';
import { phasedReenablementWorkflowId } from '../workflows/phased-reenablement/definitions';
import { rollbackToPilotWorkflowId } from '../workflows/rollback-to-pilot/definitions';
import { UsageError, validateFlag, type Values } from './args';

/** The runbooks an incident can have a run of, by the name `--procedure` takes. */
export const PROCEDURES: Record<string, (incidentId: string) => string> = {
  A: breakGlassRestoreWorkflowId,
  B: breakGlassConsoleEditWorkflowId,
  C: breakGlassOverwriteRecoveryWorkflowId,
  D: breakGlassRebootstrapWorkflowId,
  rollback: rollbackToPilotWorkflowId,
  reenablement: phasedReenablementWorkflowId,
  /** The incident itself (seed 004): addressed by its own commands, never picked by the lookup below. */
  incident: incidentWorkflowId,
  /** A freeze lifted by hand (lift-freeze). */
  'freeze-lift': freezeLiftWorkflowId,
};

const PROCEDURE_NAMES = 'A, B, C, D, rollback, reenablement, incident or freeze-lift';

/** Which run a command addresses: a workflow id, or an incident (and maybe its runbook). */
export type RunRef = { workflowId: string } | { incidentId: string; procedure?: string };

function procedureKey(value: string): string {
  const key = Object.keys(PROCEDURES).find((name) => name.toLowerCase() === value.toLowerCase());
  if (!key) throw new UsageError(`--procedure must be ${PROCEDURE_NAMES} (got "${value}")`);
  return key;
}

/**
 * Validates how the run is named. `procedure` is the runbook the command belongs to (pause is a
 * re-enablement message); otherwise --procedure, or the incident's runs are looked up.
 */
export function runRef(values: Values, procedure?: string): RunRef {
  if (values['workflow-id']) return { workflowId: values['workflow-id'] };
  if (values.incident === undefined)
    throw new UsageError(
      `name the run: --incident <id> [--procedure ${PROCEDURE_NAMES}] (or --workflow-id <id>)`,
    );
  const incidentId = validateFlag(incidentIdSchema, values.incident, '--incident');
  const chosen = values.procedure !== undefined ? procedureKey(values.procedure) : procedure;
  return chosen ? { incidentId, procedure: chosen } : { incidentId };
}

/**
 * The workflow id of a run. For an incident without a runbook named, every runbook's run of that
 * incident is looked at: the one running wins; with none running, the one started last; with
 * several running, the user is asked to pick.
 */
export async function resolveRun(client: Client, ref: RunRef): Promise<string> {
  if ('workflowId' in ref) return ref.workflowId;
  if (ref.procedure) return PROCEDURES[ref.procedure]!(ref.incidentId);
  const found: { procedure: string; workflowId: string; running: boolean; startMs: number }[] = [];
  for (const [procedure, idFor] of Object.entries(PROCEDURES)) {
    if (procedure === 'incident') continue;
    const workflowId = idFor(ref.incidentId);
    try {
      const described = await client.workflow.getHandle(workflowId).describe();
      found.push({
        procedure,
        workflowId,
        running: described.status.name === 'RUNNING',
        startMs: described.startTime.getTime(),
      });
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
  const running = found.filter((run) => run.running);
  if (running.length === 1) return running[0]!.workflowId;
  if (running.length > 1)
    throw new UsageError(
      `incident ${ref.incidentId} has several runs in progress: ${running.map((r) => `${r.workflowId} (--procedure ${r.procedure})`).join(', ')}; pick one with --procedure`,
    );
  const latest = found.sort((a, b) => b.startMs - a.startMs)[0];
  if (!latest) throw new UsageError(`no run of any runbook for incident ${ref.incidentId}`);
  return latest.workflowId;
}
