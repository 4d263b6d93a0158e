import type { VersioningBehavior } from '@temporalio/common';

/**
 * How each workflow type's runs move between worker versions (Worker Versioning; the worker is
 * versioned when RUNBOOKS_DEPLOYMENT_NAME and RUNBOOKS_BUILD_ID are set).
 *
 * - PINNED: a run stays on the build that started it, to the end. The break-glass procedures, the
 *   drill and the rollback last minutes to a day (a post-mortem or RCA deadline): an incident is
 *   never handed to new code half-way; the old version drains, then its workers stop.
 * - AUTO_UPGRADE: a run moves to the deployment's current version at its next workflow task. The
 *   backstop (120 days) and the re-enablement (weeks) outlive any deploy, so their logic changes go
 *   behind patched() and their recorded histories must replay (test/replay).
 */
export const WORKFLOW_VERSIONING = {
  breakGlassRestore: 'PINNED',
  breakGlassConsoleEdit: 'PINNED',
  breakGlassOverwriteRecovery: 'PINNED',
  breakGlassRebootstrap: 'PINNED',
  breakGlassDrill: 'PINNED',
  rollbackToPilot: 'PINNED',
  phasedReenablement: 'AUTO_UPGRADE',
  backstopProgram: 'AUTO_UPGRADE',
  /** Days to weeks (the review is due 3 business days after the resolution; a breach's 72 h). */
  incident: 'AUTO_UPGRADE',
  /** Minutes (pin) to about an hour (merge revert and CI deploy): finishes on the build that started it. */
  releaseRollback: 'PINNED',
  /** Seconds: a few reads and one write; a failure waiting for a human finishes where it started. */
  freezeLift: 'PINNED',
} as const satisfies Record<string, VersioningBehavior>;

export type VersionedWorkflowName = keyof typeof WORKFLOW_VERSIONING;
