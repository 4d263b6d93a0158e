import type { NoticeRecord } from '../workflows/shared/notices';
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

interface BackstopView {
  next?: { checkpoint: string; at: string };
  checkpoints?: { name: string; at: string; state: string; verdict?: string; evaluatedLateAt?: string }[];
  evidence?: {
    checkpoint: string;
    evaluatedAt: string;
    epic?: { status: string };
    children?: unknown[];
    gateFailureIssues?: unknown[];
    probe?: { up: boolean; status?: number | null };
    unavailable?: string[];
  }[];
  waiver?: { by: string; until: string };
  story?: { reopened?: { by: string; reason: string }; waiverUsed?: { by: string; at: string } };
}

/** A backstop program: the next checkpoint and its UTC instant, each checkpoint, the evidence so far. */
function backstopLines(detail: BackstopView): string[] {
  if (!Array.isArray(detail.checkpoints)) return [];
  const lines: string[] = [];
  if (detail.next) lines.push(`next:      ${detail.next.checkpoint} at ${detail.next.at}`);
  for (const cp of detail.checkpoints)
    lines.push(
      `${cp.name.padEnd(10)} ${cp.at} ${cp.state}${cp.verdict ? `: ${cp.verdict}` : ''}${cp.evaluatedLateAt && !cp.verdict?.includes('late') ? ` (evaluated late at ${cp.evaluatedLateAt})` : ''}`,
    );
  for (const e of detail.evidence ?? [])
    lines.push(
      `evidence:  ${e.checkpoint} read ${e.evaluatedAt}: epic ${e.epic?.status ?? '?'}, ${e.children?.length ?? '?'} children, ` +
        `${e.gateFailureIssues?.length ?? '?'} gate-failure issues, restore probe ${e.probe ? (e.probe.up ? 'live' : `down (${e.probe.status ?? 'no answer'})`) : '?'}` +
        (e.unavailable?.length ? `; unreadable: ${e.unavailable.join('; ')}` : ''),
    );
  if (detail.waiver) lines.push(`waiver:    by ${detail.waiver.by} until ${detail.waiver.until}`);
  if (detail.story?.waiverUsed)
    lines.push(
      `waiver:    already used by an earlier program (${detail.story.waiverUsed.by} at ${detail.story.waiverUsed.at})`,
    );
  if (detail.story?.reopened)
    lines.push(`reopened:  by ${detail.story.reopened.by}: ${detail.story.reopened.reason}`);
  return lines;
}

export function renderStatus(status: RunbookStatus<Record<string, unknown>>): string {
  const detail = status.detail;
  const lines = [
    `${status.runbook} ${status.workflowId}  incident ${status.incidentId}`,
    `step:      ${status.step}${status.outcome ? `  (outcome: ${status.outcome})` : ''}`,
    `now:       ${status.currentDetails}`,
    ...decisionLines(detail),
    ...planLines(detail.plan as AnyPlan | undefined),
    ...backstopLines(detail),
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
  const budget = status.historyBudget;
  if (budget)
    lines.push(
      `HISTORY:   ${budget.events} events on ${budget.exceededAt}, over the run's budget: a page, reminder or retry unanswered for a day now repeats every ${budget.repeatsEvery} (Temporal ends a run at its history limit)`,
    );
  const continued = detail.continuedAsNew as { runs: number; lastAt: string; events: number } | undefined;
  if (continued)
    lines.push(
      `runs:      ${continued.runs}: its history grew long (Temporal ends a run at its history limit), so it went on in a new run with its state, last at ${continued.lastAt} (${continued.events} events)`,
    );
  lines.push(...undeliveredLines(status.notices ?? []));
  return lines.join('\n');
}

/** Notices shown, at most: the latest ones that failed somewhere (a programme sends hundreds). */
const NOTICE_LINES = 10;

/**
 * The notices a channel did not deliver: nobody was told (NOT SENT), or only some channels were
 * (notice). Delivered ones are not listed; the run goes on either way, so this is where the
 * on-call learns what was not said (RunbookNoticeUndelivered sends them here).
 */
function undeliveredLines(notices: NoticeRecord[]): string[] {
  const failing = notices.filter(
    (notice) =>
      notice.state === 'failed' || notice.deliveries.some((delivery) => delivery.state === 'failed'),
  );
  const lines = failing.slice(-NOTICE_LINES).map((notice) => {
    const failures = notice.deliveries
      .filter((delivery) => delivery.state === 'failed')
      .map((delivery) => `${delivery.channel}: ${delivery.error ?? 'failed'}`)
      .join('; ');
    if (notice.deliveries.length === 0)
      return `NOT SENT:  ${notice.requestedAt} ${notice.kind} "${notice.subject}": no channel is routed for it in the policy`;
    if (notice.state === 'failed')
      return `NOT SENT:  ${notice.requestedAt} ${notice.kind} "${notice.subject}": no channel delivered it (${failures})`;
    const delivered = notice.deliveries.filter((delivery) => delivery.state === 'delivered');
    return `notice:    ${notice.requestedAt} ${notice.kind} ${notice.state === 'sending' ? 'still sending' : `delivered on ${delivered.map((delivery) => delivery.channel).join(', ')} only`}; failed on ${failures}`;
  });
  if (failing.length > NOTICE_LINES)
    lines.unshift(
      `notices:   ${failing.length - NOTICE_LINES} earlier ones failed on some channel too (status --json lists all)`,
    );
  return lines;
}
