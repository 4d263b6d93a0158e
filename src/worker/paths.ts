import { FAILURE_CONVERTER_PATH, PAYLOAD_CONVERTER_PATH } from '../codec/aes-gcm';

/**
 * Compiled workflow entry points, for the bundler: an unversioned worker's and a versioned one's
 * (both load each runbook's module on its first call: src/workflows/bundle-entry.ts).
 */
export const WORKFLOWS_PATH = require.resolve('../workflows/bundle-entry');
export const VERSIONED_WORKFLOWS_PATH = require.resolve('../workflows/versioned');

/**
 * Modules evaluated once per workflow thread and shared by every run: zod itself
 * (src/workflows/shared-zod.ts) and the memo of our schemas (src/common/shared-schemas.ts).
 */
export const WORKFLOW_PRELOAD_MODULES = [
  require.resolve('../workflows/shared-zod'),
  require.resolve('../common/shared-schemas'),
];

/** The workflow interceptors of every bundle: the run's log context sent with each activity. */
export const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('../workflows/interceptors')];

/**
 * How every bundle of our workflow code is built (the worker's own, the tests' and the replay
 * gate's), so a test runs the same sharing and failure sealing as production.
 */
export function workflowBundleOptions(workflowsPath: string): {
  workflowsPath: string;
  failureConverterPath: string;
  payloadConverterPath: string;
  preloadModules: string[];
  workflowInterceptorModules: string[];
} {
  return {
    workflowsPath,
    failureConverterPath: FAILURE_CONVERTER_PATH,
    payloadConverterPath: PAYLOAD_CONVERTER_PATH,
    preloadModules: WORKFLOW_PRELOAD_MODULES,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
  };
}
