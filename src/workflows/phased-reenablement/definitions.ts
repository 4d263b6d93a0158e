import { freezeOverrideSchema } from '../shared/freeze-override';
import { defineSignal, defineUpdate } from '@temporalio/workflow';
import { GATE_MESSAGES, type MessageContract, type DecisionAnswer } from '../shared/messages';
import { z } from 'zod';
import type { RepoAnalysis, StagingSoakReading } from '../../activities';
import { sshSignatureSchema } from '../../common/signatures';
import { incidentIdSchema } from '../../common/break-glass';
import { parseDuration } from '../../common/duration';
import { handleSchema } from '../../common/identity';
import { kubernetesName } from '../../common/names';
import { runTrailSchema } from '../shared/run-record';
import type { NoticeRecord } from '../shared/notices';
import type {
  DeadlineRecord,
  Finding,
  RefusedAttempt,
  RunbookStatus,
  StepRecord,
} from '../shared/run-record';

export { abortSignal, approveSignal, rejectSignal, statusQuery } from '../shared/messages';

/** RB-LAUNCH-002 §3 (seed 002) and "watch for green" (seed 003): re-enable repos in phases. */
export const PHASED_REENABLEMENT = 'phasedReenablement';

export function phasedReenablementWorkflowId(incidentId: string): string {
  return `phased-reenablement-${incidentId}`;
}

const holdText = z.string().refine((text) => (parseDuration(text) ?? 0) > 0, 'must be a duration like "2h"');

/** A repo enabled live (not yet, or no longer, silenced); how a rollback or abort left it. */
const alertRuleState = z.enum(['enabled', 'disabled', 'missing']);
const phaseName = z.enum(['starting', 'canary', 'phase2', 'phase3', 'watch_for_green', 'done']);

/**
 * What a run hands to the next when it continues as new after a phase-3 batch (one logical
 * programme, one workflow id, a short history per run): set by the workflow itself, never by
 * whoever starts a run (a run that was not continued and carries it is refused).
 */
export const reenablementCarrySchema = z
  .object({
    /** Runs before this one (1 for the first continuation). */
    runsBefore: z.number().int().min(1),
    /** When the first run started (UTC). */
    programStartedAt: z.string(),
    holds: z
      .object({ canaryHold: z.number().int(), phase2Hold: z.number().int(), batchHold: z.number().int() })
      .strict(),
    /** The allowlist the previous run left live. */
    live: z.array(kubernetesName),
    /** The last good sets, oldest first (the last is the current one; one before it for watch-for-green). */
    goodSets: z.array(z.array(kubernetesName)).min(1).max(2),
    /** The next batch starts at remainingRepos[nextBatchIndex]... */
    nextBatchIndex: z.number().int().min(0),
    /** ...not before a day after the previous batch started. */
    previousBatchStartMs: z.number().int(),
    paused: z
      .object({
        by: z.string(),
        reason: z.string(),
        since: z.string(),
        kind: z.enum(['manual', 'inconclusive']),
      })
      .strict()
      .optional(),
    alertRules: z.record(z.string(), alertRuleState).optional(),
    phasesCompleted: z.array(
      z.object({ phase: phaseName, repos: z.array(kubernetesName), at: z.string() }).strict(),
    ),
    analysisCount: z.number().int().min(0),
    /** The incidents whose change freezes the programme's override crossed at its start. */
    crossedFreezes: z.array(z.string()).max(100).optional(),
    /** Steps, notices and findings of the runs before (the latest), shown again in `status`. */
    trail: runTrailSchema(),
  })
  .strict();
export type ReenablementCarry = z.output<typeof reenablementCarrySchema>;

/** The most repos one programme re-enables (200 days at 2 a day): a bound on the input's size. */
export const MAX_REMAINING_REPOS = 400;

export const phasedReenablementInputSchema = z
  .object({
    incidentId: incidentIdSchema,
    requestedBy: handleSchema,
    /** Cross an incident's change freeze on purpose (who and why; recorded and flagged). */
    freezeOverride: freezeOverrideSchema.optional(),
    pilotRepo: kubernetesName,
    canaryRepo: kubernetesName,
    phase2Repos: z.array(kubernetesName).min(1).max(5),
    /**
     * Phase 3, 1–2 a day. The run continues as new after each batch, so a long list keeps every
     * run's history short (it was capped at 40 per run before it did).
     */
    remainingRepos: z
      .array(kubernetesName)
      .max(MAX_REMAINING_REPOS, `at most ${MAX_REMAINING_REPOS} repos per programme`)
      .default([]),
    /** Within the policy's holdBounds. */
    holdOverrides: z
      .object({ canaryHold: holdText, phase2Hold: holdText, batchHold: holdText })
      .partial()
      .strict()
      .default({}),
    /**
     * Seed 002 §2: ask for the staging soak to be waived instead of run (when the policy has one).
     * The run waits for an approver's signed waiver, bound to the canary's allowlist change.
     */
    stagingSoakWaiver: z
      .object({ reason: z.string().trim().min(1).max(1_000) })
      .strict()
      .optional(),
    /**
     * Plan only: read the allowlist, return every phase's set and hold, change nothing. Optional, not
     * defaulted: a default would be written into every continued run's input, which a worker of an
     * earlier release (a rolling deploy) refuses as an unknown field.
     */
    dryRun: z.boolean().optional(),
    /** Set by the run itself when it continues as new (see reenablementCarrySchema). */
    continued: reenablementCarrySchema.optional(),
  })
  .strict()
  .superRefine((input, ctx) => {
    const all = [input.canaryRepo, ...input.phase2Repos, ...input.remainingRepos];
    const seen = new Set<string>();
    for (const repo of all) {
      if (repo === input.pilotRepo)
        ctx.addIssue({
          code: 'custom',
          path: ['canaryRepo'],
          message: `${repo} is the pilot repo (always enabled)`,
        });
      if (seen.has(repo))
        ctx.addIssue({ code: 'custom', path: ['remainingRepos'], message: `${repo} is listed twice` });
      seen.add(repo);
    }
  });
export type PhasedReenablementInput = z.input<typeof phasedReenablementInputSchema>;

const person = z.object({ by: handleSchema, reason: z.string().trim().max(1_000).optional() }).strict();
export const pausePayloadSchema = person;
export const resumePayloadSchema = person;
export type PausePayload = z.input<typeof pausePayloadSchema>;
/** Holds progression after the current hold (analysis continues). */
export const pauseSignal = defineSignal<[PausePayload]>('pause');
/** Lets a paused run (manual pause, or inconclusive analysis) go on. */
export const resumeSignal = defineSignal<[PausePayload]>('resume');
export const pauseMessage = {
  signal: pauseSignal,
  update: defineUpdate<DecisionAnswer, [PausePayload]>('pause'),
  schema: pausePayloadSchema,
};
export const resumeMessage = {
  signal: resumeSignal,
  update: defineUpdate<DecisionAnswer, [PausePayload]>('resume'),
  schema: resumePayloadSchema,
};

/** Waive the staging soak: an approver other than the requester, signed over the canary's planHash. */
export const waiveStagingSoakPayloadSchema = z
  .object({
    by: handleSchema,
    planHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be the 64-hex planHash from the status'),
    signature: sshSignatureSchema,
    signedAt: z.string().min(1).max(40),
    reason: z.string().trim().max(1_000).optional(),
  })
  .strict();
export type WaiveStagingSoakPayload = z.input<typeof waiveStagingSoakPayloadSchema>;
/** The decision name a soak waiver's signature covers. */
export const WAIVE_STAGING_SOAK = 'waive_staging_soak';
export const waiveStagingSoakSignal = defineSignal<[WaiveStagingSoakPayload]>('waiveStagingSoak');
export const waiveStagingSoakMessage = {
  signal: waiveStagingSoakSignal,
  update: defineUpdate<DecisionAnswer, [WaiveStagingSoakPayload]>('waiveStagingSoak'),
  schema: waiveStagingSoakPayloadSchema,
};

/** Seed 002 §2 as this run did it: a soak job in staging, or a signed waiver. */
export interface StagingSoakRecord {
  state: 'running' | 'passed' | 'failed' | 'awaiting_waiver' | 'waived' | 'waiver_expired' | 'stopped';
  job?: string;
  /** The run was aborted during the soak: the job deleted (`deleted` false: gone already), or left as a human decided. */
  stopped?: { at: string; deleted?: boolean; left?: string };
  startedAt?: string;
  /** When the soak's duration is over and its result is read. */
  readAt?: string;
  reading?: StagingSoakReading;
  /** The canary's allowlist change a waiver is signed over. */
  planHash?: string;
  waiver?: { by: string; key: string; reason: string; at: string };
}

export type Phase = z.output<typeof phaseName>;

export interface AnalysisRecord extends RepoAnalysis {
  verdict: 'pass' | 'fail' | 'inconclusive';
  reasons: string[];
  phase: Phase;
}

export interface ReenablementDetail {
  requestedBy: string;
  phase: Phase;
  reposLive: string[];
  lastGood: string[];
  pending: string[];
  nextAction?: { what: string; at: string };
  /** The allowlist change awaiting approval (approve with this planHash). */
  plan?: { current: string[]; next: string[]; planHash: string };
  paused?: { by: string; reason: string; since: string; kind: 'manual' | 'inconclusive' };
  holds: Record<string, number>;
  /** Each re-enabled repo's alert rule as last set (enabled when it went live, disabled when rolled back). */
  alertRules?: Record<string, 'enabled' | 'disabled' | 'missing'>;
  /** How an abort left the allowlist. */
  abort?: { by: string; reason: string; allowlist: 'back_to_last_good' | 'left_as_is'; repos: string[] };
  analyses: AnalysisRecord[];
  analysisCount: number;
  phasesCompleted: { phase: Phase; repos: string[]; at: string }[];
  /** The programme this run belongs to, once it has continued as new (run 2 onwards). */
  program?: { run: number; startedAt: string };
  /** Seed 002 §2: the staging soak before the canary (runs whose policy asks for one). */
  stagingSoak?: StagingSoakRecord;
  /** A dry run's plan. */
  dryRun?: ReenablementDryRun;
}

/** Each phase's hold (ms): the policy's, or the input's overrides within its bounds. */
export type ReenablementHolds = { canaryHold: number; phase2Hold: number; batchHold: number };

/** One step of a dry run's plan: the allowlist it would set and how long it would hold it. */
export interface PlannedPhase {
  phase: Phase;
  /** The repos this step adds. */
  adds: string[];
  /** The allowlist once it is live. */
  allowlist: string[];
  holdMs: number;
  /** Who must approve before this step (phase 2). */
  approvedBy?: string[];
}

/** A dry run's answer: what the run would do from the allowlist it read, in order; nothing changed. */
export interface ReenablementDryRun {
  current: string[];
  /** Seed 002 §2 before the canary: the policy's soak (and its length), a signed waiver, or none. */
  stagingSoak: { kind: 'soak'; durationMs: number } | { kind: 'waiver' } | { kind: 'none' };
  phases: PlannedPhase[];
  watchForGreenMs: number;
  /** Soak, holds and watch for green end to end: the earliest the programme can end recovered. */
  shortestMs: number;
}

export type ReenablementStatus = RunbookStatus<ReenablementDetail>;

export type ReenablementOutcome =
  /** An incident's change freeze is in force and the input does not cross it (seed 004 §1.3). */
  | 'refused_change_freeze'
  | 'recovered'
  | 'needs_human_aborted'
  | 'rolled_back'
  | 'rollout_failed'
  | 'watch_for_green_failed'
  | 'aborted'
  | 'rejected'
  | 'approval_expired'
  /** Seed 002 §2: the fix did not pass its staging soak; nothing was re-enabled ("continue fix iteration"). */
  | 'staging_soak_failed'
  /** No signed waiver of the staging soak arrived in time; nothing was re-enabled. */
  | 'staging_soak_waiver_expired'
  /** Plan only (`dryRun`): the plan is in `dryRun`, nothing was changed. */
  | 'dry_run'
  | 'invalid_input';

export interface ReenablementResult {
  runbook: typeof PHASED_REENABLEMENT;
  outcome: ReenablementOutcome;
  message: string;
  incidentId: string;
  workflowId: string;
  reposLive: string[];
  lastGood: string[];
  abort?: ReenablementDetail['abort'];
  alertRules?: ReenablementDetail['alertRules'];
  phasesCompleted: ReenablementDetail['phasesCompleted'];
  analyses: AnalysisRecord[];
  analysisCount: number;
  stagingSoak?: StagingSoakRecord;
  dryRun?: ReenablementDryRun;
  steps: StepRecord[];
  deadlines: DeadlineRecord[];
  refusedAttempts: RefusedAttempt[];
  flags: Finding[];
  notices: NoticeRecord[];
  /** The run's policy was a test-only one (durations below the seeds'). */
  testOnlyShortDurations?: true;
  /** Runs the programme took (present once it continued as new; steps, notices and analyses are the last run's). */
  runs?: number;
}

/** The workflow's message contract: its input and the payloads it handles (see MessageContract). */
export const phasedReenablementContract: MessageContract = {
  workflowType: PHASED_REENABLEMENT,
  version: 1,
  input: phasedReenablementInputSchema,
  messages: {
    ...GATE_MESSAGES,
    pause: pausePayloadSchema,
    resume: resumePayloadSchema,
    waiveStagingSoak: waiveStagingSoakPayloadSchema,
  },
};
