/* eslint-disable @typescript-eslint/no-require-imports -- a require inside each function is what makes it lazy */
import type * as workflows from './index';

/**
 * The workflow bundle's entry point: the workflows of ./index, each loading its own module on its
 * first call. The SDK evaluates the bundle's modules again for every run it creates (a new run, or
 * one replayed after eviction from the cache), so importing every runbook here would build all of
 * their modules and zod schemas for each backstop programme; lazily, a run builds only its own.
 */
type Workflows = typeof workflows;

export const breakGlassRestore: Workflows['breakGlassRestore'] = (input) =>
  (require('./break-glass-restore/workflow') as Workflows).breakGlassRestore(input);
export const breakGlassConsoleEdit: Workflows['breakGlassConsoleEdit'] = (input) =>
  (require('./break-glass-console-edit/workflow') as Workflows).breakGlassConsoleEdit(input);
export const breakGlassOverwriteRecovery: Workflows['breakGlassOverwriteRecovery'] = (input) =>
  (require('./break-glass-overwrite-recovery/workflow') as Workflows).breakGlassOverwriteRecovery(input);
export const breakGlassRebootstrap: Workflows['breakGlassRebootstrap'] = (input) =>
  (require('./break-glass-rebootstrap/workflow') as Workflows).breakGlassRebootstrap(input);
export const breakGlassDrill: Workflows['breakGlassDrill'] = (input) =>
  (require('./break-glass-drill/workflow') as Workflows).breakGlassDrill(input);
export const rollbackToPilot: Workflows['rollbackToPilot'] = (input) =>
  (require('./rollback-to-pilot/workflow') as Workflows).rollbackToPilot(input);
export const phasedReenablement: Workflows['phasedReenablement'] = (input) =>
  (require('./phased-reenablement/workflow') as Workflows).phasedReenablement(input);
export const backstopProgram: Workflows['backstopProgram'] = (input) =>
  (require('./backstop-program/workflow') as Workflows).backstopProgram(input);
export const incident: Workflows['incident'] = (input) =>
  (require('./incident/workflow') as Workflows).incident(input);
export const releaseRollback: Workflows['releaseRollback'] = (input) =>
  (require('./release-rollback/workflow') as Workflows).releaseRollback(input);
export const freezeLift: Workflows['freezeLift'] = (input) =>
  (require('./freeze-lift/workflow') as Workflows).freezeLift(input);
