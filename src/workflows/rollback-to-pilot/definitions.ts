import { freezeOverrideSchema } from '../shared/freeze-override';
import { defineSignal, defineUpdate } from '@temporalio/workflow';
import { GATE_MESSAGES, type MessageContract, type DecisionAnswer } from '../shared/messages';
import { z } from 'zod';
import { incidentIdSchema } from '../../common/break-glass';
import { handleSchema } from '../../common/identity';
import { kubernetesName } from '../../common/names';
import type { NoticeRecord } from '../shared/notices';
import type {
  DeadlineRecord,
  Finding,
  RefusedAttempt,
  RunbookStatus,
  StepRecord,
} from '../shared/run-record';
import type { Decision } from './decision';
import type { WriterFreezeState } from '../../activities';

export { statusQuery } from '../shared/messages';

/** RB-LAUNCH-002 (seed 002): roll the orchestrator back to the pilot repo. */
export const ROLLBACK_TO_PILOT = 'rollbackToPilot';
/** The Schedule that drills it every 13 weeks (`npm run cli -- schedule-rollback-drill`). */
export const ROLLBACK_DRILL_SCHEDULE_ID = 'rollback-to-pilot-drill';

export function rollbackToPilotWorkflowId(incidentId: string): string {
  return `rollback-to-pilot-${incidentId}`;
}

export const severitySchema = z.enum(['P1', 'P2', 'P3', 'P4']);
export type Severity = z.output<typeof severitySchema>;

/** What the incident commander knows that the metrics do not show. All optional. */
export const rollbackFactsSchema = z
  .object({
    crashLoopMinutes: z.number().min(0).optional(),
    databaseCorruption: z.boolean().optional(),
    securityBreach: z.boolean().optional(),
    dailySpendUsd: z.number().min(0).optional(),
    failingRepos: z.array(kubernetesName).max(500).optional(),
    failureRate: z.number().min(0).max(1).optional(),
    lowKillRateRepoShare: z.number().min(0).max(1).optional(),
    p95Sustained: z
      .object({ seconds: z.number().positive(), hours: z.number().positive() })
      .strict()
      .optional(),
    allProvidersRateLimited: z.boolean().optional(),
    sameRootCauseRepos: z.number().int().min(0).optional(),
    userError: z.boolean().optional(),
  })
  .strict();
export type RollbackFacts = z.output<typeof rollbackFactsSchema>;

export const rollbackToPilotInputSchema = z
  .object({
    incidentId: incidentIdSchema,
    severity: severitySchema,
    reason: z.string().trim().min(1, 'is required: a brief description').max(500),
    incidentCommander: handleSchema,
    affectedRepos: z.array(kubernetesName).max(500).default([]),
    facts: rollbackFactsSchema.default({}),
    dryRun: z.boolean().default(false),
    /**
     * The quarterly drill (seed 002): a dry run timed against the < 20 min target, its log written
     * to the policy's drill folder; nothing is changed and nobody is paged.
     */
    drill: z.boolean().optional(),
    /** Cross an incident's change freeze on purpose (who and why; recorded and flagged). */
    freezeOverride: freezeOverrideSchema.optional(),
  })
  .strict();
export type RollbackToPilotInput = z.input<typeof rollbackToPilotInputSchema>;

export const confirmRollbackPayloadSchema = z
  .object({ by: handleSchema, decision: z.enum(['go', 'cancel']), note: z.string().max(1_000).optional() })
  .strict();
export type ConfirmRollbackPayload = z.input<typeof confirmRollbackPayloadSchema>;
/** The IC's confirmation after the P2 triage hold. */
export const confirmRollbackSignal = defineSignal<[ConfirmRollbackPayload]>('confirmRollback');

export const rcaFiledPayloadSchema = z
  .object({ by: handleSchema, link: z.string().trim().min(1).max(2_000) })
  .strict();
export type RcaFiledPayload = z.input<typeof rcaFiledPayloadSchema>;
/** The root cause analysis is filed (due within 24 h). */
export const rcaFiledSignal = defineSignal<[RcaFiledPayload]>('rcaFiled');
export const confirmRollbackMessage = {
  signal: confirmRollbackSignal,
  update: defineUpdate<DecisionAnswer, [ConfirmRollbackPayload]>('confirmRollback'),
  schema: confirmRollbackPayloadSchema,
};
export const rcaFiledMessage = {
  signal: rcaFiledSignal,
  update: defineUpdate<DecisionAnswer, [RcaFiledPayload]>('rcaFiled'),
  schema: rcaFiledPayloadSchema,
};

export type RollbackOutcome =
  /** An incident's change freeze is in force and the input does not cross it (seed 004 §1.3). */
  | 'refused_change_freeze'
  | 'aborted'
  | 'no_go'
  | 'cancelled'
  | 'confirmation_expired'
  | 'dry_run'
  /** The quarterly drill: decision and plan within (or over) the < 20 min target. */
  | 'drill_within_slo'
  | 'drill_over_slo'
  | 'rolled_back'
  | 'rolled_back_with_warnings'
  | 'escalated_rollout'
  | 'escalated_schema'
  | 'rollback_failed';

export interface StepEvidence {
  step: string;
  ok: boolean;
  detail: unknown;
}

export interface TargetCheck {
  targetMs: number;
  actualMs: number | null;
  met: boolean | null;
}

export interface RollbackDetail {
  incidentCommander: string;
  severity: Severity;
  reason: string;
  affectedRepos: string[];
  dryRun: boolean;
  decision?: Decision;
  confirmation?: { by: string; decision: 'go' | 'cancel'; at: string; note?: string };
  evidence: StepEvidence[];
  backups?: {
    manifests?: unknown;
    database?: { state: 'running' | 'done' | 'failed'; path?: string; error?: string; sha256?: string };
  };
  plan?: unknown;
  /** downtime: runs since `rollback-downtime-measured-v1` (from/to: the first failing check, healthy again). */
  targets?: {
    execution: TargetCheck;
    total: TargetCheck;
    downtime?: TargetCheck & { from?: string; to?: string };
  };
  /** When the rollback was decided (P1: at once; P2: the IC's confirmation): the targets' clocks start here. */
  goDecisionAt?: string;
  rca?: {
    state: 'awaiting' | 'filed' | 'missed';
    dueAt: string;
    by?: string;
    link?: string;
    filedAt?: string;
  };
  /** The quarterly drill: elapsed from its start to the plan, the target, the log. */
  drill?: {
    elapsedMs: number;
    targetMs: number;
    withinSlo: boolean;
    log?: { path?: string; error?: string };
  };
  /** Seed 003: the writers as frozen before the rollback and as unfrozen after green was held. */
  writers?: { frozen?: WriterFreezeState; unfrozen?: WriterFreezeState };
}

export type RollbackStatus = RunbookStatus<RollbackDetail>;

export interface RollbackResult {
  runbook: typeof ROLLBACK_TO_PILOT;
  outcome: RollbackOutcome;
  message: string;
  incidentId: string;
  workflowId: string;
  decision?: Decision;
  evidence: StepEvidence[];
  backups?: RollbackDetail['backups'];
  plan?: unknown;
  targets?: RollbackDetail['targets'];
  rca?: RollbackDetail['rca'];
  drill?: RollbackDetail['drill'];
  steps: StepRecord[];
  deadlines: DeadlineRecord[];
  refusedAttempts: RefusedAttempt[];
  nonConformities: Finding[];
  flags: Finding[];
  notices: NoticeRecord[];
  /** The run's policy was a test-only one (durations below the seeds'). */
  testOnlyShortDurations?: true;
}

/** The workflow's message contract: its input and the payloads it handles (see MessageContract). */
export const rollbackToPilotContract: MessageContract = {
  workflowType: ROLLBACK_TO_PILOT,
  version: 1,
  input: rollbackToPilotInputSchema,
  messages: {
    ...GATE_MESSAGES,
    confirmRollback: confirmRollbackPayloadSchema,
    rcaFiled: rcaFiledPayloadSchema,
  },
};
