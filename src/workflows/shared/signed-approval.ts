import {
  CancelledFailure,
  proxyActivities,
  proxyLocalActivities,
  TemporalFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { signatureCheck, signatureCheckLocal } from '../activity-options';
import { utcIso } from '../../common/duration';
import { describeFailure } from './notices';
import { isPatched, PATCHES } from './patches';
import type { RefusalReason } from './run-record';

const remote = proxyActivities<RunbookActivities>(signatureCheck);
const local = proxyLocalActivities<RunbookActivities>(signatureCheckLocal);

const DEFAULT_MAX_AGE_MS = 15 * 60_000;

export type SignedApprovalVerdict =
  { ok: true; fingerprint: string } | { ok: false; reason: RefusalReason; detail: string };

/**
 * A signed approval is checked outside workflow code (an activity running ssh-keygen against the
 * policy's public keys): over this namespace, run, decision and planHash, recent, used once.
 */
export async function verifySignedApproval(
  approval: { approver: string; planHash: string; signature?: string; signedAt?: string },
  maxAgeMs: number | undefined,
  /** The decision the signature covers (a soak waiver signs its own, not "approve"). */
  decision = 'approve',
): Promise<SignedApprovalVerdict> {
  if (!approval.signature || !approval.signedAt)
    return {
      ok: false,
      reason: 'signature_required',
      detail:
        'this runbook requires signed approvals: add "signature" and "signedAt" (CLI: approve … --sign-key <your key>), see the approval block',
    };
  const info = workflowInfo();
  // Runs from before the patch replay their checks as activities (see signatureCheckLocal).
  const { verifyDecisionSignature } = isPatched(PATCHES.signatureCheckLocal) ? local : remote;
  try {
    return await verifyDecisionSignature({
      by: approval.approver,
      namespace: info.namespace,
      workflowId: info.workflowId,
      runId: info.runId,
      decision,
      planHash: approval.planHash,
      signedAt: approval.signedAt,
      signature: approval.signature,
      maxAgeMs: maxAgeMs ?? DEFAULT_MAX_AGE_MS,
      arrivedAt: utcIso(Date.now()),
    });
  } catch (error) {
    // A check that failed for good: an activity's failure comes as an ActivityFailure, a local
    // activity's as its own cause (an ApplicationFailure, a timeout). The run's cancellation goes on.
    if (!(error instanceof TemporalFailure) || error instanceof CancelledFailure) throw error;
    return {
      ok: false,
      reason: 'signature_unverifiable',
      detail: `the signature could not be checked: ${describeFailure(error)}`,
    };
  }
}
