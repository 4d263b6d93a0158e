/**
 * Every workflow the `runbooks` task queue serves: workflow functions only (definitions live
 * beside each workflow), for clients and tests. A worker bundles ./bundle-entry (the same
 * functions, each loading its module on its first call), or ./versioned when it is versioned (the
 * same with their versioning behaviour: a server refuses a behaviour from a worker that is not
 * versioned). A workflow added here is added there too (test/worker/workflow-bundle.test.ts).
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
export { freezeLift } from './freeze-lift/workflow';
