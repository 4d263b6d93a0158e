import { defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DecisionAnswer } from '../shared/messages';
import { z } from 'zod';
import type { RepoAnalysis } from '../../activities';
import { incidentIdSchema } from '../../common/break-glass';
import { parseDuration } from '../../common/duration';
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

export { abortSignal, approveSignal, rejectSignal, statusQuery } from '../shared/messages';

/** RB-LAUNCH-002 §3 (seed 002) and "watch for green" (seed 003): re-enable repos in phases. */
export const PHASED_REENABLEMENT = 'phasedReenablement';

export function phasedReenablementWorkflowId(incidentId: string): string {
  return `phased-reenablement-${incidentId}`;
}

const holdText = z.string().refine((text) => (parseDuration(text) ?? 0) > 0, 'must be a duration like "2h"');

export const phasedReenablementInputSchema = z
  .object({
    incidentId: incidentIdSchema,
    requestedBy: handleSchema,
    pilotRepo: kubernetesName,
    canaryRepo: kubernetesName,
    phase2Repos: z.array(kubernetesName).min(1).max(5),
    /**
     * At most 40 (20 days at 2 a day, ~15k history events with analyses every 30 min): a run does not
     * continue-as-new, so the rest go in a follow-up run started from the last good set.
     */
    remainingRepos: z
      .array(kubernetesName)
      .max(40, 'at most 40 repos per run: start a follow-up run for the rest')
      .default([]),
    /** Within the policy's holdBounds. */
    holdOverrides: z
      .object({ canaryHold: holdText, phase2Hold: holdText, batchHold: holdText })
      .partial()
      .strict()
      .default({}),
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

export type Phase = 'starting' | 'canary' | 'phase2' | 'phase3' | 'watch_for_green' | 'done';

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
}

export type ReenablementStatus = RunbookStatus<ReenablementDetail>;

export type ReenablementOutcome =
  | 'recovered'
  | 'needs_human_aborted'
  | 'rolled_back'
  | 'rollout_failed'
  | 'watch_for_green_failed'
  | 'aborted'
  | 'rejected'
  | 'approval_expired'
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
  steps: StepRecord[];
  deadlines: DeadlineRecord[];
  refusedAttempts: RefusedAttempt[];
  flags: Finding[];
  notices: NoticeRecord[];
  /** The run's policy was a test-only one (durations below the seeds'). */
  testOnlyShortDurations?: true;
}
