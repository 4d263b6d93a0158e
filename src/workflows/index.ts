/**
 * Every workflow the `runbooks` task queue serves. This module is an unversioned worker's
 * `workflowsPath`: it exports workflow functions only (definitions live beside each workflow).
 * A versioned worker serves ./versioned instead (the same functions with their versioning
 * behaviour: a server refuses a behaviour from a worker that is not versioned).
 */
export { breakGlassRestore } from './break-glass-restore/workflow';
export { breakGlassConsoleEdit } from './break-glass-console-edit/workflow';
export { breakGlassOverwriteRecovery } from './break-glass-overwrite-recovery/workflow';
export { breakGlassRebootstrap } from './break-glass-rebootstrap/workflow';
export { breakGlassDrill } from './break-glass-drill/workflow';
export { rollbackToPilot } from './rollback-to-pilot/workflow';
export { phasedReenablement } from './phased-reenablement/workflow';
export { backstopProgram } from './backstop-program/workflow';
export { incident } from './incident/workflow';
export { releaseRollback } from './release-rollback/workflow';
