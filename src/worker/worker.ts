import type { DataConverter } from '@temporalio/common';
import {
  Worker,
  type NativeConnection,
  type WorkerInterceptors,
  type WorkflowBundle,
  type WorkerOptions,
  type WorkerPlugin,
} from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import type { WorkerDeploymentVersion, WorkerSizing } from './config';
import {
  VERSIONED_WORKFLOWS_PATH,
  WORKFLOW_INTERCEPTOR_MODULES,
  WORKFLOW_PRELOAD_MODULES,
  WORKFLOWS_PATH,
} from './paths';
import { runLogContextInterceptor } from './log-context';
import { sealedInputInterceptor } from './sealed-input';

export interface RunbookWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /**
   * A prebuilt bundle (tests bundle once per file; a versioned worker needs one of
   * VERSIONED_WORKFLOWS_PATH); otherwise the worker bundles the entry point its versioning needs.
   */
  workflowBundle?: WorkflowBundle;
  identity?: string;
  /** Activity interceptors (the fault-matrix test injects failures with one). */
  interceptors?: Pick<WorkerInterceptors, 'activity'>;
  /**
   * Worker Versioning: the worker serves this deployment version. Each workflow type declares how
   * its runs move between versions (src/workflows/versioning.ts): short break-glass runs stay
   * PINNED to the version that started them, long programmes AUTO_UPGRADE.
   */
  deployment?: WorkerDeploymentVersion;
  /** Payload encryption (src/codec): the same keys as every client of the namespace. */
  dataConverter?: DataConverter;
  /** Worker plugins (tracing: src/worker/tracing.ts); also given to the bundler. */
  plugins?: WorkerPlugin[];
  /** Cache and concurrency bounds (the worker entry point always sets them; tests use the SDK's). */
  sizing?: WorkerSizing;
}

/**
 * The SDK's options for a sizing (also the bench's yardstick workers'). Workflow task polls go by
 * `workflowTaskPollerBehavior`: the SDK (1.24) documents `maxConcurrentWorkflowTaskPolls` but
 * ignores it.
 */
export function workerSizingOptions(
  sizing: WorkerSizing,
): Pick<
  WorkerOptions,
  | 'maxCachedWorkflows'
  | 'maxConcurrentWorkflowTaskExecutions'
  | 'maxConcurrentActivityTaskExecutions'
  | 'maxEagerActivityReservationsPerWorkflowTask'
  | 'stickyQueueScheduleToStartTimeout'
  | 'workflowTaskPollerBehavior'
  | 'nonStickyToStickyPollRatio'
> {
  return {
    maxCachedWorkflows: sizing.maxCachedWorkflows,
    maxConcurrentWorkflowTaskExecutions: sizing.maxConcurrentWorkflowTaskExecutions,
    maxConcurrentActivityTaskExecutions: sizing.maxConcurrentActivityTaskExecutions,
    maxEagerActivityReservationsPerWorkflowTask: sizing.maxEagerActivitiesPerWorkflowTask,
    stickyQueueScheduleToStartTimeout: sizing.stickyQueueScheduleToStartTimeoutMs,
    workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: sizing.maxConcurrentWorkflowTaskPolls },
    nonStickyToStickyPollRatio: sizing.nonStickyToStickyPollRatio,
  };
}

/** The one place a runbook worker is assembled: workflows + activities built from injected deps. */
export function createRunbookWorker(options: RunbookWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : {
          workflowsPath: options.deployment ? VERSIONED_WORKFLOWS_PATH : WORKFLOWS_PATH,
          bundlerOptions: { preloadModules: WORKFLOW_PRELOAD_MODULES },
        }),
    activities: createActivities(options.deps),
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
    ...(options.sizing ? workerSizingOptions(options.sizing) : {}),
    interceptors: {
      // A prebuilt bundle has them already (workflowBundleOptions).
      ...(options.workflowBundle ? {} : { workflowModules: WORKFLOW_INTERCEPTOR_MODULES }),
      activity: [runLogContextInterceptor, sealedInputInterceptor, ...(options.interceptors?.activity ?? [])],
    },
    ...(options.plugins ? { plugins: options.plugins } : {}),
    ...(options.deployment
      ? {
          workerDeploymentOptions: {
            version: options.deployment,
            useWorkerVersioning: true,
            // Only for a workflow type that declares nothing (each of ours declares its behaviour).
            defaultVersioningBehavior: 'PINNED',
          },
        }
      : {}),
  });
}
