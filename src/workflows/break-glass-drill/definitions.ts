import { GATE_MESSAGES, type MessageContract } from '../shared/messages';
import { z } from 'zod';
import type {
  ExecuteRestoreOutcome,
  HistoryRowSummary,
  RestorePlan,
  RestoreVerification,
} from '../../activities';
import { handleSchema } from '../../common/identity';
import type { BreakGlassDetail } from '../shared/break-glass/definitions';
import type { NoticeRecord } from '../shared/notices';
import type { Finding, RefusedAttempt, RunbookStatus, StepRecord } from '../shared/run-record';

export { abortSignal, approveSignal, rejectSignal, statusQuery } from '../shared/messages';

/** The 30-day break-glass drill (seed 000 "Dry-run drill template"). */
export const BREAK_GLASS_DRILL = 'breakGlassDrill';
/** The Schedule that starts it every 30 days (`npm run cli -- schedule-drill`). */
export const BREAK_GLASS_DRILL_SCHEDULE_ID = 'break-glass-drill';

export const breakGlassDrillInputSchema = z
  .object({
    /** Who runs the drill (the Schedule names itself). */
    requestedBy: handleSchema.default('@break-glass-drill'),
    note: z.string().max(500).optional(),
  })
  .strict()
  .prefault({});

export type BreakGlassDrillInput = z.input<typeof breakGlassDrillInputSchema>;

export type BreakGlassDrillOutcome =
  'drill_within_slo' | 'drill_over_slo' | 'drill_needs_tightening' | 'drill_not_completed';

export interface DrillSlo {
  /** Detected (drill start) → restore verified. */
  elapsedMs: number;
  sloMs: number;
  tightenAboveMs: number;
  verdict: 'within_slo' | 'over_slo' | 'needs_tightening';
}

export type BreakGlassDrillDetail = BreakGlassDetail<
  RestorePlan,
  ExecuteRestoreOutcome,
  RestoreVerification
> & {
  drillIncidentId: string;
  detectedAt: string;
  sentinelRowId?: number;
  versionsBack?: number;
  target?: HistoryRowSummary;
  sentinelCreated?: boolean;
  slo?: DrillSlo;
  log?: { path?: string; markdown: string; error?: string };
};

export type BreakGlassDrillStatus = RunbookStatus<BreakGlassDrillDetail>;

export interface BreakGlassDrillResult {
  runbook: typeof BREAK_GLASS_DRILL;
  outcome: BreakGlassDrillOutcome;
  message: string;
  workflowId: string;
  drillIncidentId: string;
  target?: HistoryRowSummary;
  slo?: DrillSlo;
  /** The drill log (also written to the policy's drill folder as YYYY-MM-DD-drill.md). */
  logMarkdown: string;
  logPath?: string;
  /** Why the log file was not written (skipped or aborted by a human after its write failed). */
  logError?: string;
  steps: StepRecord[];
  refusedAttempts: RefusedAttempt[];
  flags: Finding[];
  notices: NoticeRecord[];
  /** The run's policy was a test-only one (durations below the seeds'). */
  testOnlyShortDurations?: true;
}

/** The workflow's message contract: its input and the payloads it handles (see MessageContract). */
export const breakGlassDrillContract: MessageContract = {
  workflowType: BREAK_GLASS_DRILL,
  version: 1,
  input: breakGlassDrillInputSchema,
  messages: GATE_MESSAGES,
};
