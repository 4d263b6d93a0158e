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

/**
 * How long one call into the workflows' V8 context may run before the SDK stops it (its deadlock
 * detector, `isolateExecutionTimeout`; the SDK's default is 5 s). When that stop lands while the
 * context runs its microtasks, which is where workflow code runs, Node aborts the whole process
 * ("async hook stack has become corrupted": nodejs/node#38503, temporalio/sdk-typescript#939;
 * reproduced here on Node 20 with a worker thread, a vm context in `afterEvaluate` microtask mode
 * and a 1.5 s microtask: aborted under a 500 ms timeout, ran under 5 s). On 2 loaded cores a large
 * activation (hundreds of signals at once, a long replay) passes 5 s: CI240 lost a test process
 * that way, and issue #17's first 10,000-programme attempt its worker. Past the server's workflow
 * task timeout (10 s) such a task is retried anyway, with the worker alive; a real loop in
 * workflow code is still stopped, after a minute.
 */
export const ISOLATE_EXECUTION_TIMEOUT_MS = 60_000;

/** The one place a runbook worker is assembled: workflows + activities built from injected deps. */
export function createRunbookWorker(options: RunbookWorkerOptions): Promise<Worker> {
  // The SDK reads isolateExecutionTimeout from the options it is given but leaves it out of the
  // type ("not exposed at the moment"); a test checks the worker it builds has it.
  const workerOptions: WorkerOptions & { isolateExecutionTimeout: number } = {
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
    isolateExecutionTimeout: ISOLATE_EXECUTION_TIMEOUT_MS,
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
  };
  return Worker.create(workerOptions);
}
