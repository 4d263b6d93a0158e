import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import { handleSchema } from '../../common/identity';
import { sshSignatureSchema } from '../../common/signatures';
import { sharedSchemas } from '../../common/shared-schemas';
import type { RefusalReason, RunbookStatus } from './run-record';

/**
 * Signals every gated runbook understands. Signals carry no trusted sender identity: the person
 * is named inside the single JSON argument (what the Web UI sends) and the workflow decides
 * whether it counts. Payloads are parsed with zod; a malformed one is refused and recorded.
 */

export const { approvePayloadSchema, rejectPayloadSchema, abortPayloadSchema, stepDecisionPayloadSchema } =
  sharedSchemas('workflows/shared/messages', () => ({
    approvePayloadSchema: z
      .object({
        approver: handleSchema,
        planHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be the 64-hex planHash shown in the status'),
        rationale: z.string().trim().min(1).max(1_000).optional(),
        /** A signed approval: the armored `ssh-keygen -Y sign -n durable-runbooks` output and the UTC instant signed. */
        signature: sshSignatureSchema.optional(),
        signedAt: z.iso
          .datetime({ message: 'must be the UTC instant in the signed text, e.g. 2026-12-01T03:12:00Z' })
          .optional(),
      })
      .strict(),

    rejectPayloadSchema: z
      .object({
        approver: handleSchema,
        reason: z.string().trim().min(1, 'a rejection needs a reason').max(1_000),
      })
      .strict(),

    abortPayloadSchema: z
      .object({
        by: handleSchema,
        reason: z.string().trim().min(1, 'an abort needs a reason').max(1_000),
        /** Re-enablement: leave the allowlist as it is instead of going back to the last good set. */
        keepLive: z.boolean().optional(),
      })
      .strict(),

    /** An operator's decision on a step that failed for good and waits for a human (`needs_human`). */
    stepDecisionPayloadSchema: z
      .object({
        by: handleSchema,
        decision: z.enum(['retry', 'skip', 'abort'], { error: 'must be retry, skip or abort' }),
        reason: z.string().trim().min(1).max(1_000).optional(),
      })
      .strict(),
  }));

/**
 * A workflow type's message contract, owned by its definitions.ts: the start input and the payload
 * of every signal / update it handles, by name. Changes are additive only (a new optional field,
 * a new enum value, a looser bound), because recorded histories and older clients must still
 * parse; a change that is not gets a new `version`, with the older shape still accepted (a union).
 * test/replay/contracts.test.ts holds each release's contracts to that.
 */
export interface MessageContract {
  workflowType: string;
  version: number;
  input: z.ZodType;
  messages: Record<string, z.ZodType>;
}

/** What every gated runbook handles: approve / reject / abort and the fail-safe's stepDecision. */
export const GATE_MESSAGES = {
  approve: approvePayloadSchema,
  reject: rejectPayloadSchema,
  abort: abortPayloadSchema,
  stepDecision: stepDecisionPayloadSchema,
};

export type ApprovePayload = z.input<typeof approvePayloadSchema>;
export type RejectPayload = z.input<typeof rejectPayloadSchema>;
export type AbortPayload = z.input<typeof abortPayloadSchema>;
export type StepDecisionPayload = z.input<typeof stepDecisionPayloadSchema>;

/**
 * What an Update answers at once: whether the decision counted and, if not, why (it is also in
 * the audit trail). Runs started since `decision-refusal-fails-update-v1` answer a refusal by
 * failing the Update (ApplicationFailure of type DECISION_REFUSED, this answer its first detail)
 * so that the Web UI, which shows only an Update's failure, shows why; `decide()` in
 * src/client turns either form back into this answer.
 */
export interface DecisionAnswer {
  accepted: boolean;
  reason?: RefusalReason;
  detail?: string;
  /** The run's step as it took the decision, before acting on it (the CLI reads the status after). */
  step: string;
}

/** The failure type of a refused decision sent as an Update. */
export const DECISION_REFUSED = 'DecisionRefused';

/**
 * The failure type of an Update that came while the run hands over to its next run (continue as
 * new): the run cannot act on it, nor tell whether the next run will, so it takes nothing in and
 * says to send it again; `decide()` does so by itself (the next run answers).
 */
export const RUN_HANDING_OVER = 'RunHandingOver';

export const approveSignal = defineSignal<[ApprovePayload]>('approve');
export const rejectSignal = defineSignal<[RejectPayload]>('reject');
export const abortSignal = defineSignal<[AbortPayload]>('abort');
/** retry / skip / abort a step shown as `needs_human`. */
export const stepDecisionSignal = defineSignal<[StepDecisionPayload]>('stepDecision');

/** The same decisions as Updates (same names, same payloads), answered with a DecisionAnswer. */
export const approveUpdate = defineUpdate<DecisionAnswer, [ApprovePayload]>('approve');
export const rejectUpdate = defineUpdate<DecisionAnswer, [RejectPayload]>('reject');
export const abortUpdate = defineUpdate<DecisionAnswer, [AbortPayload]>('abort');
export const stepDecisionUpdate = defineUpdate<DecisionAnswer, [StepDecisionPayload]>('stepDecision');

export const approveMessage = { signal: approveSignal, update: approveUpdate, schema: approvePayloadSchema };
export const rejectMessage = { signal: rejectSignal, update: rejectUpdate, schema: rejectPayloadSchema };
export const abortMessage = { signal: abortSignal, update: abortUpdate, schema: abortPayloadSchema };
export const stepDecisionMessage = {
  signal: stepDecisionSignal,
  update: stepDecisionUpdate,
  schema: stepDecisionPayloadSchema,
};

/** The whole run as the incident commander needs to see it: step, gate, deadlines, what ran. */
export const statusQuery = defineQuery<RunbookStatus>('status');
