import { defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import type { ChangeFreeze, PreservedEvidence } from '../../activities';
import { incidentIdSchema } from '../../common/break-glass';
import { handleSchema } from '../../common/identity';
import {
  FIRST_STEPS,
  INCIDENT_CONDITIONS,
  INCIDENT_ROLES,
  SEVERITIES,
  type FirstStep,
  type IncidentCondition,
  type IncidentRole,
  type Severity,
} from '../../common/incident';
import type { DecisionAnswer, MessageContract } from '../shared/messages';
import { stepDecisionPayloadSchema } from '../shared/messages';
import type { NoticeRecord } from '../shared/notices';
import { runTrailSchema } from '../shared/run-record';
import type { Finding, RefusedAttempt, RunbookStatus, StepRecord } from '../shared/run-record';
import { sharedOnFirstUse } from '../../common/shared-schemas';

export { statusQuery } from '../shared/messages';

/** Seed 004: the incident itself (severity ladder, first 10 minutes, freeze, roles, review). */
export const INCIDENT = 'incident';

/** The runbooks an incident can start as its children (seed 004 §1.2 "stop the bleeding", §6). */
export const CHILD_RUNBOOKS = [
  'rollbackToPilot',
  'phasedReenablement',
  'breakGlassRestore',
  'breakGlassConsoleEdit',
  'breakGlassOverwriteRecovery',
  'breakGlassRebootstrap',
] as const;
export type ChildRunbook = (typeof CHILD_RUNBOOKS)[number];

/** A runbook the incident started, as its status shows it. */
export interface IncidentRunbook {
  runbook: ChildRunbook;
  workflowId: string;
  runId?: string;
  startedBy: string;
  requestedAt: string;
  state: 'waiting_for_preservation' | 'running' | 'completed' | 'failed';
  outcome?: string;
  message?: string;
}

export function incidentWorkflowId(incidentId: string): string {
  return `incident-${incidentId}`;
}

/**
 * The incident's schemas, built on first use. Every workflow module is evaluated once per run of
 * any type (the SDK's per-run context), so schemas built at module level cost every backstop
 * program too; these are built only by incident runs (and clients).
 */
function buildSchemas() {
  const severity = z.enum(SEVERITIES, { error: 'must be P0, P1, P2 or P3' });
  const text = (max: number) => z.string().trim().min(1).max(max);
  const by = handleSchema;
  return {
    input: z
      .object({
        incidentId: incidentIdSchema,
        /** Seed 004 §0: P0 production down / data loss / security; P1 major feature broken; P2 degraded; P3 cosmetic. */
        severity,
        symptoms: text(2_000),
        impact: text(2_000),
        /** Seed 004 §1.1: one incident commander (P0: must acknowledge within 15 min). */
        incidentCommander: handleSchema,
        declaredBy: handleSchema,
        /** Seed 004 §8: what is happening, for who to page (data_breach starts the 72-hour clock). */
        conditions: z.array(z.enum(INCIDENT_CONDITIONS)).max(INCIDENT_CONDITIONS.length).default([]),
        /** Seed 004 §1.5: a customer-facing status update when a customer is affected. */
        customersAffected: z.boolean().default(false),
        /** The environment a P0/P1 freezes (default: the policy's, e.g. "production"). */
        environment: z
          .string()
          .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a lower-case environment name like "production"')
          .optional(),
        /**
         * Plan only (a game day's rehearsal): who would be paged, what would be frozen, kept and
         * posted, and the clocks that would run; nothing is sent, frozen or posted and the run ends
         * `dry_run` at once. Optional, with no default.
         */
        dryRun: z.boolean().optional(),
        /** Set by the run itself when it continues as new (see incidentCarry below); never by whoever declares. */
        continued: incidentCarry(severity).optional(),
      })
      .strict(),
    acknowledge: z.object({ by }).strict(),
    postUpdate: z.object({ by, text: text(4_000) }).strict(),
    changeSeverity: z.object({ by, severity, reason: text(1_000) }).strict(),
    checklist: z
      .object({
        by,
        item: z.enum(FIRST_STEPS, { error: `must be one of ${FIRST_STEPS.join(', ')}` }),
        note: text(1_000).optional(),
      })
      .strict(),
    assignRole: z
      .object({
        by,
        role: z.enum(INCIDENT_ROLES, { error: `must be one of ${INCIDENT_ROLES.join(', ')}` }),
        handle: handleSchema,
      })
      .strict(),
    declareBreach: z
      .object({
        by,
        scope: text(2_000),
        /** When the organisation became aware (the 72 hours run from it); default: now. */
        awareSince: z.iso.datetime({ message: 'must be a UTC instant like 2026-12-01T03:12:00Z' }).optional(),
      })
      .strict(),
    breachNotified: z.object({ by, reference: text(500), subjectsNotified: z.boolean().optional() }).strict(),
    resolve: z.object({ by, summary: text(4_000) }).strict(),
    startRunbook: z
      .object({
        by,
        runbook: z.enum(CHILD_RUNBOOKS, { error: `must be one of ${CHILD_RUNBOOKS.join(', ')}` }),
        /** The runbook's own input; the incident sets its incidentId (and crosses its own freeze). */
        input: z.record(z.string(), z.unknown()),
      })
      .strict(),
    fileReview: z
      .object({
        by,
        documentUrl: z.url({
          protocol: /^https?$/,
          message: 'must be the http(s) link to the post-mortem',
        }),
      })
      .strict(),
  };
}

/** What an incident carries to a new run (one of each at most: what the status keeps). */
export const CARRIED = {
  events: 100,
  alarmsFired: 200,
  pagesOpen: 200,
  severityHistory: 100,
  runbooks: 100,
  nonConformities: 200,
  /** Side effects queued behind one that waits for a human (status page updates kept to the latest). */
  effects: 50,
  /** And their size as JSON (a runbook's input is unbounded; the carry must stay well under 2 MB). */
  effectBytes: 500_000,
} as const;

/** Messages held while a run hands over (see IncidentRun.hold): at most so many, so many bytes. */
export const HELD = { messages: 500, bytes: 600_000 } as const;

/**
 * What a run hands to the next when its history grows long (continue-as-new, same workflow id):
 * the incident's state as it stands, its deadlines, findings, latest events and open pages. Set
 * by the workflow itself only, so its detail is taken as it was written (a run that was not
 * continued and carries it is refused).
 */
function incidentCarry(severity: z.ZodType<Severity>) {
  const finding = z.object({ code: z.string(), message: z.string(), at: z.string() }).strict();
  return z
    .object({
      /** Runs before this one (1 for the first continuation). */
      runsBefore: z.number().int().min(1),
      /** When the incident's first run started (its status's startedAt). */
      startedAt: z.string(),
      /** Why the last run handed over: its history's events and bytes then. */
      handedOver: z.object({ at: z.string(), events: z.number().int(), bytes: z.number().int() }).strict(),
      detail: z.looseObject({ severity, declaredAt: z.string() }),
      deadlines: z.array(
        z.object({
          name: z.string(),
          dueAt: z.string(),
          state: z.string(),
          resolvedAt: z.string().optional(),
        }),
      ),
      nonConformities: z.array(finding),
      /** Non-conformities left out by the hand-overs so far (one line of `nonConformities` says so). */
      nonConformitiesOmitted: z.number().int().min(0).optional(),
      events: z
        .array(z.looseObject({ at: z.string(), kind: z.string(), message: z.string() }))
        .max(CARRIED.events),
      eventsOmitted: z.number().int().min(0),
      /** The clock's alarms already fired that the incident's state still asks for (clock.ts). */
      alarmsFired: z.array(z.string()).max(CARRIED.alarmsFired),
      pagesOpen: z
        .array(
          z.looseObject({
            dedupKey: z.string(),
            kind: z.string(),
            audience: z.string(),
            subject: z.string(),
          }),
        )
        .max(CARRIED.pagesOpen),
      statusPageUpdates: z.number().int().min(0),
      /**
       * Side effects not yet done, in order: the first may be one that failed and waits for a
       * human (`waiting`), taken up by the new run as the same wait. Absent before 0.28.0.
       */
      effects: z.array(pendingEffect()).max(CARRIED.effects).optional(),
      waiting: z
        .object({
          needs: z.looseObject({ step: z.string(), since: z.string(), pages: z.number().int() }),
          episode: z.number().int().min(1),
          decision: z
            .object({
              decision: z.enum(['retry', 'skip', 'abort']),
              by: z.string(),
              reason: z.string().optional(),
            })
            .strict()
            .optional(),
        })
        .strict()
        .optional(),
      /** Messages that came while the run handed over, oldest first: the new run acts on them first. */
      held: z
        .array(z.object({ name: z.string(), payload: z.unknown(), at: z.string() }).strict())
        .max(HELD.messages),
      trail: runTrailSchema(),
    })
    .strict();
}

/** One of the incident's own side effects, as data (effects.ts performs it). */
function pendingEffect() {
  return z.discriminatedUnion('effect', [
    z.object({ effect: z.literal('freeze'), environment: z.string(), by: z.string() }).strict(),
    z.object({ effect: z.literal('lift'), by: z.string() }).strict(),
    z
      .object({
        effect: z.literal('status_page'),
        action: z.enum(['create', 'update', 'resolve']),
        status: z.enum(['investigating', 'identified', 'resolved']),
        body: z.string(),
        updateKey: z.string(),
      })
      .strict(),
    z.object({ effect: z.literal('preserve') }).strict(),
    z
      .object({
        effect: z.literal('start_runbook'),
        runbook: z.enum(CHILD_RUNBOOKS),
        workflowId: z.string(),
        input: z.record(z.string(), z.unknown()),
        by: z.string(),
      })
      .strict(),
  ]);
}

type IncidentSchemas = ReturnType<typeof buildSchemas>;
export const incidentSchemas = sharedOnFirstUse('workflows/incident/definitions', buildSchemas);

export type IncidentInput = z.input<IncidentSchemas['input']>;
export type IncidentInputParsed = z.output<IncidentSchemas['input']>;
export type IncidentCarry = z.output<ReturnType<typeof incidentCarry>>;
export type HeldMessage = IncidentCarry['held'][number];
export type PendingEffect = z.output<ReturnType<typeof pendingEffect>>;
export type AcknowledgePayload = z.input<IncidentSchemas['acknowledge']>;
export type PostUpdatePayload = z.input<IncidentSchemas['postUpdate']>;
export type ChangeSeverityPayload = z.input<IncidentSchemas['changeSeverity']>;
export type ChecklistPayload = z.input<IncidentSchemas['checklist']>;
export type AssignRolePayload = z.input<IncidentSchemas['assignRole']>;
export type DeclareBreachPayload = z.input<IncidentSchemas['declareBreach']>;
export type BreachNotifiedPayload = z.input<IncidentSchemas['breachNotified']>;
export type ResolvePayload = z.input<IncidentSchemas['resolve']>;
export type FileReviewPayload = z.input<IncidentSchemas['fileReview']>;
export type StartRunbookPayload = z.input<IncidentSchemas['startRunbook']>;

type MessageName = Exclude<keyof IncidentSchemas, 'input'>;

/** A message as a signal and an Update of the same name (see handleDecision); its schema is built on first use. */
function message<P>(name: MessageName) {
  return {
    signal: defineSignal<[P]>(name),
    update: defineUpdate<DecisionAnswer, [P]>(name),
    get schema(): z.ZodType {
      return incidentSchemas()[name];
    },
  };
}

export const acknowledgeMessage = message<AcknowledgePayload>('acknowledge');
export const postUpdateMessage = message<PostUpdatePayload>('postUpdate');
export const changeSeverityMessage = message<ChangeSeverityPayload>('changeSeverity');
export const checklistMessage = message<ChecklistPayload>('checklist');
export const assignRoleMessage = message<AssignRolePayload>('assignRole');
export const declareBreachMessage = message<DeclareBreachPayload>('declareBreach');
export const breachNotifiedMessage = message<BreachNotifiedPayload>('breachNotified');
export const resolveMessage = message<ResolvePayload>('resolve');
export const fileReviewMessage = message<FileReviewPayload>('fileReview');
export const startRunbookMessage = message<StartRunbookPayload>('startRunbook');

export interface SeverityChange {
  severity: Severity;
  at: string;
  by: string;
  reason: string;
}

export interface FirstStepRecord {
  item: FirstStep;
  doneAt?: string;
  by?: string;
  note?: string;
}

export interface IncidentDetail {
  severity: Severity;
  severityHistory: SeverityChange[];
  symptoms: string;
  impact: string;
  customersAffected: boolean;
  conditions: IncidentCondition[];
  environment: string;
  declaredBy: string;
  declaredAt: string;
  commander: {
    handle: string;
    acknowledgedAt?: string;
    ackDueAt?: string;
    pages: number;
    /** Set once the pages slowed (unanswered a day, on a long history: see history-budget): the next one. */
    nextPageAt?: string;
  };
  roles: Partial<Record<IncidentRole, string[]>>;
  /** Seed 004 §1 for a P0/P1: who did what, when. */
  firstSteps: FirstStepRecord[];
  updates: { count: number; lastAt?: string; lastBy?: string; nextDueAt?: string; missed: number };
  freeze?: { state: 'frozen' | 'lifted' | 'failed' | 'skipped'; record?: ChangeFreeze; note?: string };
  breach?: {
    scope: string;
    awareSince: string;
    dueAt: string;
    escalations: string[];
    notifiedAt?: string;
    notifiedBy?: string;
    reference?: string;
    missed?: true;
  };
  resolution?: { at: string; by: string; summary: string };
  /** Seed 004 §1.4: what was kept before any runbook mutated (artifacts: path and sha256). */
  preservation?: { state: 'running' | 'done' | 'skipped'; evidence?: PreservedEvidence; note?: string };
  /** Runbooks started by the incident (children), with their state. */
  runbooks: IncidentRunbook[];
  /** Entries no longer in `severityHistory` / `runbooks` (left behind when the run continued as new). */
  severityChangesOmitted?: number;
  runbooksOmitted?: number;
  /** Status page updates never posted, each superseded by a later one (the page slow or down; since 0.29.0). */
  statusPageUpdatesLeftOut?: number;
  /**
   * Set once the incident continued as new (its history grew long: Temporal ends a run at its
   * history limit): how many runs it took, the latest hand-over.
   */
  continuedAsNew?: { runs: number; lastAt: string; events: number };
  /** Plan only (`dryRun`): what declaring it would do. */
  dryRun?: IncidentDryRun;
  review?: {
    dueAt: string;
    reminded?: true;
    escalations: number;
    filedAt?: string;
    by?: string;
    documentUrl?: string;
  };
}

/** What declaring the incident would do (`dryRun`): nothing was sent, frozen or posted. */
export interface IncidentDryRun {
  commander: string;
  /** Paged at the declaration (seed 004 §8), by the conditions given. */
  paged: string[];
  /** P0/P1: the environment frozen, so mutating runbooks refuse to act on it without an override. */
  freeze?: string;
  /** P0/P1: logs, metrics and a database reference kept before any runbook mutates. */
  preserve: boolean;
  /** A customer affected: the status page incident created (or, with no page in the policy, a flag). */
  statusPage?: { service: string } | { missing: true };
  /** P0: the commander acknowledges within this, paged again every `repageEveryMs` until then. */
  commanderAck?: { withinMs: number; repageEveryMs: number };
  /** P0/P1: an update is due this often; the first-10-minutes checklist is due after `firstStepsWithinMs`. */
  updates?: { everyMs: number; firstStepsWithinMs: number };
  /** data_breach: the regulator notified within this, escalated to these people. */
  breach?: { notifyWithinMs: number; recipients: string[] };
  /** The post-incident review, due this many business days after the resolution. */
  reviewWithinBusinessDays: number;
}

export type IncidentStatus = RunbookStatus<IncidentDetail>;

/** `dry_run`: plan only; the plan is in `detail.dryRun`, nothing was sent, frozen or posted. */
export type IncidentOutcome = 'resolved_and_reviewed' | 'resolved_review_late' | 'dry_run';

export interface IncidentResult {
  runbook: typeof INCIDENT;
  outcome: IncidentOutcome;
  message: string;
  incidentId: string;
  workflowId: string;
  detail: IncidentDetail;
  steps: StepRecord[];
  refusedAttempts: RefusedAttempt[];
  nonConformities: Finding[];
  flags: Finding[];
  notices: NoticeRecord[];
  testOnlyShortDurations?: true;
}

/** The workflow's message contract (see MessageContract): additive changes only. Built on first use. */
export const incidentContract: MessageContract = {
  workflowType: INCIDENT,
  version: 1,
  get input() {
    return incidentSchemas().input;
  },
  get messages() {
    const { input: _input, ...messages } = incidentSchemas();
    return { ...messages, stepDecision: stepDecisionPayloadSchema };
  },
};
