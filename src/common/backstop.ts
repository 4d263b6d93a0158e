/**
 * Seed 001 §6.bis date rule: T+N = the merge day at 00:00:00Z + N × 24 h. The hour of the merge
 * does not count, nor does anyone's time zone; a check at or after that instant has reached T+N.
 */

import { DAY_MS } from './duration';

export { DAY_MS };

export const CHECKPOINT_DAYS = [30, 60, 90, 120] as const;
export type CheckpointDays = (typeof CHECKPOINT_DAYS)[number];
export type CheckpointName = `T+${CheckpointDays}`;

export function mergeDayStartMs(mergedAtMs: number): number {
  return Math.floor(mergedAtMs / DAY_MS) * DAY_MS;
}

export function checkpointInstantMs(mergedAtMs: number, days: number): number {
  return mergeDayStartMs(mergedAtMs) + days * DAY_MS;
}

export function checkpointSchedule(
  mergedAtMs: number,
): { name: CheckpointName; days: CheckpointDays; atMs: number }[] {
  return CHECKPOINT_DAYS.map((days) => ({
    name: `T+${days}`,
    days,
    atMs: checkpointInstantMs(mergedAtMs, days),
  }));
}

/**
 * The policy's revert command for one story and merge: {story} and {sha} substituted as parts of
 * whole arguments (no shell). The activity runs exactly this; a dry run shows it.
 */
export function revertCommandArguments(command: readonly string[], story: string, sha: string): string[] {
  return command.map((arg) => arg.replaceAll('{story}', story).replaceAll('{sha}', sha));
}
