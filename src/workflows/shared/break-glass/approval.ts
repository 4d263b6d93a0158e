import { renderApprovalLine } from '../../../common/break-glass';
import { formatDuration, utcIso } from '../../../common/duration';
import { approveInstructions } from '../approval-block';
import type { GateDecision } from '../gates';
import type { ApprovalRecord } from './definitions';
import {
  approvalLineTemplate,
  type ApprovedWriteSpec,
  type BreakGlassContext,
  type FlowEnd,
} from './context';

/** The gate half of the ritual: ask, decide, record the approval line, pause and think. */

type Approved = Extract<GateDecision, { kind: 'approved' }>;

/** Opens the gate: the step, and the approval request to the roster with everything needed to decide. */
export function requestApproval<E, V>(ctx: BreakGlassContext, spec: ApprovedWriteSpec<E, V>): void {
  const { record, notices, gate, tag } = ctx;
  const lineTemplate = (record.status.detail.approvalLineTemplate ??= approvalLineTemplate(ctx));
  const approvalDueAt = utcIso(Date.now() + gate.approvalTimeout);
  record.enterStep(
    'awaiting_approval',
    `awaiting approval of planHash ${spec.planHash} by ${gate.approvers.join(', ')} until ${approvalDueAt}`,
  );
  const workflowId = record.status.workflowId;
  const approve = approveInstructions(workflowId, spec.planHash, gate.requireSignedApprovals ?? false);
  notices.send({
    kind: 'approval_request',
    severity: 'warning',
    audience: 'approvers',
    recipients: gate.approvers,
    subject: `${tag} approval requested by ${ctx.requestedBy}: ${spec.planSummary}`,
    body: [
      `Requested by ${ctx.requestedBy}: ${ctx.rationale}`,
      `Plan: ${spec.planSummary}.`,
      `planHash: ${spec.planHash}`,
      `Approvers: ${gate.approvers.join(', ')}${gate.soleOperator ? ' (sole operator)' : ''}; the request expires at ${approvalDueAt} (in ${formatDuration(gate.approvalTimeout)}).`,
      ...approve.lines,
      `Reject: signal "reject" with {"approver":"@you","reason":"…"}`,
      `After approval the SQL runs no earlier than ${formatDuration(gate.pause)} later (pause-and-think); "abort" {"by","reason"} stops it.`,
      `Approval line that will be recorded: ${lineTemplate}`,
    ].join('\n'),
    details: [
      ...spec.planDetails,
      { label: 'Requested by', value: ctx.requestedBy },
      { label: 'Approve by', value: approvalDueAt },
      { label: 'Pause after approval', value: formatDuration(gate.pause) },
    ],
    code: [
      { label: 'planHash', text: spec.planHash },
      { label: 'Approval line (recorded at approval)', text: lineTemplate },
      {
        label: `Approve: signal "approve" to ${workflowId}`,
        text: approve.argument,
      },
      { label: 'or from a terminal', text: approve.cli },
    ],
  });
}

/** Rejected, expired or aborted at the gate: nothing was executed. */
export function closedWithoutApproval(
  ctx: BreakGlassContext,
  decision: Exclude<GateDecision, { kind: 'approved' }>,
): FlowEnd {
  const { notices, tag, gate } = ctx;
  if (decision.kind === 'rejected') {
    notices.send({
      kind: 'rejected',
      severity: 'info',
      audience: 'incident_commander',
      subject: `${tag} rejected by ${decision.approver}`,
      body: decision.reason,
    });
    return {
      outcome: 'rejected',
      message: `rejected by ${decision.approver}: ${decision.reason}; nothing was executed`,
    };
  }
  if (decision.kind === 'expired') {
    notices.send({
      kind: 'approval_expired',
      severity: 'warning',
      audience: 'incident_commander',
      subject: `${tag} approval expired`,
      body: `No decision within ${formatDuration(gate.approvalTimeout)}; nothing was executed. Start a new run if still needed.`,
    });
    return {
      outcome: 'approval_expired',
      message: `no approval within ${formatDuration(gate.approvalTimeout)}; nothing was executed`,
    };
  }
  return {
    outcome: 'aborted',
    message: `aborted by ${decision.by} before approval: ${decision.reason}; nothing was executed`,
  };
}

/** The seed's approval line, with the approver and the approval instant filled in. */
export function recordApproval<E, V>(
  ctx: BreakGlassContext,
  spec: ApprovedWriteSpec<E, V>,
  decision: Approved,
): ApprovalRecord {
  const approvalTs = utcIso(decision.atMs);
  const rationale = decision.rationale ?? ctx.rationale;
  // Under a quorum the approval line names every approver, in order.
  const approver = decision.approvers?.join(',') ?? decision.approver;
  const approval: ApprovalRecord = {
    approver,
    ...(decision.keys ? { keys: decision.keys } : {}),
    approvedAt: approvalTs,
    planHash: spec.planHash,
    rationale,
    line: renderApprovalLine({
      incidentId: ctx.incidentId,
      story: ctx.story,
      rationale,
      approver,
      approvalTs,
      ...(decision.keys ? { keys: decision.keys } : {}),
    }),
  };
  ctx.record.status.detail.approval = approval;
  return approval;
}

/** Pause-and-think, measured from the approval instant. Returns the end of the run on an abort. */
export async function pauseAndThink(
  ctx: BreakGlassContext,
  decision: Approved,
  approval: ApprovalRecord,
): Promise<FlowEnd | undefined> {
  const { record, notices, controls, tag } = ctx;
  const executesAtMs = decision.atMs + ctx.gate.pause;
  const executesAt = utcIso(executesAtMs);
  record.status.detail.executesAt = executesAt;
  record.enterStep(
    'pause_and_think',
    `approved by ${decision.approver}; SQL executes at ${executesAt} unless aborted (signal "abort")`,
  );
  notices.send({
    details: [
      { label: 'Approved by', value: decision.approver },
      { label: 'SQL executes at (UTC)', value: executesAt },
    ],
    code: [{ label: 'Approval line', text: approval.line }],
    kind: 'pause_started',
    severity: 'warning',
    audience: 'incident_commander',
    subject: `${tag} approved by ${decision.approver}; SQL executes at ${executesAt}`,
    body: `${approval.line}\nThe transaction runs at ${executesAt} (UTC). Send "abort" {"by","reason"} before then to stop it.`,
  });
  const paused = await controls.pauseUntil(executesAtMs);
  if (paused.kind !== 'aborted') return undefined;
  notices.send({
    kind: 'aborted',
    severity: 'info',
    audience: 'incident_commander',
    subject: `${tag} aborted by ${paused.abort.by} during the pause`,
    body: `${paused.abort.reason}\nNothing was executed.`,
  });
  return {
    outcome: 'aborted',
    message: `aborted by ${paused.abort.by} during the pause: ${paused.abort.reason}; nothing was executed`,
  };
}
