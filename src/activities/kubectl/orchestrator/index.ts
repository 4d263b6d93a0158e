import { createOrchestratorBackups } from './backups';
import { orchestratorCluster, type OrchestratorDeps } from './cluster';
import { createHealthChecks } from './health';
import { createOrchestratorMutations } from './mutations';
import { createPilotVerification } from './pilot-verification';
import { createOrchestratorReads } from './reads';
import { createWriterFreeze } from './writers';

/** The kubectl activities of RB-LAUNCH-002 (seed 002) on the orchestrator deployment. */
export function createOrchestratorActivities(deps: OrchestratorDeps) {
  const cluster = orchestratorCluster(deps);
  return {
    ...createOrchestratorReads(cluster),
    ...createOrchestratorBackups(cluster, deps),
    ...createOrchestratorMutations(cluster),
    ...createPilotVerification(cluster, deps),
    ...createHealthChecks(cluster),
    ...createWriterFreeze(cluster),
  };
}

export type { MutationResult, OrchestratorDeps } from './cluster';
export type { WriterFreezeState, WriterState } from './writers';
