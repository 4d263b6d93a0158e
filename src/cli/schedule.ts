import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { BREAK_GLASS_DRILL, BREAK_GLASS_DRILL_SCHEDULE_ID } from '../workflows/break-glass-drill/definitions';
import {
  ROLLBACK_DRILL_SCHEDULE_ID,
  ROLLBACK_TO_PILOT,
  type RollbackToPilotInput,
} from '../workflows/rollback-to-pilot/definitions';

/** Seed 000: "Operator should self-exercise this runbook every 30 days". */
export const DRILL_INTERVAL_MS = 30 * 24 * 3_600_000;
/** Seed 002: the rollback is drilled quarterly (every 13 weeks). */
export const ROLLBACK_DRILL_INTERVAL_MS = 91 * 24 * 3_600_000;

interface DrillSchedule {
  scheduleId: string;
  workflowType: string;
  workflowId: string;
  args: unknown[];
  everyMs: number;
  summary: string;
}

/**
 * Creates a drill Schedule, or brings an existing one back to this definition. Idempotent: running
 * it twice leaves one Schedule; a paused Schedule stays paused.
 */
async function ensureSchedule(
  client: Client,
  taskQueue: string,
  drill: DrillSchedule,
): Promise<'created' | 'updated' | 'unchanged'> {
  const action = {
    type: 'startWorkflow' as const,
    workflowType: drill.workflowType,
    taskQueue,
    workflowId: drill.workflowId,
    args: drill.args,
  };
  const spec = { intervals: [{ every: drill.everyMs }] };
  try {
    await client.schedule.create({
      scheduleId: drill.scheduleId,
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
      memo: { summary: drill.summary },
    });
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  const handle = client.schedule.getHandle(drill.scheduleId);
  const current = await handle.describe();
  const interval = current.spec.intervals?.[0]?.every;
  const same =
    current.spec.intervals?.length === 1 &&
    interval === drill.everyMs &&
    current.action.workflowType === drill.workflowType &&
    current.action.taskQueue === taskQueue &&
    JSON.stringify(current.action.args) === JSON.stringify(drill.args);
  if (same) return 'unchanged';
  await handle.update((previous) => ({ ...previous, spec, action }));
  return 'updated';
}

/** The 30-day break-glass drill (seed 000). */
export function ensureDrillSchedule(client: Client, taskQueue: string) {
  return ensureSchedule(client, taskQueue, {
    scheduleId: BREAK_GLASS_DRILL_SCHEDULE_ID,
    workflowType: BREAK_GLASS_DRILL,
    workflowId: 'break-glass-drill',
    args: [{ requestedBy: '@break-glass-drill-schedule' }],
    everyMs: DRILL_INTERVAL_MS,
    summary: 'Break-glass Procedure A drill on the staging copy, every 30 days (seed 000)',
  });
}

/** The quarterly rollback drill (seed 002): a dry run timed against < 20 min, with its log. */
export const ROLLBACK_DRILL_INPUT: RollbackToPilotInput = {
  incidentId: 'ROLLBACK-DRILL',
  severity: 'P1',
  reason: 'quarterly rollback drill (dry run, seed 002): nothing is changed',
  incidentCommander: '@rollback-drill-schedule',
  dryRun: true,
  drill: true,
};

export function ensureRollbackDrillSchedule(client: Client, taskQueue: string) {
  return ensureSchedule(client, taskQueue, {
    scheduleId: ROLLBACK_DRILL_SCHEDULE_ID,
    workflowType: ROLLBACK_TO_PILOT,
    workflowId: 'rollback-to-pilot-drill',
    args: [ROLLBACK_DRILL_INPUT],
    everyMs: ROLLBACK_DRILL_INTERVAL_MS,
    summary: 'RB-LAUNCH-002 rollback drill (dry run, < 20 min target), every 13 weeks (seed 002)',
  });
}
