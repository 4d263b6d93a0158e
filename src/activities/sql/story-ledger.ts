import type { Pool } from 'pg';
import { z } from 'zod';
import { parseInput } from '../validation';

/**
 * What a backstop story's programs decided, kept beyond any one run (seed 001: the waiver is
 * single-use per story, not per program). A program claims its story at its start: a story that
 * already had a program needs an explicit, recorded reopen, and a waiver granted by any earlier
 * program stays used. Every write is keyed by its run, so a retry after the commit writes nothing.
 */

const handle = z.string().min(1).max(100);
const storyRun = {
  storyId: z.string().min(1).max(100),
  workflowId: z.string().min(1).max(300),
  runId: z.string().min(1).max(100),
  at: z.iso.datetime(),
};

const claimInputSchema = z
  .object({
    ...storyRun,
    reopen: z
      .object({ by: handle, reason: z.string().min(1).max(2_000) })
      .strict()
      .optional(),
  })
  .strict();
export type ClaimStoryProgramInput = z.input<typeof claimInputSchema>;

export interface StoryProgramRef {
  workflowId: string;
  runId: string;
  startedAt: string;
  outcome?: string;
  endedAt?: string;
}

/** A waiver an earlier program of this story granted (single-use per story). */
export interface StoryWaiverUsed {
  by: string;
  at: string;
  workflowId: string;
  runId: string;
}

export type StoryClaim =
  | {
      allowed: true;
      reopened?: { by: string; reason: string; at: string; previous: StoryProgramRef };
      waiverUsed?: StoryWaiverUsed;
    }
  | { allowed: false; previous: StoryProgramRef };

/** What the story's ledger holds, read without claiming (a dry run): what a claim now would meet. */
export interface StoryLedgerView {
  /** The story's latest program; a new one then needs a recorded reopen. */
  previous?: StoryProgramRef;
  waiverUsed?: StoryWaiverUsed;
}

const decisionInputSchema = z
  .object({
    ...storyRun,
    index: z.number().int().min(0),
    by: handle,
    decision: z.enum(['self_review', 'waiver', 'revert', 'park']),
    rationale: z.string().min(1).max(4_000),
  })
  .strict();
export type RecordStoryDecisionInput = z.input<typeof decisionInputSchema>;

const endInputSchema = z.object({ ...storyRun, outcome: z.string().min(1).max(50) }).strict();
export type RecordStoryProgramEndInput = z.input<typeof endInputSchema>;

/** A story event as the claim function returns it (`at` in UTC ISO 8601 with milliseconds). */
interface EventRow {
  kind: string;
  workflow_id: string;
  run_id: string;
  by_handle: string | null;
  decision: string | null;
  outcome: string | null;
  at: string;
}

const INSERT_SQL = `INSERT INTO backstop_story_events
  (entry_key, story_id, kind, workflow_id, run_id, by_handle, decision, outcome, detail, at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz)
ON CONFLICT (entry_key) DO NOTHING`;

/**
 * The lock, the read and the inserts run in Postgres (`backstop_claim_story_v1`, RUNBOOK_DDL):
 * one round trip, where a transaction of its own took five. It decides and writes; this reads
 * the story's events as they were before the claim and says what they mean.
 */
export async function claimStoryProgram(db: Pool, raw: ClaimStoryProgramInput): Promise<StoryClaim> {
  const input = parseInput(claimInputSchema, raw, 'claimStoryProgram input');
  const { rows } = await db.query<{ allowed: boolean; events: EventRow[] }>(
    'SELECT allowed, events FROM backstop_claim_story_v1($1, $2, $3, $4::timestamptz, $5, $6)',
    [
      input.storyId,
      input.workflowId,
      input.runId,
      input.at,
      input.reopen?.by ?? null,
      input.reopen?.reason ?? null,
    ],
  );
  const claim = rows[0];
  if (!claim) throw new Error('backstop_claim_story_v1 returned no row');
  const events = claim.events;
  const mine = events.some((row) => row.kind === 'started' && row.run_id === input.runId);
  const earlier = events.filter((row) => row.run_id !== input.runId);
  const previous = latestProgram(earlier);
  if (!claim.allowed) {
    // The function refuses only a story that had another program: that program is named.
    if (!previous) throw new Error('backstop_claim_story_v1 refused a story without an earlier program');
    return { allowed: false, previous };
  }
  const waiverUsed = waiverUsedIn(earlier);
  const reopenedRow = events.find((row) => row.kind === 'reopened' && row.run_id === input.runId);
  const reopen = input.reopen;
  const reopened =
    previous && reopen && (mine ? reopenedRow !== undefined : true)
      ? { by: reopen.by, reason: reopen.reason, at: input.at, previous }
      : undefined;
  return { allowed: true, ...(reopened ? { reopened } : {}), ...(waiverUsed ? { waiverUsed } : {}) };
}

/**
 * The story's events as they stand, read without the claim's lock (nothing is written, and a
 * claim made a moment later decides by itself): the program a new start would meet.
 */
export async function readStoryLedger(db: Pool, storyId: string): Promise<StoryLedgerView> {
  const { rows } = await db.query<EventRow>(
    `SELECT e.kind, e.workflow_id, e.run_id, e.by_handle, e.decision, e.outcome,
            to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at
       FROM backstop_story_events e WHERE e.story_id = $1 ORDER BY e.at, e.entry_key`,
    [storyId],
  );
  const previous = latestProgram(rows);
  const waiverUsed = waiverUsedIn(rows);
  return { ...(previous ? { previous } : {}), ...(waiverUsed ? { waiverUsed } : {}) };
}

function waiverUsedIn(rows: EventRow[]): StoryWaiverUsed | undefined {
  const waiver = rows.find((row) => row.kind === 'decision' && row.decision === 'waiver');
  return (
    waiver && {
      by: waiver.by_handle ?? '?',
      at: waiver.at,
      workflowId: waiver.workflow_id,
      runId: waiver.run_id,
    }
  );
}

/** The story's latest program in `rows` (its start, and its end if recorded). */
function latestProgram(rows: EventRow[]): StoryProgramRef | undefined {
  const lastStart = rows.filter((row) => row.kind === 'started').at(-1);
  return lastStart && programRef(lastStart, rows);
}

function programRef(start: EventRow, rows: EventRow[]): StoryProgramRef {
  const end = rows.find((row) => row.kind === 'ended' && row.run_id === start.run_id);
  return {
    workflowId: start.workflow_id,
    runId: start.run_id,
    startedAt: start.at,
    ...(end ? { outcome: end.outcome ?? '?', endedAt: end.at } : {}),
  };
}

export async function recordStoryDecision(db: Pool, raw: RecordStoryDecisionInput): Promise<void> {
  const input = parseInput(decisionInputSchema, raw, 'recordStoryDecision input');
  await db.query(INSERT_SQL, [
    `${input.runId}/decision/${input.index}`,
    input.storyId,
    'decision',
    input.workflowId,
    input.runId,
    input.by,
    input.decision,
    null,
    input.rationale,
    input.at,
  ]);
}

export async function recordStoryProgramEnd(db: Pool, raw: RecordStoryProgramEndInput): Promise<void> {
  const input = parseInput(endInputSchema, raw, 'recordStoryProgramEnd input');
  await db.query(INSERT_SQL, [
    `${input.runId}/ended`,
    input.storyId,
    'ended',
    input.workflowId,
    input.runId,
    null,
    null,
    input.outcome,
    '',
    input.at,
  ]);
}
