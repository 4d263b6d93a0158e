import { createSignatureActivities } from './signatures';
import type { Pool } from 'pg';
import type { Policy } from '../common/policy';
import type { ChannelRegistry } from './channels';
import { createBackstopActivities } from './backstop';
import { createBreakGlassActivities } from './break-glass';
import { createCommandActivities } from './commands';
import { createDrillLogActivities } from './drill-log';
import { createKubectlActivities } from './kubectl';
import { createReleaseCheckActivities } from './kubectl/release';
import { createHelmActivities } from './helm';
import { createOrchestratorActivities } from './kubectl/orchestrator';
import { createMetricsActivities } from './metrics';
import { createNotifyActivities } from './notify';
import { createPolicyActivities } from './policy';
import { createProbeActivities } from './probes';
import { createSqlActivities } from './sql';
import { createTemporalActivities } from './temporal';
import { createTrackerActivities } from './trackers';
import { DirectoryArtifactStore, type ArtifactStore } from './artifacts';
import { createEvidenceActivities } from './evidence';
import { orchestratorCluster } from './kubectl/orchestrator/cluster';
import { createStagingSoak } from './kubectl/orchestrator/staging-soak';

/** Everything the activities touch, injected so tests can pass real or fake dependencies. */
export interface ActivityDeps {
  /** The target database (ftf_config, ledger, notices, deliveries). */
  db: Pool;
  /** The staging copy the drill runs against (STAGING_DATABASE_URL); optional. */
  stagingDb?: Pool;
  policy: Policy;
  /** The canonical `base_env` (the policy's canonical payload file). */
  canonicalPayload: Record<string, unknown>;
  /** The policy's channels with their secrets from the worker's environment. */
  channels: ChannelRegistry;
  /** Where drill logs are written (the policy's drill logDirectory, resolved). */
  drillLogDirectory: string;
  /** Where rollback backups (manifests, pg_dump) are written (the policy's backupDirectory, resolved). */
  backupDirectory: string;
  /** Where artifacts (manifests, long command output) go; default: files in backupDirectory. */
  artifactStore?: ArtifactStore;
}

export function createActivities(deps: ActivityDeps) {
  const secrets = deps.channels.secretValues;
  const artifacts = deps.artifactStore ?? new DirectoryArtifactStore(deps.backupDirectory, secrets);
  const orchestrator = {
    orchestrator: deps.policy.orchestrator,
    rollback: deps.policy.runbooks.rollbackToPilot,
    backupDirectory: deps.backupDirectory,
    artifacts,
    secrets,
  };
  const policyActivities = createPolicyActivities(deps);
  const sqlActivities = createSqlActivities({
    ...deps,
    freezeEnvironment: deps.policy.runbooks.incident?.defaultEnvironment ?? 'production',
  });
  return {
    ...policyActivities,
    ...createBackstopActivities({ db: deps.db, loadRunbookPolicy: policyActivities.loadRunbookPolicy }),
    ...createBreakGlassActivities({
      loadRunbookPolicy: policyActivities.loadRunbookPolicy,
      sql: sqlActivities,
    }),
    ...sqlActivities,
    ...createNotifyActivities(deps),
    ...createTrackerActivities(deps),
    ...createKubectlActivities({ console: deps.policy.console }),
    ...createProbeActivities({ console: deps.policy.console, backstop: deps.policy.runbooks.backstop }),
    ...createDrillLogActivities(deps),
    ...createOrchestratorActivities(orchestrator),
    ...createStagingSoak({
      orchestrator: deps.policy.orchestrator,
      soak: deps.policy.runbooks.phasedReenablement.stagingSoak,
      secrets,
    }),
    ...createEvidenceActivities({
      db: deps.db,
      cluster: orchestratorCluster(orchestrator),
      prometheus: deps.policy.prometheus,
      artifacts,
    }),
    ...createMetricsActivities({ prometheus: deps.policy.prometheus }),
    ...createCommandActivities({ db: deps.db, backstop: deps.policy.runbooks.backstop, secrets }),
    ...createSignatureActivities({ db: deps.db, signers: deps.policy.signers }),
    ...createHelmActivities({ db: deps.db, release: deps.policy.runbooks.releaseRollback, secrets }),
    ...createReleaseCheckActivities({ release: deps.policy.runbooks.releaseRollback }),
    ...createTemporalActivities(),
  };
}

export type RunbookActivities = ReturnType<typeof createActivities>;
export type { NoticeRouting, RunbookPolicySnapshot } from './policy';
export type { OpenBackstopProgramInput, OpenedBackstopProgram } from './backstop';
export type {
  OpenBreakGlassProcedureInput,
  OpenedBreakGlassProcedure,
  PlanAhead,
  PlanAheadOutcome,
} from './break-glass';
export type { Inline } from './inline';
export type { NoticeDelivery } from './notify';
export type { PodReadiness } from './kubectl';
export type { HttpProbe } from './probes';
export type { DrillLogWritten } from './drill-log';
export type { CommandRun } from './commands';
export type { HelmPin } from './helm';
export type { ReleaseCodeCheck } from './kubectl/release';
export type { ArtifactRef, ArtifactStore } from './artifacts';
export type { SignatureVerdict } from './signatures';
export type { PreservedEvidence } from './evidence';
export type { MutationResult, WriterFreezeState } from './kubectl/orchestrator';
export type { StagingSoakJob, StagingSoakReading } from './kubectl/orchestrator/staging-soak';
export type { IncidentMetrics, RepoAnalysis } from './metrics';
export type { IncidentRunState, RunbookEnd } from './temporal';
export type * from './sql';
export type * from './trackers';
