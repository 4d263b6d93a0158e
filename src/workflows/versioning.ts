import { setWorkflowOptions } from '@temporalio/workflow';
import { WORKFLOW_VERSIONING, type VersionedWorkflowName } from '../common/workflow-versioning';

export { WORKFLOW_VERSIONING, type VersionedWorkflowName } from '../common/workflow-versioning';

/** Attaches each workflow's behaviour to its function (read by the worker when it is versioned). */
export function declareVersioning(
  workflows: Record<VersionedWorkflowName, (...args: never[]) => Promise<unknown>>,
): void {
  for (const name of Object.keys(WORKFLOW_VERSIONING) as VersionedWorkflowName[])
    setWorkflowOptions({ versioningBehavior: WORKFLOW_VERSIONING[name] }, workflows[name]);
}
