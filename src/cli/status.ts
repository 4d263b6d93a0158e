import type { RunbookStatus } from '../workflows/shared/run-record';

/** A run's `status` as a tired human reads it: what is happening, the plan, what is owed, what went wrong. */

interface AnyPlan {
  planHash?: string;
  current?: string[];
  next?: string[];
  target?: { id: number; version: string };
  live?: { version: string };
  diff?: {
    changed: number;
    added: number;
    removed: number;
    changes: { key: string; from?: unknown; to?: unknown }[];
  };
  key?: string;
  currentValue?: unknown;
  newValue?: unknown;
  source?: { kind: string; historyId?: number; keyCount?: number };
}

function planLines(plan: AnyPlan | undefined): string[] {
  if (!plan) return [];
  const lines: string[] = [];
  if (plan.target && plan.diff) {
    lines.push(
      `plan:      restore history id ${plan.target.id} (${plan.target.version}) over live ${plan.live?.version ?? '?'}: ` +
        `${plan.diff.changed} changed, ${plan.diff.added} added, ${plan.diff.removed} removed`,
    );
    for (const change of plan.diff.changes.slice(0, 15))
      lines.push(`           ${change.key}: ${JSON.stringify(change.from)} -> ${JSON.stringify(change.to)}`);
    if (plan.diff.changes.length > 15) lines.push(`           … ${plan.diff.changes.length - 15} more`);
  } else if (plan.key) {
    lines.push(
      `plan:      set ${plan.key}: ${JSON.stringify(plan.currentValue)} -> ${JSON.stringify(plan.newValue)}`,
    );
  } else if (plan.source) {
    lines.push(
      `plan:      re-bootstrap from ${plan.source.kind === 'history' ? `history id ${plan.source.historyId}` : `the canonical payload (${plan.source.keyCount} keys)`}`,
    );
  }
  if (plan.next && plan.current)
    lines.push(`plan:      allowlist ${plan.current.join(',')} -> ${plan.next.join(',')}`);
  if (plan.planHash) lines.push(`planHash:  ${plan.planHash}`);
  return lines;
}

function decisionLines(detail: Record<string, unknown>): string[] {
  const decision = detail.decision as
    { verdict: string; level: string | null; reasons: string[]; alternative?: string } | undefined;
  if (!decision || !Array.isArray(decision.reasons)) return [];
  return [
    `decision:  ${decision.verdict}${decision.level ? ` (${decision.level})` : ''}`,
    ...decision.reasons.map((reason) => `           - ${reason}`),
    ...(decision.alternative ? [`           instead: ${decision.alternative}`] : []),
  ];
}

export function renderStatus(status: RunbookStatus<Record<string, unknown>>): string {
  const detail = status.detail;
  const lines = [
    `${status.runbook} ${status.workflowId}  incident ${status.incidentId}`,
    `step:      ${status.step}${status.outcome ? `  (outcome: ${status.outcome})` : ''}`,
    `now:       ${status.currentDetails}`,
    ...decisionLines(detail),
    ...planLines(detail.plan as AnyPlan | undefined),
  ];
  if (typeof detail.phase === 'string' && Array.isArray(detail.reposLive))
    lines.push(`phase:     ${detail.phase}; live: ${(detail.reposLive as string[]).join(',')}`);
  const next = detail.nextAction as { what: string; at: string } | undefined;
  if (next) lines.push(`next:      ${next.what} at ${next.at}`);
  const paused = detail.paused as { by: string; reason: string; since: string } | undefined;
  if (paused)
    lines.push(`PAUSED:    since ${paused.since} by ${paused.by}: ${paused.reason} (send "resume")`);
  const approval = detail.approval as { line?: string } | undefined;
  if (approval?.line) lines.push(`approval:  ${approval.line}`);
  if (typeof detail.executesAt === 'string') lines.push(`executes:  ${detail.executesAt}`);
  const child = detail.child as { workflowId?: string; state?: string } | undefined;
  if (child?.workflowId)
    lines.push(
      `child:     ${child.workflowId} (${child.state}) — approve it with --workflow-id ${child.workflowId}`,
    );
  for (const deadline of status.deadlines)
    lines.push(`deadline:  ${deadline.name} ${deadline.dueAt} (${deadline.state})`);
  for (const refused of status.refusedAttempts)
    lines.push(
      `refused:   ${refused.at} ${refused.signal} by ${refused.by ?? '?'}: ${refused.reason}: ${refused.detail}`,
    );
  for (const finding of status.nonConformities)
    lines.push(`NON-CONFORMING: ${finding.code}: ${finding.message}`);
  for (const finding of status.flags) lines.push(`FLAG:      ${finding.code}: ${finding.message}`);
  return lines.join('\n');
}
