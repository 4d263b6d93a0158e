/**
 * Every workflow the `runbooks` task queue serves. This module is the worker's `workflowsPath`:
 * it exports workflow functions only (definitions live beside each workflow).
 */
export { breakGlassRestore } from './break-glass-restore/workflow';
