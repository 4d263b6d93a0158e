/** Every workflow function, by its workflow type (./index attaches their versioning and serves them). */
export { breakGlassRestore } from './break-glass-restore/workflow';
export { breakGlassConsoleEdit } from './break-glass-console-edit/workflow';
export { breakGlassOverwriteRecovery } from './break-glass-overwrite-recovery/workflow';
export { breakGlassRebootstrap } from './break-glass-rebootstrap/workflow';
export { breakGlassDrill } from './break-glass-drill/workflow';
export { rollbackToPilot } from './rollback-to-pilot/workflow';
export { phasedReenablement } from './phased-reenablement/workflow';
export { backstopProgram } from './backstop-program/workflow';
