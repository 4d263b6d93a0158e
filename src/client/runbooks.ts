/**
 * Every runbook, by the name its runs carry: its workflow type, its `RunbookName` search attribute
 * and the `runbook` label of its metrics. The CLI's `list --runbook` takes these, and the alert
 * rules name it with a label's value, so a runbook missing here is one the on-call cannot list
 * (incident, releaseRollback and freezeLift were refused before 0.19.0). A test checks it against
 * the workflows the task queue serves (src/workflows/index.ts).
 */
export const RUNBOOK_NAMES = [
  'breakGlassRestore',
  'breakGlassConsoleEdit',
  'breakGlassOverwriteRecovery',
  'breakGlassRebootstrap',
  'breakGlassDrill',
  'rollbackToPilot',
  'phasedReenablement',
  'backstopProgram',
  'incident',
  'releaseRollback',
  'freezeLift',
] as const;

export type RunbookName = (typeof RUNBOOK_NAMES)[number];
