/**
 * Every workflow the `runbooks` task queue serves. This module is the worker's `workflowsPath`:
 * it exports workflow functions only (definitions live beside each workflow), each with its
 * Worker Versioning behaviour (./versioning).
 */
import { breakGlassRestore } from './break-glass-restore/workflow';
import { breakGlassConsoleEdit } from './break-glass-console-edit/workflow';
import { breakGlassOverwriteRecovery } from './break-glass-overwrite-recovery/workflow';
import { breakGlassRebootstrap } from './break-glass-rebootstrap/workflow';
import { breakGlassDrill } from './break-glass-drill/workflow';
import { rollbackToPilot } from './rollback-to-pilot/workflow';
import { phasedReenablement } from './phased-reenablement/workflow';
import { backstopProgram } from './backstop-program/workflow';
import { declareVersioning } from './versioning';

declareVersioning({
  breakGlassRestore,
  breakGlassConsoleEdit,
  breakGlassOverwriteRecovery,
  breakGlassRebootstrap,
  breakGlassDrill,
  rollbackToPilot,
  phasedReenablement,
  backstopProgram,
});

export {
  breakGlassRestore,
  breakGlassConsoleEdit,
  breakGlassOverwriteRecovery,
  breakGlassRebootstrap,
  breakGlassDrill,
  rollbackToPilot,
  phasedReenablement,
  backstopProgram,
};
