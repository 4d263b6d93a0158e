import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { BREAK_GLASS_DRILL, BREAK_GLASS_DRILL_SCHEDULE_ID } from '../workflows/break-glass-drill/definitions';

/** Seed 000: "Operator should self-exercise this runbook every 30 days". */
export const DRILL_INTERVAL_MS = 30 * 24 * 3_600_000;

/**
 * Creates the 30-day drill Schedule, or brings an existing one back to this definition.
 * Idempotent: running it twice leaves one Schedule; a paused Schedule stays paused.
 */
export async function ensureDrillSchedule(
  client: Client,
  taskQueue: string,
): Promise<'created' | 'updated' | 'unchanged'> {
  const action = {
    type: 'startWorkflow' as const,
    workflowType: BREAK_GLASS_DRILL,
    taskQueue,
    workflowId: 'break-glass-drill',
    args: [{ requestedBy: '@break-glass-drill-schedule' }],
  };
  const spec = { intervals: [{ every: DRILL_INTERVAL_MS }] };
  try {
    await client.schedule.create({
      scheduleId: BREAK_GLASS_DRILL_SCHEDULE_ID,
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
      memo: { summary: 'Break-glass Procedure A drill on the staging copy, every 30 days (seed 000)' },
    });
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  const handle = client.schedule.getHandle(BREAK_GLASS_DRILL_SCHEDULE_ID);
  const current = await handle.describe();
  const interval = current.spec.intervals?.[0]?.every;
  const same =
    current.spec.intervals?.length === 1 &&
    interval === DRILL_INTERVAL_MS &&
    current.action.workflowType === BREAK_GLASS_DRILL &&
    current.action.taskQueue === taskQueue;
  if (same) return 'unchanged';
  await handle.update((previous) => ({ ...previous, spec, action }));
  return 'updated';
}
