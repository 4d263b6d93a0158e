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

/** The argument of "approve" for `planHash`; signed: with the signature's fields to fill in. */
export function approveArgument(planHash: string, signed: boolean): ApprovalBlock['argument'] {
  const argument = { approver: '@you', planHash };
  return signed
    ? { ...argument, signedAt: '<UTC instant you sign>', signature: '<armored signature>' }
    : argument;
}

/**
 * How an approval request tells its approvers to approve `planHash` on this run: the signal's
 * argument, the CLI line and the lines of its text (with how to sign, when approvals are signed).
 */
export function approveInstructions(
  workflowId: string,
  planHash: string,
  signed: boolean,
): { argument: string; cli: string; lines: string[] } {
  const argument = JSON.stringify(approveArgument(planHash, signed));
  const cli = approveCliLine(workflowId, planHash, signed);
  return {
    argument,
    cli,
    lines: [
      `Approve: signal "approve" to workflow ${workflowId} with ${argument}`,
      ...(signed
        ? [
            "  Approvals must be signed: sign the approval block's signText (the status query) with `ssh-keygen -Y sign -n durable-runbooks -f <your key>`, or let the CLI line below do it.",
          ]
        : []),
      `  CLI: ${cli}`,
    ],
  };
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
    argument: approveArgument(planHash, gate.signed),
    cli: approveCliLine(workflowId, planHash, gate.signed),
  };
  if (gate.quorum > 1) Object.assign(block, { quorum: gate.quorum, approvals: [] });
  if (gate.signed) {
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
