import { defineSignal, defineUpdate } from '@temporalio/workflow';
import { stepDecisionPayloadSchema, type MessageContract, type DecisionAnswer } from '../shared/messages';
import { z } from 'zod';
import { sharedOnFirstUse, sharedSchemas } from '../../common/shared-schemas';
import type { GitHubIssue, HttpProbe, StoryProgramRef, StoryWaiverUsed, WorkPackage } from '../../activities';
import { checkpointSchedule, mergeDayStartMs, type CheckpointName } from '../../common/backstop';
import { utcIso } from '../../common/duration';
import { runStartSearchAttributes, type RunStartOptions } from '../../common/search-attributes';
import { storyGitHubSchema, storyOpenProjectSchema } from '../../common/policy/story';
import { storyIdSchema } from '../../common/names';
import { handleSchema } from '../../common/identity';
import type { NoticeRecord } from '../shared/notices';
import {
  runTrailSchema,
  type Finding,
  type RefusedAttempt,
  type RunbookStatus,
  type StepRecord,
} from '../shared/run-record';

export { statusQuery } from '../shared/messages';

/** Seed 001 §6.bis: the T+30/60/90/120 backstop of one story, as one durable program. */
export const BACKSTOP_PROGRAM = 'backstopProgram';

export { storyIdSchema };

export function backstopWorkflowId(storyId: string): string {
  return `backstop-${storyId}`;
}

/** A programme's memo summary: the story, its merge and when T+90 falls (ISO instants). */
export function backstopMemoSummary(
  storyId: string,
  mergeSha: string,
  mergeDay: string,
  t90At: string,
): string {
  return `Backstop of ${storyId} (merge ${mergeSha.slice(0, 7)} on ${mergeDay.slice(0, 10)}): T+90 ${t90At}`;
}

/**
 * What a starter gives a programme's start (the CLI, the bench): the search attributes and memo the
 * run would otherwise write before it sleeps (from 0.33.0: two history events and two visibility
 * writes fewer per programme). A run started without them (the Web UI) writes them itself.
 */
export function backstopStartOptions(input: {
  storyId: string;
  mergeSha: string;
  mergedAt: string;
}): RunStartOptions {
  const mergedAtMs = Date.parse(input.mergedAt);
  return {
    typedSearchAttributes: runStartSearchAttributes(BACKSTOP_PROGRAM, input.storyId),
    memo: {
      summary: backstopMemoSummary(
        input.storyId,
        input.mergeSha,
        utcIso(mergeDayStartMs(mergedAtMs)),
        utcIso(checkpointSchedule(mergedAtMs)[2]!.atMs),
      ),
    },
  };
}

/** How much evidence a continued run carries: every checkpoint's reading, its lists trimmed. */
export const EVIDENCE_CARRIED = 12;
export const LISTED_CARRIED = 50;

/**
 * What a run hands to the next when it continues as new after a checkpoint (one logical program,
 * one workflow id, a short history per run): set by the workflow itself, never by whoever starts
 * a program (a run that was not continued and carries it is refused). Evidence is summarised:
 * each checkpoint's reading with its lists trimmed to LISTED_CARRIED.
 */
function buildCarrySchema() {
  const checkpointNameSchema = z.enum(['T+30', 'T+60', 'T+90', 'T+120']);
  const decisionKindSchema = z.enum(['self_review', 'waiver', 'revert', 'park']);
  return z
    .object({
      /** Runs before this one (1 for the first continuation). */
      runsBefore: z.number().int().min(1),
      /** When the first run started (UTC): catch-up is judged from it. */
      programStartedAt: z.string(),
      /** The checkpoint this run waits for next (index into T+30, T+60, T+90, T+120). */
      nextCheckpointIndex: z.number().int().min(1).max(3),
      /** How the first run took its story and kept decisions, kept for the whole program. */
      modes: z
        .object({ storyFromPolicy: z.boolean(), storyLedger: z.boolean(), catchUp: z.boolean() })
        .strict(),
      dri: z.string(),
      /** Besides the DRI, who may decide (from the policy when the program started). */
      deciders: z.array(z.string()).max(100),
      checkpoints: z
        .array(
          z
            .object({
              name: checkpointNameSchema,
              at: z.string(),
              state: z.enum(['pending', 'evaluated', 'not_needed']),
              verdict: z.string().optional(),
              evaluatedLateAt: z.string().optional(),
            })
            .strict(),
        )
        .length(4),
      evidence: z
        .array(
          z.looseObject({
            checkpoint: checkpointNameSchema,
            dueAt: z.string(),
            evaluatedAt: z.string(),
            children: z
              .array(z.looseObject({ id: z.number(), status: z.string() }))
              .max(LISTED_CARRIED)
              .optional(),
            gateFailureIssues: z
              .array(z.looseObject({ number: z.number() }))
              .max(LISTED_CARRIED)
              .optional(),
            shipped: z.boolean(),
            verdict: z.string(),
          }),
        )
        .max(EVIDENCE_CARRIED),
      awaiting: z
        .object({
          kind: z.enum(['self_review', 't90_decision']),
          since: z.string(),
          escalations: z.number().int().min(0),
          nextEscalationAt: z.string().optional(),
        })
        .strict()
        .optional(),
      decisions: z
        .array(
          z
            .object({
              by: z.string(),
              decision: decisionKindSchema,
              rationale: z.string(),
              at: z.string(),
              checkpoint: checkpointNameSchema,
              recordedOn: z.number().int().optional(),
            })
            .strict(),
        )
        .max(20),
      waiver: z.object({ by: z.string(), at: z.string(), until: z.string() }).strict().optional(),
      story: z.looseObject({}).optional(),
      gateFailureIssue: z.object({ number: z.number().int(), url: z.string() }).strict().optional(),
      /** Steps, notices and findings of the runs before (the latest), shown again in `status`. */
      trail: runTrailSchema(),
    })
    .strict();
}

/** Built on first use (only a continued run's input carries one), then shared (see sharedSchemas). */
export const backstopCarrySchema = sharedOnFirstUse(
  'workflows/backstop-program/definitions#carry',
  buildCarrySchema,
);
export type BackstopCarry = z.output<ReturnType<typeof buildCarrySchema>>;

export const { backstopInputSchema, decisionPayloadSchema } = sharedSchemas(
  'workflows/backstop-program/definitions',
  () => ({
    backstopInputSchema: z
      .object({
        storyId: storyIdSchema,
        mergeSha: z.string().regex(/^[0-9a-f]{7,40}$/, 'must be a git SHA (7–40 lower-case hex)'),
        /** UTC ISO 8601 with "Z" (e.g. 2026-05-12T00:00:00Z): the day of it counts, not the hour. */
        mergedAt: z.iso.datetime({
          message: 'must be a UTC ISO timestamp ending in "Z", e.g. 2026-05-12T00:00:00Z',
        }),
        /**
         * Deprecated: runs since `backstop-story-from-policy-v1` take these from the policy's
         * `runbooks.backstop.stories` and refuse them here; kept (optional) so that older runs'
         * inputs still parse.
         */
        dri: handleSchema.optional(),
        openProject: storyOpenProjectSchema.optional(),
        github: storyGitHubSchema.optional(),
        consoleRestoreProbeUrl: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).optional(),
        /** A second program for a story that already had one: who reopens it and why (recorded). */
        reopen: z
          .object({
            by: handleSchema,
            reason: z.string().trim().min(1, 'a reopen needs its reason').max(2_000),
          })
          .strict()
          .optional(),
        /** Set by the run itself when it continues as new (see backstopCarrySchema). */
        continued: z.lazy(backstopCarrySchema).optional(),
        /**
         * Plan only: the program's policy is read, nothing is claimed, slept on, sent or written; the
         * run ends `dry_run` with the schedule and what each checkpoint reads (detail.dryRun).
         * Optional with no default: a default would be written into every continued run's input.
         */
        dryRun: z.boolean().optional(),
      })
      .strict(),
    decisionPayloadSchema: z
      .object({
        by: handleSchema,
        /** self_review answers the T+60 yellow flag; waiver / revert / park answer the T+90 escalation. */
        decision: z.enum(['self_review', 'waiver', 'revert', 'park']),
        rationale: z.string().trim().min(1, 'a decision needs its rationale').max(4_000),
      })
      .strict(),
  }),
);
export type BackstopInput = z.input<typeof backstopInputSchema>;
export type ParsedBackstopInput = z.output<typeof backstopInputSchema>;

const INPUT_TARGETS = ['dri', 'openProject', 'github', 'consoleRestoreProbeUrl'] as const;

/** The deprecated targets the input names: they come from the policy, so a new program given any is refused. */
export function targetsInInput(input: BackstopInput): string[] {
  return INPUT_TARGETS.filter((field) => input[field] !== undefined);
}

export type DecisionPayload = z.input<typeof decisionPayloadSchema>;
export const recordDecisionSignal = defineSignal<[DecisionPayload]>('recordDecision');
export const recordDecisionMessage = {
  signal: recordDecisionSignal,
  update: defineUpdate<DecisionAnswer, [DecisionPayload]>('recordDecision'),
  schema: decisionPayloadSchema,
};

export interface CheckpointEvidence {
  checkpoint: CheckpointName;
  /** When the checkpoint was due and when it was evaluated (UTC). */
  dueAt: string;
  evaluatedAt: string;
  epic?: WorkPackage & { checkedAt: string };
  children?: (WorkPackage & { checkedAt: string })[];
  gateFailureIssues?: GitHubIssue[];
  gateFailureCheckedAt?: string;
  probe?: HttpProbe;
  shipped: boolean;
  verdict: string;
  /** What could not be read (the checkpoint is read again later). */
  unavailable?: string[];
  /** The checkpoint had passed when the program started: evaluated then (UTC), once. */
  evaluatedLateAt?: string;
  /** Carried into a continued run with its lists trimmed: how many there were. */
  childrenTotal?: number;
  gateFailureIssuesTotal?: number;
}

export interface DecisionRecord {
  by: string;
  decision: DecisionPayload['decision'];
  rationale: string;
  at: string;
  checkpoint: CheckpointName;
  recordedOn?: number;
}

export interface CheckpointState {
  name: CheckpointName;
  at: string;
  state: 'pending' | 'evaluated' | 'not_needed';
  verdict?: string;
  /** The checkpoint had passed when the program started: evaluated then (UTC), once. */
  evaluatedLateAt?: string;
}

export interface BackstopDetail {
  storyId: string;
  mergeSha: string;
  mergedAt: string;
  mergeDay: string;
  dri: string;
  checkpoints: CheckpointState[];
  next?: { checkpoint: CheckpointName; at: string };
  evidence: CheckpointEvidence[];
  awaiting?: {
    kind: 'self_review' | 't90_decision';
    since: string;
    escalations: number;
    nextEscalationAt?: string;
  };
  decisions: DecisionRecord[];
  waiver?: { by: string; at: string; until: string };
  /** The program this run belongs to, once it has continued as new (run 2 onwards). */
  program?: { run: number; startedAt: string };
  /** The story beyond this run (Postgres): how this program was reopened, a waiver an earlier one used. */
  story?: {
    reopened?: {
      by: string;
      reason: string;
      at: string;
      previous: { workflowId: string; runId: string; outcome?: string };
    };
    waiverUsed?: { by: string; at: string; workflowId: string; runId: string };
  };
  gateFailureIssue?: { number: number; url: string };
  revertIssue?: { number: number; url: string };
  /** `skipped`: a human said the revert was done by hand after the command failed. */
  revertCommand?: { ok: boolean; exitCode: number | null; detail: string; skipped?: boolean };
  /** Plan only (`dryRun`): what the program would do. */
  dryRun?: BackstopDryRun;
  /** The releaseRollback child (helm tag pin, else merge revert) a revert started. */
  releaseRollback?: {
    workflowId: string;
    runId?: string;
    state: 'running' | 'completed' | 'failed' | 'already_running';
    outcome?: string;
    message?: string;
  };
}

/** A planned checkpoint: when it falls, whether it is past already (evaluated at once, marked late), and what it does. */
export interface PlannedCheckpoint {
  name: CheckpointName;
  at: string;
  late: boolean;
  does: string;
}

/** What a dry run found the program would do (`dryRun`): nothing was claimed, sent or written. */
export interface BackstopDryRun {
  dri: string;
  /** Besides the DRI, who may record decisions (the policy's and the story's). */
  deciders: string[];
  checkpoints: PlannedCheckpoint[];
  /** What every checkpoint reads. */
  reads: {
    openProject: { channel: string; epicId: number; storyWorkPackageId: number };
    gitHub: { channel: string; repository: string; label: string; search: string };
    consoleRestoreProbeUrl: string;
  };
  /** How a revert is carried out, besides the [revert] issue and the page. */
  revert: string;
  /** How long the T+90 decision may stay open before the DRI is escalated to again. */
  decisionWindowMs: number;
  /**
   * What the story's ledger holds, as the real start's claim would meet it (since 0.16.0): a first
   * program, one refused without a reopen, one whose reopen would be recorded, or unread (Postgres
   * did not answer). Absent in dry runs of earlier releases.
   */
  storyLedger?: {
    state: 'first_program' | 'reopen_needed' | 'reopen_recorded' | 'unread';
    previous?: StoryProgramRef;
    waiverUsed?: StoryWaiverUsed;
    error?: string;
    /** The same in a sentence (it ends the result's message). */
    says: string;
  };
}

export type BackstopStatus = RunbookStatus<BackstopDetail>;

/** `aborted`: a step failed for good and the DRI (or a decider) chose to end the program. */
/** `cancelled` is kept in the story's ledger only: a cancelled run ends CANCELED, with no result. */
/** `dry_run`: plan only; the plan is in `detail.dryRun`, nothing was claimed, sent or written. */
export type BackstopOutcome =
  'shipped' | 'reverted' | 'reverted_mandatory' | 'parked' | 'aborted' | 'cancelled' | 'dry_run';

export interface BackstopResult {
  runbook: typeof BACKSTOP_PROGRAM;
  outcome: BackstopOutcome;
  message: string;
  storyId: string;
  workflowId: string;
  detail: BackstopDetail;
  steps: StepRecord[];
  refusedAttempts: RefusedAttempt[];
  flags: Finding[];
  notices: NoticeRecord[];
  /** The run's policy was a test-only one (durations below the seeds'). */
  testOnlyShortDurations?: true;
  /** Runs the program took (present once it continued as new; steps and notices are carried). */
  runs?: number;
}

/** The workflow's message contract: its input and the payloads it handles (see MessageContract). */
export const backstopProgramContract: MessageContract = {
  workflowType: BACKSTOP_PROGRAM,
  version: 1,
  input: backstopInputSchema,
  messages: { stepDecision: stepDecisionPayloadSchema, recordDecision: decisionPayloadSchema },
};
