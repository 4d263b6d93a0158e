import { workflowInfo } from '@temporalio/workflow';
import { utcIso } from '../../common/duration';
import { normalizeHandle } from '../../common/identity';
import { decisionText } from '../../common/signatures';
import type { ApprovalBlock } from './run-record';

/** The CLI line that approves `planHash` on this run; signed: with the key to sign it with. */
export function approveCliLine(workflowId: string, planHash: string, signed: boolean): string {
  const line = `npm run cli -- approve --workflow-id ${workflowId} --approver @you --plan-hash ${planHash}`;
  return signed ? `${line} --sign-key ~/.ssh/id_ed25519` : line;
}

/** The approval block that opens the status while a plan waits: everything an approver needs to act. */
export function approvalBlock(gate: {
  planHash: string;
  deadlineMs: number;
  mayApprove: string[];
  quorum: number;
  signed: boolean;
}): ApprovalBlock {
  const { namespace, workflowId } = workflowInfo();
  const { planHash } = gate;
  const block: ApprovalBlock = {
    state: 'waiting',
    planHash,
    expiresAt: utcIso(gate.deadlineMs),
    mayApprove: gate.mayApprove,
    argument: { approver: '@you', planHash },
    cli: approveCliLine(workflowId, planHash, gate.signed),
  };
  if (gate.quorum > 1) Object.assign(block, { quorum: gate.quorum, approvals: [] });
  if (gate.signed) {
    block.argument = {
      ...block.argument,
      signedAt: '<UTC instant you sign>',
      signature: '<armored signature>',
    };
    block.signText = decisionText({
      namespace,
      workflowId,
      decision: 'approve',
      planHash,
      signedAt: '<UTC instant you sign, e.g. 2026-12-01T03:12:00Z>',
    });
  }
  return block;
}

/** Best-effort name of who sent a (possibly malformed) signal, for the refusal record. */
export function personIn(raw: unknown): string | undefined {
  if (raw && typeof raw === 'object') {
    const candidate = (raw as Record<string, unknown>).approver ?? (raw as Record<string, unknown>).by;
    if (typeof candidate === 'string' && candidate.trim())
      return `@${normalizeHandle(candidate).slice(0, 100)}`;
  }
  return undefined;
}
