import { z } from 'zod';
import { channelName, policyHandle } from '../names';
import { sshPublicKeySchema } from '../signatures';
import { backstopPolicySchema, checkBackstopFloors } from './backstop';
import { breakGlassPolicies, checkBreakGlassFloors, consoleSchema } from './break-glass';
import { failSafePolicySchema } from './fail-safe';
import { checkIncidentCeilings, incidentPolicySchema } from './incident';
import { DEFAULT_NOTIFICATIONS, notificationsSchema } from './notifications';
import { orchestratorSchema, prometheusSchema } from './orchestrator';
import { checkReenablementFloors, phasedReenablementPolicySchema } from './reenablement';
import { checkRollbackFloors, rollbackToPilotPolicySchema } from './rollback';
import { checkReleaseRollbackCeilings, releaseRollbackPolicySchema } from './release-rollback';

/**
 * The policy file: who may approve, how long the safety pauses and deadlines are, what the
 * target is called. It lives with the worker (validated at start), never in workflow input, so
 * an incident commander cannot shorten a safety pause from the UI. Each runbook's section is
 * defined beside its siblings in this folder and composed here.
 */
export const policySchema = z
  .object({
    policyVersion: z.literal(1),
    /**
     * Allows durations below the seed's floors. For the dev-server end-to-end tests only;
     * the worker logs a warning when it is on.
     */
    testOnlyShortDurations: z.boolean().default(false),
    /** Story the break-glass approval line names (seed 000: CVN-N001-EE-S17). */
    story: z.string().min(1),
    /** `change_reason` of the canonical seeding writes (seed 000, Procedure C). */
    seedingChangeReason: z.string().min(1),
    /** JSON object of the canonical (legacy bundle) `base_env`, relative to the policy file. */
    canonicalPayloadPath: z.string().min(1),
    /** Where the post-mortem is filed (seed 000: a comment on OP wp#153). */
    postMortemTarget: z.string().min(1),
    /** Post the post-mortem draft as a comment there: a work package (OpenProject) or an issue (GitHub). */
    postMortemComment: z
      .union([
        z.object({ channel: channelName, workPackageId: z.number().int().positive() }).strict(),
        z.object({ channel: channelName, issueNumber: z.number().int().positive() }).strict(),
      ])
      .optional(),
    notifications: notificationsSchema.prefault(DEFAULT_NOTIFICATIONS),
    /** Each approver's SSH public keys, for signed approvals (public keys only, never private). */
    signers: z.record(policyHandle, z.array(sshPublicKeySchema).min(1)).default({}),
    /** When a step fails for good: re-page interval and the safe-state retry backoff. */
    failSafe: failSafePolicySchema.prefault({}),
    console: consoleSchema,
    orchestrator: orchestratorSchema,
    prometheus: prometheusSchema,
    runbooks: z
      .object({
        ...breakGlassPolicies,
        rollbackToPilot: rollbackToPilotPolicySchema,
        phasedReenablement: phasedReenablementPolicySchema,
        backstop: backstopPolicySchema.prefault({}),
        /** Seed 004: the incident itself. Absent: this worker does not run incidents (a run says so). */
        incident: incidentPolicySchema.optional(),
        /** Seed 001 §5: helm tag pin, else merge revert. Absent: this worker does not run release rollbacks. */
        releaseRollback: releaseRollbackPolicySchema.optional(),
      })
      .strict(),
  })
  .strict()
  .superRefine((policy, ctx) => {
    if (policy.postMortemComment) {
      const channel = policy.notifications.channels[policy.postMortemComment.channel];
      const wanted = 'workPackageId' in policy.postMortemComment ? 'openproject' : 'github';
      if (channel?.type !== wanted) {
        ctx.addIssue({
          code: 'custom',
          path: ['postMortemComment', 'channel'],
          message: `must name a ${wanted} channel defined in notifications.channels`,
        });
      }
    }
    checkQuorums(policy.runbooks, ctx);
    if (policy.runbooks.incident) checkIncidentCeilings(policy.runbooks.incident, ctx);
    if (policy.runbooks.releaseRollback) checkReleaseRollbackCeilings(policy.runbooks.releaseRollback, ctx);
    checkSigners(policy.runbooks, policy.signers, ctx);
    // The seeds' floors and ceilings hold for every runbook; only a test-only policy may go below.
    if (policy.testOnlyShortDurations) return;
    checkBreakGlassFloors(policy.runbooks, ctx);
    checkRollbackFloors(policy.runbooks.rollbackToPilot, ctx);
    checkReenablementFloors(policy.runbooks.phasedReenablement, ctx);
    checkBackstopFloors(policy.runbooks.backstop, ctx);
  });

/** A quorum needs that many approvers on the roster, and a sole operator is a quorum of one. */
function checkQuorums(runbooks: Record<string, unknown>, ctx: z.RefinementCtx): void {
  for (const [name, runbook] of Object.entries(runbooks)) {
    const gate = runbook as { approvers?: string[]; soleOperator?: boolean; quorum?: number };
    if (!gate.approvers || !gate.quorum || gate.quorum === 1) continue;
    if (gate.quorum > gate.approvers.length)
      ctx.addIssue({
        code: 'custom',
        path: ['runbooks', name, 'quorum'],
        message: `needs ${gate.quorum} distinct approvers but the roster has ${gate.approvers.length}`,
      });
    if (gate.soleOperator)
      ctx.addIssue({
        code: 'custom',
        path: ['runbooks', name, 'soleOperator'],
        message: `cannot be true with quorum ${gate.quorum}: the sole-operator exception applies only with quorum 1`,
      });
  }
}

/**
 * A runbook that requires signed approvals needs a key for every approver on its roster; signed
 * freeze lifts, one for every incident responder.
 */
function checkSigners(
  runbooks: Record<string, unknown>,
  signers: Record<string, string[]>,
  ctx: z.RefinementCtx,
): void {
  const known = new Set(Object.keys(signers).map((handle) => handle.replace(/^@/, '').toLowerCase()));
  /** [runbook, the field that asks for signatures, who must sign] */
  const rosters: [string, string, string[]][] = [];
  for (const [name, runbook] of Object.entries(runbooks)) {
    const gate = runbook as { approvers?: string[]; requireSignedApprovals?: boolean };
    if (gate.requireSignedApprovals) rosters.push([name, 'requireSignedApprovals', gate.approvers ?? []]);
  }
  const incident = runbooks.incident as
    { responders: string[]; requireSignedFreezeLifts: boolean } | undefined;
  if (incident?.requireSignedFreezeLifts)
    rosters.push(['incident', 'requireSignedFreezeLifts', incident.responders]);
  for (const [name, field, handles] of rosters) {
    const missing = handles.filter((handle) => !known.has(handle.replace(/^@/, '').toLowerCase()));
    if (missing.length)
      ctx.addIssue({
        code: 'custom',
        path: ['runbooks', name, field],
        message: `needs a public key in "signers" for ${missing.join(', ')}`,
      });
  }
}

/** The policy file as written (durations as text). */
export type PolicyFile = z.input<typeof policySchema>;
/** The validated policy (durations in milliseconds). */
export type Policy = z.output<typeof policySchema>;
export type RunbookName = keyof Policy['runbooks'];

export { SEED_LIMITS } from './break-glass';
export type { BreakGlassRestorePolicy, BreakGlassRunbookName, ConsolePolicy } from './break-glass';
export type { OrchestratorPolicy, PrometheusPolicy } from './orchestrator';
export type { RollbackToPilotPolicy } from './rollback';
export type { PhasedReenablementPolicy, StagingSoakPolicy } from './reenablement';
export type { BackstopPolicy, StoryProgram } from './backstop';
export type { IncidentPolicy } from './incident';
export type { ReleaseRollbackPolicy } from './release-rollback';
export { DEFAULT_FAIL_SAFE, type FailSafePolicy } from './fail-safe';
export { NOTICE_CHANNEL_TYPES, pagingChannels } from './notifications';
export type { ChannelConfig, ChannelType, NoticeChannelType, NotificationsPolicy } from './notifications';
export { unservedRunbooks, whyUnserved, type UnservedRunbook } from './serviceable';
